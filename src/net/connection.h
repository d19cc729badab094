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
//
// Limits (issue 2). Parsing also pauses, and reading stops, while more than
// kOutputHighWater bytes of replies wait for the client: a client that
// pipelines without reading its replies holds at most that much output
// (plus one reply), and the kernel's socket buffers push back on it. On top
// of that the handler's limits close a client: its unparsed input above
// client-query-buffer-limit, or its pending output above the hard limit of
// its client-output-buffer-limit class, or above the soft limit for longer
// than the soft seconds (output that does not come from its own requests,
// such as pub/sub messages, is bounded only by these).
#pragma once

#include <uv.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "resp/parser.h"

namespace lmkv::net {

class Connection;
class Loop;

// One client class's client-output-buffer-limit; 0 disables a limit.
struct OutputLimit {
  int64_t hard = 0;          // bytes
  int64_t soft = 0;          // bytes
  int64_t soft_seconds = 0;  // how long output may stay above `soft`
};

// Pending output above which a connection stops parsing its requests.
inline constexpr size_t kOutputHighWater = 1 << 20;

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
  // The limits in force now (CONFIG SET may change them); 0: none.
  virtual int64_t query_buffer_limit() { return 0; }
  virtual OutputLimit output_limit(Connection&) { return {}; }
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

  // The read buffer, malloc'd, given away (free() it) with the views of the
  // command being handled still valid in it: a handler that keeps a huge
  // command's arguments takes the buffer instead of copying them. The
  // connection goes on with a new buffer holding what followed the command.
  // Only from on_command; null when the arguments are not in the buffer.
  char* lend_input(std::span<const std::string_view> args);

  // Bytes read but not yet parsed into a command, and replies not yet
  // taken by the socket.
  size_t input_pending() const { return in_end_ - in_start_; }
  size_t output_pending() const { return out_.size() + sending_.size(); }
  // Loop time (uv_now, ms) of the last byte read or written.
  uint64_t last_io_ms() const { return last_io_ms_; }
  // The largest input_pending() and output_pending() seen since the last
  // call; resets them.
  std::pair<size_t, size_t> take_peaks();
  // Periodic housekeeping from the handler's timer: applies the soft output
  // limit to a client whose output is not moving, and gives back an idle
  // client's read buffer. `now` is uv_now of the loop.
  void cron(uint64_t now);

 private:
  Connection(Loop& loop, Handler& handler, const resp::ParserLimits& limits);
  ~Connection();
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);
  static void on_closed(uv_handle_t* h);
  void process();
  void protocol_error(const std::string& message);
  void start_reading();
  void stop_reading();
  void continue_processing();
  bool output_over_limit(uint64_t now);
  void close_for_output_limit();
  void free_input();
  void replace_lent_input(size_t command_end);

  Loop& loop_;
  Handler& handler_;
  uv_tcp_t tcp_;
  uv_write_t write_req_;
  resp::RequestParser parser_;
  // The read buffer (malloc'd: not zero-filled, and realloc of a large
  // buffer moves pages instead of copying them).
  char* in_ = nullptr;
  size_t in_cap_ = 0;
  bool lent_ = false;  // in_ was given away during on_command
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
  bool throttled_ = false;  // parsing paused on kOutputHighWater
  uint64_t last_io_ms_ = 0;
  uint64_t soft_since_ms_ = 0;  // when output went above the soft limit; 0: below
  size_t peak_in_ = 0, peak_out_ = 0;
};

}  // namespace lmkv::net
