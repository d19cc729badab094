#include "net/connection.h"

#include <netinet/in.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "base/log.h"
#include "net/loop.h"

namespace lmkv::net {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// An idle connection's read buffer above this size is given back.
constexpr size_t kKeepInput = 4 * kReadChunk;

std::string format_addr(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(a, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

Connection::Connection(Loop& loop, Handler& handler, const resp::ParserLimits& limits)
    : loop_(loop), handler_(handler), parser_(limits) {
  tcp_.data = this;
  write_req_.data = this;
  last_io_ms_ = uv_now(loop.uv());
}

Connection::~Connection() { std::free(in_); }

void Connection::accept(Loop& loop, uv_stream_t* server, Handler& handler,
                        const resp::ParserLimits& limits) {
  auto* c = new Connection(loop, handler, limits);
  uv_tcp_init(loop.uv(), &c->tcp_);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0) {
    c->closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_), &Connection::on_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    c->peer_ = format_addr(ss);
  len = sizeof ss;
  if (uv_tcp_getsockname(&c->tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    c->local_ = format_addr(ss);
  c->opened_ = true;
  handler.on_open(*c);
  if (!c->closing_ && !c->close_after_flush_) c->start_reading();
}

int Connection::fd() const {
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd);
  return fd;
}

void Connection::start_reading() {
  if (reading_ || closing_) return;
  reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Connection::on_alloc,
                &Connection::on_read);
}

void Connection::stop_reading() {
  if (!reading_) return;
  reading_ = false;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

// Room for the next read. For a large bulk the buffer grows towards the
// size the parser announced, but at most doubling what has arrived, so a
// client that declares a huge bulk and sends a few bytes (slowloris) costs
// a few pages, not the declared size; the growth is still geometric, and
// realloc of a large (mmap'd) buffer remaps pages instead of copying them.
void Connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(h->data);
  // Unconsumed bytes stay at the front (the parser keeps offsets from the
  // request start), so compact before growing.
  if (c->in_start_ > 0) {
    std::memmove(c->in_, c->in_ + c->in_start_, c->in_end_ - c->in_start_);
    c->in_end_ -= c->in_start_;
    c->in_start_ = 0;
  }
  const size_t pending = c->in_end_;
  size_t want = kReadChunk;
  if (c->parser_.hint() > pending)
    want = std::clamp(c->parser_.hint() - pending, kReadChunk,
                      std::clamp(pending, kReadChunk, size_t{64} << 20));
  // Grow only when the room left is short: realloc may copy the whole old
  // buffer, touching pages a slow sender never filled (slowloris would then
  // cost the full chunk per connection).
  if (c->in_cap_ < pending + want && c->in_cap_ - pending < kReadChunk / 4) {
    void* grown = std::realloc(c->in_, pending + want);
    if (grown == nullptr) {
      // libuv reports UV_ENOBUFS to on_read, which closes the connection.
      *buf = uv_buf_init(nullptr, 0);
      return;
    }
    c->in_ = static_cast<char*>(grown);
    c->in_cap_ = pending + want;
  }
  *buf = uv_buf_init(c->in_ + pending, static_cast<unsigned>(c->in_cap_ - pending));
}

char* Connection::lend_input(std::span<const std::string_view> args) {
  for (std::string_view a : args)
    if (a.data() < in_ || a.data() + a.size() > in_ + in_end_) return nullptr;  // inline form
  lent_ = true;
  return in_;
}

// After lend_input: a fresh buffer with the bytes after the command.
void Connection::replace_lent_input(size_t command_end) {
  lent_ = false;
  const size_t rest = in_end_ - command_end;
  char* fresh = static_cast<char*>(std::malloc(std::max(rest, kReadChunk)));
  if (fresh == nullptr) {  // the old buffer is the request's now: forget it, then fail
    in_ = nullptr;
    in_cap_ = in_start_ = in_end_ = 0;
    throw std::bad_alloc();
  }
  std::memcpy(fresh, in_ + command_end, rest);
  in_ = fresh;
  in_cap_ = std::max(rest, kReadChunk);
  // The parse loop goes on from the command's end: offset 0 of the new buffer.
  in_start_ = 0;
  in_end_ = rest;
}

void Connection::free_input() {
  std::free(in_);
  in_ = nullptr;
  in_cap_ = 0;
  in_start_ = in_end_ = 0;
}

void Connection::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t*) {
  auto* c = static_cast<Connection*>(s->data);
  if (n < 0) {
    c->close();
    return;
  }
  c->in_end_ += static_cast<size_t>(n);
  if (n == 0) return;
  c->last_io_ms_ = uv_now(c->loop_.uv());
  const size_t pending = c->input_pending();
  c->peak_in_ = std::max(c->peak_in_, pending);
  // Redis closes such a client without a reply (client-query-buffer-limit).
  if (const int64_t limit = c->handler_.query_buffer_limit();
      limit > 0 && pending > static_cast<uint64_t>(limit)) {
    log::warning("Closing client that reached max query buffer length: addr={} qbuf={}",
                 c->peer_, pending);
    c->close();
    return;
  }
  try {
    c->process();
  } catch (const std::exception& e) {
    // A bug or allocation failure: drop this client, keep serving others.
    log::warning("client {}: closed after internal error: {}", c->peer_, e.what());
    c->close();
  }
}

void Connection::process() {
  while (!waiting_ && !closing_ && !close_after_flush_) {
    if (output_pending() >= kOutputHighWater) {
      // The client is not reading its replies fast enough: leave the rest
      // of its requests unparsed until the socket has taken some output.
      throttled_ = true;
      stop_reading();
      break;
    }
    const char* data = in_ + in_start_;
    size_t len = in_end_ - in_start_;
    if (len == 0) break;
    size_t consumed = 0;
    auto status = parser_.parse(data, len, &consumed);
    if (status == resp::RequestParser::Status::kNeedMore) break;
    if (status == resp::RequestParser::Status::kError) {
      protocol_error(parser_.error());
      break;
    }
    if (status == resp::RequestParser::Status::kEmpty) {
      in_start_ += consumed;
      continue;
    }
    const auto& args = parser_.args();
    Verdict v = handler_.on_command(*this, std::span<const std::string_view>(args));
    if (lent_) {  // the command was taken, buffer and all (never with kWait)
      replace_lent_input(in_start_ + consumed);
    } else if (v == Verdict::kWait) {
      waiting_ = true;
      stop_reading();
      break;
    } else {
      in_start_ += consumed;
    }
    if (v == Verdict::kClose) close_after_flush();
  }
  if (in_start_ == in_end_) {
    in_start_ = in_end_ = 0;
    // Give back the memory of a large request once it is done.
    if (in_cap_ > kKeepInput) free_input();
  }
  if (!out_.empty()) mark_dirty();
}

void Connection::resume() {
  if (!waiting_ || closing_) return;
  waiting_ = false;
  continue_processing();
}

// Parses what was left unparsed by a kWait or a throttle, then reads again
// unless something paused it anew.
void Connection::continue_processing() {
  throttled_ = false;
  try {
    process();
  } catch (const std::exception& e) {
    log::warning("client {}: closed after internal error: {}", peer_, e.what());
    close();
    return;
  }
  if (!waiting_ && !throttled_ && !close_after_flush_) start_reading();
}

void Connection::protocol_error(const std::string& message) {
  // Redis replies "-ERR Protocol error: ...", then closes after the flush.
  out_ += "-ERR ";
  out_ += message;
  out_ += "\r\n";
  log::verbose("client {}: {}", peer_, message);
  close_after_flush();
}

void Connection::mark_dirty() {
  if (dirty_ || closing_) return;
  dirty_ = true;
  loop_.mark_dirty(this);
}

void Connection::close_after_flush() {
  close_after_flush_ = true;
  stop_reading();
  mark_dirty();
}

// Redis's client-output-buffer-limit: over the hard limit, or over the soft
// limit for more than soft_seconds. `now` is loop time in ms.
bool Connection::output_over_limit(uint64_t now) {
  const OutputLimit limit = handler_.output_limit(*this);
  const size_t used = output_pending();
  if (limit.hard > 0 && used >= static_cast<uint64_t>(limit.hard)) return true;
  if (limit.soft > 0 && used >= static_cast<uint64_t>(limit.soft)) {
    if (soft_since_ms_ == 0) soft_since_ms_ = std::max<uint64_t>(now, 1);
    return now - soft_since_ms_ > static_cast<uint64_t>(limit.soft_seconds) * 1000;
  }
  soft_since_ms_ = 0;
  return false;
}

// Redis logs the client and drops its unsent output.
void Connection::close_for_output_limit() {
  log::warning("Client addr={} closed for overcoming of output buffer limits ({} bytes pending)",
               peer_, output_pending());
  close();
}

void Connection::flush() {
  dirty_ = false;
  if (closing_) return;
  peak_out_ = std::max(peak_out_, output_pending());
  if (output_over_limit(uv_now(loop_.uv()))) return close_for_output_limit();
  if (writing_) return;
  if (out_.empty()) {
    if (close_after_flush_) close();
    return;
  }
  uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
  if (n < 0 && n != UV_EAGAIN) {
    close();
    return;
  }
  size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
  if (sent > 0) last_io_ms_ = uv_now(loop_.uv());
  if (sent == out_.size()) {
    out_.clear();
    if (close_after_flush_) {
      close();
    } else if (throttled_) {
      // Parse on in a later turn (the mailbox wakes the loop), so one fast
      // reader cannot keep the loop to itself.
      hold();
      loop_.post([this] {
        if (!closing_ && throttled_) continue_processing();
        release();
      });
    }
    return;
  }
  // The socket is full: hand the rest to uv_write and keep appending to out_.
  sending_.assign(out_, sent);
  out_.clear();
  writing_ = true;
  uv_buf_t rest = uv_buf_init(sending_.data(), static_cast<unsigned>(sending_.size()));
  if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &rest, 1,
               &Connection::on_written) != 0) {
    writing_ = false;
    close();
  }
}

void Connection::on_written(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  c->writing_ = false;
  c->sending_.clear();
  if (status < 0) {
    c->close();
    return;
  }
  c->last_io_ms_ = uv_now(c->loop_.uv());
  if (!c->out_.empty() || c->close_after_flush_) c->flush();
  else if (c->throttled_) c->continue_processing();
}

std::pair<size_t, size_t> Connection::take_peaks() {
  std::pair<size_t, size_t> peaks{std::max(peak_in_, input_pending()),
                                  std::max(peak_out_, output_pending())};
  peak_in_ = peak_out_ = 0;
  return peaks;
}

void Connection::cron(uint64_t now) {
  if (closing_) return;
  // Output that stays above the soft limit is noticed here even when the
  // connection produces nothing new.
  if (output_over_limit(now)) return close_for_output_limit();
  // An idle client keeps no read buffer (up to kKeepInput of it otherwise).
  if (in_start_ == in_end_ && in_ != nullptr) free_input();
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  stop_reading();
  loop_.forget(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Connection::on_closed);
}

void Connection::on_closed(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (c->opened_) c->handler_.on_close(*c);
  c->release();
}

void Connection::release() {
  if (--refs_ == 0) delete this;
}

}  // namespace lmkv::net
