// net/listener.h: the listening socket, shared by every loop.
//
// The socket is bound once (so a port in use fails loudly, unlike
// SO_REUSEPORT which would silently share it), then each loop watches its
// own dup() of it: whichever loop wakes first accepts, so a busy loop
// naturally takes fewer new clients. Knows nothing of commands.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "base/error.h"

namespace lmkv::net {

class Loop;

// Binds and listens on host:port; returns the socket. Main thread.
Result<int> listen_tcp(const std::string& host, int port, int backlog = 511);

// One loop's watch on the shared socket.
class Listener {
 public:
  // Called on the loop for each connection ready to accept; it must call
  // uv_accept (Connection::accept) on `server`.
  using OnReady = std::function<void(uv_stream_t* server)>;

  // Starts watching a dup() of `fd` on `loop`. Loop thread.
  static Result<Listener*> start(Loop& loop, int fd, OnReady on_ready);
  // Stops accepting and frees the listener. Loop thread.
  void close();

 private:
  Listener() = default;
  static void on_connection(uv_stream_t* s, int status);
  uv_tcp_t tcp_;
  OnReady on_ready_;
};

}  // namespace lmkv::net
