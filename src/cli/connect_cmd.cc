// `ringfence connect HOST PORT`: a CONNECT client on stdin/stdout for
// programs that take a proxy command (ssh -o ProxyCommand='ringfence connect
// %h %p', git over ssh). The proxy is taken from RINGFENCE_PROXY, then
// HTTPS_PROXY/https_proxy, as `ringfence run` sets them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "common/fd.h"
#include "common/terminal_text.h"
#include "policy/cidr.h"

namespace rf {

namespace {

// "http://127.0.0.1:3128" or "127.0.0.1:3128" -> address and port.
bool ParseProxyUrl(std::string url, IpAddr* addr, uint16_t* port) {
  if (url.rfind("http://", 0) == 0) url = url.substr(7);
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto colon = url.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = url.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  auto a = ParseIpLiteral(host);
  std::string p = url.substr(colon + 1);
  if (!a || p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  long v = std::stol(p);
  if (v < 1 || v > 65535) return false;
  *addr = *a;
  *port = static_cast<uint16_t>(v);
  return true;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

int ConnectMain(const std::string& host, int port) {
  std::string url;
  for (const char* name : {"RINGFENCE_PROXY", "HTTPS_PROXY", "https_proxy"}) {
    if (const char* v = getenv(name); v && *v) {
      url = v;
      break;
    }
  }
  IpAddr addr;
  uint16_t pport = 0;
  if (url.empty() || !ParseProxyUrl(url, &addr, &pport)) {
    fprintf(stderr, "ringfence connect: no usable proxy in RINGFENCE_PROXY or HTTPS_PROXY (%s)\n",
            url.empty() ? "unset" : url.c_str());
    return 1;
  }
  if (port < 1 || port > 65535) {
    fprintf(stderr, "ringfence connect: port %d out of range\n", port);
    return 1;
  }
  UniqueFd s(socket(addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  socklen_t len;
  if (addr.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(pport);
    memcpy(&in->sin_addr, addr.bytes.data(), 4);
    len = sizeof *in;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(pport);
    memcpy(&in6->sin6_addr, addr.bytes.data(), 16);
    len = sizeof *in6;
  }
  if (!s.valid() || connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    perror("ringfence connect: proxy");
    return 1;
  }
  std::string target =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string req = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n";
  if (!WriteAll(s.get(), req.data(), req.size())) {
    perror("ringfence connect: write");
    return 1;
  }
  // Read the response head byte by byte: nothing past it may be consumed.
  std::string head;
  while (head.size() < 16384 && head.find("\r\n\r\n") == std::string::npos) {
    char c;
    ssize_t n = read(s.get(), &c, 1);
    if (n <= 0) break;
    head.push_back(c);
  }
  if (head.rfind("HTTP/1.1 200", 0) != 0 && head.rfind("HTTP/1.0 200", 0) != 0) {
    std::string status = head.substr(0, head.find("\r\n"));
    fprintf(stderr, "ringfence connect: %s refused: %s\n", TerminalText(target).c_str(),
            TerminalText(status).c_str());
    // Show the proxy's explanation (403 JSON body), bounded.
    char body[4096];
    ssize_t n = read(s.get(), body, sizeof body - 1);
    if (n > 0) {
      body[n] = 0;
      fprintf(stderr, "%s\n", TerminalText(body).c_str());
    }
    return 1;
  }
  // Relay until both directions are done.
  bool in_open = true, out_open = true;
  char buf[65536];
  while (out_open) {
    struct pollfd fds[2] = {{in_open ? 0 : -1, POLLIN, 0}, {s.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) {
        in_open = false;
        shutdown(s.get(), SHUT_WR);
      } else if (!WriteAll(s.get(), buf, static_cast<size_t>(n))) {
        break;
      }
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(s.get(), buf, sizeof buf);
      if (n <= 0) {
        out_open = false;
      } else if (!WriteAll(1, buf, static_cast<size_t>(n))) {
        break;
      }
    }
  }
  return 0;
}

}  // namespace rf
