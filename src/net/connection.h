// net/connection.h: one client TCP connection on its loop.
//
// Reads into a buffer, parses requests with resp::RequestParser and hands
// each one to the Handler, which appends its reply to out(). Replies are
// flushed at the loop's turn end (one uv_try_write, then uv_write for what
// the socket did not take), so a pipelined batch leaves in one write.
//
// A handler may answer kWait: the command is kept unconsumed, reading stops
// (backpressure), and resume() retries it later, e.g. once the session's
// writes are durable. A connection is freed only when it is closed and no
// one holds it (hold/release), so the writer's late replies never touch
// freed memory. Loop thread only.
#pragma once

#include <uv.h>

#include <span>
#include <string>
#include <string_view>

#include "resp/parser.h"

namespace lmkv::net {

class Connection;
class Loop;

enum class Verdict {
  kNext,   // the command is done; parse the next one
  kWait,   // keep the command, stop reading, retry on resume()
  kClose,  // flush the output, then close
};

// What a connection does with its traffic; implemented by server/.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void on_open(Connection& c) = 0;
  virtual Verdict on_command(Connection& c, std::span<const std::string_view> args) = 0;
  virtual void on_close(Connection& c) = 0;
};

class Connection {
 public:
  // Takes an accepted handle's place: `client` must be initialised on `loop`.
  static void accept(Loop& loop, uv_stream_t* server, Handler& handler,
                     const resp::ParserLimits& limits);

  Loop& loop() { return loop_; }
  std::string& out() { return out_; }
  void* user = nullptr;  // the handler's per-connection state
  const std::string& peer() const { return peer_; }
  const std::string& local() const { return local_; }
  int fd() const;

  // Queues a flush at turn end (call after appending to out()).
  void mark_dirty();
  // Continues after a kWait.
  void resume();
  // Flushes what is queued, then closes.
  void close_after_flush();
  // Closes now, dropping unsent output.
  void close();
  bool closing() const { return closing_; }

  void hold() { ++refs_; }
  void release();

  // Writes out() to the socket. Loop thread, called at turn end.
  void flush();

 private:
  Connection(Loop& loop, Handler& handler, const resp::ParserLimits& limits);
  ~Connection() = default;
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);
  static void on_closed(uv_handle_t* h);
  void process();
  void protocol_error(const std::string& message);
  void start_reading();
  void stop_reading();

  Loop& loop_;
  Handler& handler_;
  uv_tcp_t tcp_;
  uv_write_t write_req_;
  resp::RequestParser parser_;
  std::string in_;         // read buffer; its size() is its capacity
  size_t in_start_ = 0;    // unconsumed request bytes are [in_start_, in_end_)
  size_t in_end_ = 0;
  std::string out_;        // replies not yet handed to the socket
  std::string sending_;    // bytes of the uv_write in flight
  std::string peer_, local_;
  int refs_ = 1;           // the loop's own reference, dropped on close
  bool writing_ = false;
  bool dirty_ = false;
  bool waiting_ = false;   // a command answered kWait
  bool reading_ = false;
  bool close_after_flush_ = false;
  bool closing_ = false;
  bool opened_ = false;
};

}  // namespace lmkv::net
