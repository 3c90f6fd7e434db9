#include "proxy/resolver.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "proxy/epoll_tag.h"

namespace rf::proxy {

namespace {

struct Query {
  Resolver* resolver;
  uint64_t id;
};

}  // namespace

std::optional<IpAddr> StaticAddress(const std::map<std::string, std::string>& hosts,
                                    const std::string& host) {
  if (auto ip = ParseIpLiteral(host)) return ip;
  if (auto it = hosts.find(host); it != hosts.end()) return ParseIpLiteral(it->second);
  return std::nullopt;
}

Resolver::~Resolver() {
  if (channel_) ares_destroy(channel_);  // fails pending queries: callbacks see ARES_EDESTRUCTION
}

Status Resolver::Ensure() {
  if (channel_) return Status::Ok();
  ares_options opts{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  opts.sock_state_cb = &Resolver::SockState;
  opts.sock_state_cb_data = this;
  opts.timeout = std::max(100, timeout_ms_ / 2);
  opts.tries = 2;
  if (int rc = ares_init_options(&channel_, &opts, mask); rc != ARES_SUCCESS) {
    channel_ = nullptr;
    return Status::Error(std::string("c-ares init: ") + ares_strerror(rc));
  }
  if (!servers_.empty()) {
    if (int rc = ares_set_servers_ports_csv(channel_, servers_.c_str()); rc != ARES_SUCCESS)
      return Status::Error("DNS servers '" + servers_ + "': " + ares_strerror(rc));
  }
  return Status::Ok();
}

void Resolver::Lookup(const std::string& host, uint64_t id) {
  auto* q = new Query{this, id};
  ++queries_;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = ARES_AI_NOSORT;
  ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &Resolver::OnResolved, q);
}

void Resolver::OnEvent(int fd, uint32_t events) {
  if (!channel_) return;
  ares_process_fd(channel_, (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
                  (events & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
}

int Resolver::Timeout(int timeout_ms) const {
  timeval tv{}, maxtv{0, 200000};
  if (queries_ > 0 && channel_ && ares_timeout(channel_, &maxtv, &tv)) {
    int ares_ms = static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;
    return timeout_ms < 0 ? ares_ms : std::min(timeout_ms, ares_ms);
  }
  return timeout_ms;
}

void Resolver::ProcessTimeouts() {
  if (queries_ > 0 && channel_) ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

void Resolver::SockState(void* data, ares_socket_t fd, int readable, int writable) {
  auto* r = static_cast<Resolver*>(data);
  epoll_event ev{};
  ev.events = (readable ? uint32_t{EPOLLIN} : 0u) | (writable ? uint32_t{EPOLLOUT} : 0u);
  ev.data.u64 = EpollTag::Resolver(fd).data();
  if (!readable && !writable) {
    epoll_ctl(r->epoll_, EPOLL_CTL_DEL, fd, nullptr);
    return;
  }
  if (epoll_ctl(r->epoll_, EPOLL_CTL_MOD, fd, &ev) != 0)
    epoll_ctl(r->epoll_, EPOLL_CTL_ADD, fd, &ev);
}

void Resolver::OnResolved(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) {
  std::unique_ptr<Query> q(static_cast<Query*>(arg));
  Resolver* r = q->resolver;
  --r->queries_;
  if (status == ARES_EDESTRUCTION) {
    if (res) ares_freeaddrinfo(res);
    return;
  }
  std::vector<IpAddr> addrs;
  if (status == ARES_SUCCESS && res) {
    for (ares_addrinfo_node* n = res->nodes; n; n = n->ai_next) {
      IpAddr a;
      if (n->ai_family == AF_INET) {
        a.family = AF_INET;
        memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr, 4);
      } else if (n->ai_family == AF_INET6) {
        a.family = AF_INET6;
        memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr, 16);
      } else {
        continue;
      }
      if (std::find(addrs.begin(), addrs.end(), a) == addrs.end()) addrs.push_back(a);
    }
  }
  if (res) ares_freeaddrinfo(res);
  r->done_(q->id, std::move(addrs), ares_strerror(status));
}

}  // namespace rf::proxy
