#include "net/listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/log.h"
#include "net/loop.h"

namespace lmkv::net {

Result<int> listen_tcp(const std::string& host, int port, int backlog) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return err(fmt::format("cannot listen on {}:{}: {}", host, port, gai_strerror(rc)));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return err(fmt::format("socket: {}", strerror(errno)));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
    int e = errno;
    freeaddrinfo(res);
    ::close(fd);
    return err(fmt::format("cannot listen on {}:{}: {}", host, port, strerror(e)));
  }
  freeaddrinfo(res);
  return fd;
}

Result<Listener*> Listener::start(Loop& loop, int fd, OnReady on_ready) {
  int copy = dup(fd);
  if (copy < 0) return err(fmt::format("dup: {}", strerror(errno)));
  auto* l = new Listener();
  l->on_ready_ = std::move(on_ready);
  l->tcp_.data = l;
  uv_tcp_init(loop.uv(), &l->tcp_);
  int rc = uv_tcp_open(&l->tcp_, copy);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->tcp_), 511, &on_connection);
  if (rc != 0) {
    l->close();
    return err(fmt::format("listen: {}", uv_strerror(rc)));
  }
  return l;
}

void Listener::on_connection(uv_stream_t* s, int status) {
  auto* l = static_cast<Listener*>(s->data);
  if (status < 0) {
    log::warning("accept: {}", uv_strerror(status));
    return;
  }
  l->on_ready_(s);
}

void Listener::close() {
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { delete static_cast<Listener*>(h->data); });
}

}  // namespace lmkv::net
