// The request parser against fixtures fed whole, split at every offset into
// two chunks, and one byte at a time; plus error texts, limits, resumption
// cost and a randomised consistency check.
#define BOOST_TEST_MODULE resp
#include "resp/parser.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace lmkv::resp;
using namespace std::string_literals;
using Status = RequestParser::Status;
using Command = std::vector<std::string>;  // empty = a kEmpty result

namespace {

// What a connection saw after feeding some chunks.
struct Outcome {
  std::vector<Command> commands;
  std::string error;     // empty when there was none
  size_t error_fed = 0;  // bytes fed when the error was reported
  size_t leftover = 0;   // unconsumed bytes left in the buffer at the end
};

std::string show(const Outcome& o) {
  std::string s = "{";
  for (const Command& c : o.commands) {
    s += "[";
    for (const std::string& a : c) s += "'" + a + "' ";
    s += "]";
  }
  return s + " error='" + o.error + "' leftover=" + std::to_string(o.leftover) + "}";
}

bool same(const Outcome& a, const Outcome& b) {
  // After an error the unread bytes depend on how they arrived; the
  // connection closes anyway.
  return a.commands == b.commands && a.error == b.error &&
         (!a.error.empty() || a.leftover == b.leftover);
}

// Simulates a connection: appends each chunk to its buffer, parses until
// the parser needs more, and drops consumed bytes from the front. With
// move_buffer the buffer moves to a new address before every call.
Outcome feed(const std::vector<std::string_view>& chunks, const ParserLimits& limits = {},
             bool move_buffer = false) {
  RequestParser parser(limits);
  Outcome out;
  std::string buf;
  size_t fed = 0;
  for (std::string_view chunk : chunks) {
    buf.append(chunk);
    fed += chunk.size();
    if (move_buffer) {
      std::string moved;
      moved.reserve(buf.size() + 1);
      moved.assign(buf);
      buf.swap(moved);
    }
    while (true) {
      size_t consumed = 12345;
      const Status st = parser.parse(buf.data(), buf.size(), &consumed);
      if (st == Status::kNeedMore) {
        if (consumed != 0) BOOST_FAIL("kNeedMore with consumed != 0");
        if (parser.hint() != 0 && parser.hint() <= buf.size())
          BOOST_FAIL("hint not beyond the buffered bytes");
        break;
      }
      if (st == Status::kError) {
        if (parser.error().empty()) BOOST_FAIL("kError without a message");
        out.error = parser.error();
        out.error_fed = fed;
        out.leftover = buf.size();
        return out;
      }
      if (consumed == 0 || consumed > buf.size()) BOOST_FAIL("bad consumed " << consumed);
      Command cmd;
      for (std::string_view a : parser.args()) {
        // Multibulk arguments are views into the caller's bytes.
        if (buf[0] == '*' && (a.data() < buf.data() || a.data() + a.size() > buf.data() + consumed))
          BOOST_FAIL("multibulk argument is not a view into the request");
        cmd.emplace_back(a);
      }
      if ((st == Status::kEmpty) != cmd.empty()) BOOST_FAIL("kEmpty iff no arguments");
      out.commands.push_back(std::move(cmd));
      buf.erase(0, consumed);
    }
  }
  out.leftover = buf.size();
  return out;
}

Outcome whole(std::string_view in, const ParserLimits& limits = {}) { return feed({in}, limits); }

Outcome bytewise(std::string_view in, const ParserLimits& limits = {}, bool move = false) {
  std::vector<std::string_view> chunks;
  for (size_t i = 0; i < in.size(); ++i) chunks.push_back(in.substr(i, 1));
  return feed(chunks, limits, move);
}

// Feeds `in` whole, split at every offset, and byte by byte (in place and
// with a moving buffer); every way must give `expected`. For errors, the
// error must not be reported before `bad_at` bytes have been fed.
void check_all_ways(std::string_view in, const Outcome& expected, const ParserLimits& limits = {},
                    size_t bad_at = 0) {
  auto verify = [&](const Outcome& got, const std::string& how) {
    if (!same(got, expected))
      BOOST_FAIL(how << ": got " << show(got) << " expected " << show(expected));
    if (!expected.error.empty() && got.error_fed < bad_at)
      BOOST_FAIL(how << ": error after " << got.error_fed << " bytes, before byte " << bad_at);
  };
  verify(whole(in, limits), "whole");
  for (size_t k = 1; k < in.size(); ++k)
    verify(feed({in.substr(0, k), in.substr(k)}, limits), "split at " + std::to_string(k));
  verify(bytewise(in, limits), "bytewise");
  verify(bytewise(in, limits, true), "bytewise, moving buffer");
}

Outcome commands(std::vector<Command> cmds, size_t leftover = 0) {
  Outcome o;
  o.commands = std::move(cmds);
  o.leftover = leftover;
  return o;
}

Outcome failure(std::string error, std::vector<Command> before = {}, size_t leftover = 0) {
  Outcome o;
  o.commands = std::move(before);
  o.error = std::move(error);
  o.leftover = leftover;
  return o;
}

// An error fixture: the input, the error, and how many bytes must have
// arrived before the input can be known to be wrong.
void check_error(std::string_view in, const std::string& error, size_t bad_at,
                 const ParserLimits& limits = {}, std::vector<Command> before = {}) {
  BOOST_TEST_CONTEXT("input '" << in << "'") {
    Outcome w = whole(in, limits);
    check_all_ways(in, failure(error, before, w.leftover), limits, bad_at);
    // The prefix just short of the offending byte is not an error.
    BOOST_TEST(whole(in.substr(0, bad_at - 1), limits).error.empty());
  }
}

ParserLimits small_limits() {
  ParserLimits l;
  l.max_bulk_len = 8;
  l.max_multibulk_len = 4;
  l.max_inline_len = 16;
  return l;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parser)

BOOST_AUTO_TEST_CASE(pipelined_multibulk) {
  check_all_ways(
      "*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
      "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
      commands({{"PING"}, {"SET", "k", "hello"}, {"GET", "k"}}));
}

BOOST_AUTO_TEST_CASE(partial_command_is_left_unconsumed) {
  check_all_ways("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGE", commands({{"PING"}}, 10));
  check_all_ways("PING\r\nECHO hel", commands({{"PING"}}, 8));
}

BOOST_AUTO_TEST_CASE(binary_args_with_nul_and_crlf) {
  check_all_ways("*2\r\n$3\r\na\0b\r\n$4\r\n\r\n\r\n\r\n"s, commands({{"a\0b"s, "\r\n\r\n"}}));
}

BOOST_AUTO_TEST_CASE(empty_args_and_empty_requests) {
  check_all_ways("*0\r\n*-1\r\n*-10\r\n*3\r\n$0\r\n\r\n$0\r\n\r\n$1\r\nx\r\n",
                 commands({{}, {}, {}, {"", "", "x"}}));
}

BOOST_AUTO_TEST_CASE(inline_with_quotes) {
  check_all_ways("SET k \"a b\\x41\\n\"\r\nGET 'it\\'s'\r\nPING\n  \r\n\r\n\n",
                 commands({{"SET", "k", "a bA\n"}, {"GET", "it's"}, {"PING"}, {}, {}, {}}));
}

BOOST_AUTO_TEST_CASE(inline_quoting_rules) {
  // A quote continues a word; escapes in double quotes; none in single
  // quotes but \'; \v is whitespace between words but not inside one.
  check_all_ways("foo\"bar\" \"\" '' \"\\t\\\\\\\"\\q\" 'a\\b' x\vy \v z\r\n",
                 commands({{"foobar", "", "", "\t\\\"q", "a\\b", "x\vy", "z"}}));
  check_all_ways("ECHO \"\\x41\\x4a\\xzz\\x4\" \"\\r\\b\\a\"\n",
                 commands({{"ECHO", "AJxzzx4", "\r\b\a"}}));
  // Tabs separate; a lone '\r' in the middle separates too.
  check_all_ways("a\tb\rc\r\n", commands({{"a", "b", "c"}}));
}

BOOST_AUTO_TEST_CASE(nul_before_a_line_end_hides_it_like_redis) {
  // Redis finds line ends with strchr, so a NUL before the '\n' (inline) or
  // '\r' (headers) hides it: nothing more parses until the request is too
  // big (checked against redis-server 7.0.15).
  check_all_ways("a b\0c d\r\nPING\r\n"s, commands({}, 15));
  check_all_ways("\0PING\r\n"s, commands({}, 7));
  check_all_ways("*1\r\n$3\r\nab\0\r\n*1\0\r\n"s, commands({{"ab\0"s}}, 5));
  check_all_ways("*1\r\n\0\r\n$1\r\na\r\n"s, commands({}, 14));
  const ParserLimits l = small_limits();
  check_error("a b\0c d\r\nPING\r\nPING\r\n"s, "Protocol error: too big inline request", 17, l);
  check_error("*1\r\n$3\r\nab\0\r\n*1\0\r\n$3\r\nabc\r\nxxxx"s,
              "Protocol error: too big mbulk count string", 30, l, {{"ab\0"s}});
  check_error("*1\r\n\0\r\n$1\r\na\r\nxxxxxxx"s, "Protocol error: too big bulk count string", 21,
              l);
}

BOOST_AUTO_TEST_CASE(mixed_inline_and_multibulk) {
  check_all_ways("PING\r\n*1\r\n$4\r\nPING\r\nECHO x\n*1\r\n$1\r\n*\r\n",
                 commands({{"PING"}, {"PING"}, {"ECHO", "x"}, {"*"}}));
}

BOOST_AUTO_TEST_CASE(large_bulk) {
  std::string payload;
  for (size_t i = 0; i < 8000; ++i) payload += static_cast<char>(i % 256);
  const std::string in = "*2\r\n$3\r\nSET\r\n$8000\r\n" + payload + "\r\n*1\r\n$4\r\nPING\r\n";
  check_all_ways(in, commands({{"SET", payload}, {"PING"}}));
}

BOOST_AUTO_TEST_CASE(inline_line_length_limit) {
  const ParserLimits l = small_limits();
  check_all_ways("0123456789abcdef\n", commands({{"0123456789abcdef"}}), l);
  check_all_ways("0123456789abcde\r\n", commands({{"0123456789abcde"}}), l);
  check_error("0123456789abcdef\r\n", "Protocol error: too big inline request", 17, l);
  check_error("0123456789abcdefg", "Protocol error: too big inline request", 17, l);
}

BOOST_AUTO_TEST_CASE(multibulk_errors) {
  const std::string inv_mb = "Protocol error: invalid multibulk length";
  check_error("*abc\r\n", inv_mb, 2);
  check_error("*\r\n", inv_mb, 2);
  check_error("*1x\r\n", inv_mb, 3);
  check_error("*01\r\n", inv_mb, 3);
  check_error("*1\r\r\n", inv_mb, 4);
  check_error("*3000000000\r\n", inv_mb, 8);
  check_error("*5\r\n", inv_mb, 2, small_limits());
  // Errors after valid commands keep the commands.
  check_error("*1\r\n$4\r\nPING\r\n*x\r\n", inv_mb, 16, {}, {{"PING"}});
}

BOOST_AUTO_TEST_CASE(bulk_errors) {
  const std::string inv_b = "Protocol error: invalid bulk length";
  check_error("*1\r\n$-10\r\n", inv_b, 6);
  check_error("*1\r\n$-1\r\n", inv_b, 6);
  check_error("*1\r\n$abc\r\n", inv_b, 6);
  check_error("*1\r\n$\r\n", inv_b, 6);
  check_error("*1\r\n$1\rx", inv_b, 8);
  check_error("*1\r\n$1000000000\r\n", inv_b, 15);
  check_error("*1\r\n$9\r\n", inv_b, 6, small_limits());
  check_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", inv_b, 31);
}

BOOST_AUTO_TEST_CASE(expected_dollar) {
  check_error("*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'", 5);
  check_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "Protocol error: expected '$', got 'f'",
              21);
  check_error("*1\r\n\r\n", "Protocol error: expected '$', got ' '", 5);
  check_error("*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'", 12);
}

BOOST_AUTO_TEST_CASE(missing_crlf_after_bulk) {
  const std::string text = "Protocol error: expected CRLF after bulk data";
  check_error("*1\r\n$3\r\nabcX\r\n", text, 12);
  check_error("*1\r\n$3\r\nabc\rX", text, 13);
  check_error("*1\r\n$3\r\nabcd", text, 12);
  check_error("*1\r\n$0\r\nx", text, 9);
}

BOOST_AUTO_TEST_CASE(header_lines_too_long) {
  const ParserLimits l = small_limits();
  check_error("*\0AAAAAAAAAAAAAAAAAAAAAAAA"s, "Protocol error: too big mbulk count string", 17, l);
  check_error("*1\r\n$\0AAAAAAAAAAAAAAAAAAAAAAAA"s, "Protocol error: too big bulk count string", 21,
              l);
}

BOOST_AUTO_TEST_CASE(unbalanced_quotes) {
  const std::string text = "Protocol error: unbalanced quotes in request";
  check_error("SET \"abc\r\n", text, 10);
  check_error("GET 'abc\r\n", text, 10);
  check_error("a\"b c\"d\r\n", text, 7);
  check_error("x 'a'b\n", text, 6);
  check_error("set \"\"\"test-key\"\"\" test-value\r\nping\r\n", text, 7);
}

BOOST_AUTO_TEST_CASE(error_is_sticky) {
  RequestParser parser;
  size_t consumed = 0;
  BOOST_TEST((parser.parse("*x\r\n", 4, &consumed) == Status::kError));
  const std::string ping = "*1\r\n$4\r\nPING\r\n";
  BOOST_TEST((parser.parse(ping.data(), ping.size(), &consumed) == Status::kError));
  BOOST_TEST(consumed == 0u);
  BOOST_TEST(parser.args().empty());
}

BOOST_AUTO_TEST_CASE(hint_is_the_total_size_of_a_partial_bulk) {
  RequestParser parser;
  const std::string head = "*2\r\n$3\r\nSET\r\n$100000\r\n";
  std::string buf = head + "0123456789";
  size_t consumed = 0;
  BOOST_TEST((parser.parse(buf.data(), buf.size(), &consumed) == Status::kNeedMore));
  BOOST_TEST(parser.hint() == head.size() + 100000 + 2);
  buf.append(100000 - 10, 'x');
  BOOST_TEST((parser.parse(buf.data(), buf.size(), &consumed) == Status::kNeedMore));
  BOOST_TEST(parser.hint() == head.size() + 100000 + 2);
  buf += "\r\n";
  BOOST_TEST((parser.parse(buf.data(), buf.size(), &consumed) == Status::kCommand));
  BOOST_TEST(consumed == buf.size());
  BOOST_TEST(parser.hint() == 0u);
  BOOST_TEST(parser.args().size() == 2u);
  BOOST_TEST(parser.args()[1].size() == 100000u);
}

BOOST_AUTO_TEST_CASE(set_limits_applies_to_the_next_request) {
  RequestParser parser;
  size_t consumed = 0;
  const std::string cmd = "*1\r\n$9\r\n123456789\r\n";
  BOOST_TEST((parser.parse(cmd.data(), cmd.size(), &consumed) == Status::kCommand));
  parser.set_limits(small_limits());
  BOOST_TEST((parser.parse(cmd.data(), cmd.size(), &consumed) == Status::kError));
  BOOST_TEST(parser.error() == "Protocol error: invalid bulk length");
}

// Resuming must cost only the new bytes: many small arguments and a big
// bulk arriving in small pieces take about as long as arriving at once (a
// parser that rescanned from the request start would be ~1000x slower).
namespace {

double seconds_to_feed(const std::vector<std::string_view>& chunks, Outcome* out) {
  const auto start = std::chrono::steady_clock::now();
  *out = feed(chunks);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<std::string_view> pieces(std::string_view in, size_t size) {
  std::vector<std::string_view> chunks;
  for (size_t i = 0; i < in.size(); i += size) chunks.push_back(in.substr(i, size));
  return chunks;
}

}  // namespace

BOOST_AUTO_TEST_CASE(resumes_without_rescanning) {
  const size_t argc = 200000;
  std::string in = "*" + std::to_string(argc) + "\r\n";
  for (size_t i = 0; i < argc; ++i) in += "$5\r\nabcde\r\n";
  Outcome o;
  const double at_once = seconds_to_feed({in}, &o);
  const double in_pieces = seconds_to_feed(pieces(in, 1000), &o);
  BOOST_TEST_REQUIRE(o.commands.size() == 1u);
  BOOST_TEST(o.commands[0].size() == argc);
  BOOST_TEST(o.commands[0].back() == "abcde");
  BOOST_TEST(in_pieces < 10 * at_once + 0.5, in_pieces << "s vs " << at_once << "s at once");

  const size_t big = 16 * 1024 * 1024;
  const std::string bulk_in =
      "*1\r\n$" + std::to_string(big) + "\r\n" + std::string(big, 'z') + "\r\n";
  const double bulk_at_once = seconds_to_feed({bulk_in}, &o);
  const double bulk_in_pieces = seconds_to_feed(pieces(bulk_in, 4096), &o);
  BOOST_TEST_REQUIRE(o.commands.size() == 1u);
  BOOST_TEST(o.commands[0][0].size() == big);
  BOOST_TEST(bulk_in_pieces < 10 * bulk_at_once + 0.5,
             bulk_in_pieces << "s vs " << bulk_at_once << "s at once");
}

// Random inputs over the protocol's alphabet: whatever the parser decides,
// it must decide the same way however the bytes are split.
BOOST_AUTO_TEST_CASE(random_inputs_are_split_independent) {
  const std::string alphabet = "*$\r\n\r\n0123-9 a\"'\\x\0\t"s;
  const std::vector<std::string> seeds = {"*2\r\n$1\r\na\r\n$2\r\nbc\r\n",
                                          "SET a \"b\\x41\" 'c'\r\n", "*1\r\n$0\r\n\r\n", "*-1\r\n",
                                          "\r\n"};
  std::mt19937 rng(12345);
  for (int round = 0; round < 3000; ++round) {
    std::string in;
    const size_t n = rng() % 48;
    for (size_t i = 0; i < n; ++i) {
      if (rng() % 4 == 0) {
        in += seeds[rng() % seeds.size()];
      } else {
        in += alphabet[rng() % alphabet.size()];
      }
    }
    for (const ParserLimits& limits : {ParserLimits{}, small_limits()}) {
      const Outcome expected = whole(in, limits);
      const Outcome by_byte = bytewise(in, limits, true);
      if (!same(by_byte, expected))
        BOOST_FAIL("bytewise differs: " << show(by_byte) << " vs " << show(expected));
      const size_t k = in.empty() ? 0 : rng() % in.size();
      const Outcome split =
          feed({std::string_view(in).substr(0, k), std::string_view(in).substr(k)}, limits);
      if (!same(split, expected))
        BOOST_FAIL("split differs: " << show(split) << " vs " << show(expected));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
