#include "proxy/upstream.h"

#include <ares.h>
#include <netinet/in.h>
#include <poll.h>

#include <cctype>
#include <chrono>

#include "proxy/ssrf.h"

namespace rf::proxy {

namespace {

std::string Base64(const std::string& in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// %XX escapes of a URL's user information; nullopt when malformed.
std::optional<std::string> PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

// Resolves `host` with c-ares, waiting at most `timeout_ms`.
Result<std::vector<IpAddr>> ResolveNow(const std::string& host, const std::string& dns_servers,
                                       int timeout_ms) {
  if (auto ip = ParseIpLiteral(host)) return std::vector<IpAddr>{*ip};
  ares_channel channel = nullptr;
  ares_options opts{};
  if (ares_init_options(&channel, &opts, 0) != ARES_SUCCESS)
    return Status::Error("cannot start the resolver");
  if (!dns_servers.empty()) ares_set_servers_ports_csv(channel, dns_servers.c_str());
  struct Out {
    bool done = false;
    int status = ARES_ENOTFOUND;
    std::vector<IpAddr> addrs;
  } out;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(
      channel, host.c_str(), nullptr, &hints,
      [](void* arg, int status, int, ares_addrinfo* res) {
        auto* o = static_cast<Out*>(arg);
        o->done = true;
        o->status = status;
        for (ares_addrinfo_node* n = res ? res->nodes : nullptr; n; n = n->ai_next) {
          IpAddr a;
          a.family = n->ai_family;
          if (n->ai_family == AF_INET)
            memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr, 4);
          else if (n->ai_family == AF_INET6)
            memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr, 16);
          else
            continue;
          o->addrs.push_back(a);
        }
        if (res) ares_freeaddrinfo(res);
      },
      &out);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!out.done && std::chrono::steady_clock::now() < deadline) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short ev = (ARES_GETSOCK_READABLE(bits, i) ? POLLIN : 0) |
                 (ARES_GETSOCK_WRITABLE(bits, i) ? POLLOUT : 0);
      if (ev) fds[n++] = {socks[i], ev, 0};
    }
    poll(fds, n, 50);
    for (nfds_t i = 0; i < n; ++i)
      ares_process_fd(channel,
                      (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD,
                      (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
    ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
  }
  ares_destroy(channel);  // a pending query's callback runs here, with `out` alive
  if (out.addrs.empty())
    return Status::Error("cannot resolve " + host + ": " +
                         (out.done ? ares_strerror(out.status) : "timed out"));
  return out.addrs;
}

std::string EnvValue(const std::map<std::string, std::string>& env, const char* lower,
                     const char* upper) {
  if (auto it = env.find(lower); it != env.end() && !it->second.empty()) return it->second;
  if (auto it = env.find(upper); it != env.end()) return it->second;
  return "";
}

}  // namespace

std::string UpstreamProxy::Shown() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

Result<UpstreamProxy> ParseUpstreamProxyUrl(const std::string& url, const std::string& what) {
  auto bad = [&](const std::string& why) {
    return Status::Error(what + " is not an http://[user:password@]host[:port] URL (" + why + ")");
  };
  const std::string scheme = "http://";
  if (Lower(url.substr(0, scheme.size())) != scheme)
    return bad(url.find("://") == std::string::npos ? "no scheme"
                                                    : "only http:// proxies are supported");
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find_first_of("/?#") != std::string::npos) return bad("a path is not allowed");
  UpstreamProxy up;
  if (size_t at = rest.rfind('@'); at != std::string::npos) {
    std::string userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    auto user = PercentDecode(userinfo.substr(0, colon));
    auto pass = PercentDecode(colon == std::string::npos ? "" : userinfo.substr(colon + 1));
    if (!user || !pass) return bad("malformed %-escape in the credentials");
    up.authorization = "Basic " + Base64(*user + ":" + *pass);
  }
  std::string port = "1080";
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return bad("unclosed [");
    up.host = rest.substr(1, close - 1);
    if (!ParseIpLiteral(up.host)) return bad("not an IPv6 address in []");
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return bad("junk after ]");
      port = rest.substr(close + 2);
    }
  } else {
    size_t colon = rest.rfind(':');
    up.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (up.host.empty()) return bad("no host");
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
      std::stoi(port) > 65535)
    return bad("port must be 1..65535");
  up.port = static_cast<uint16_t>(std::stoi(port));
  return up;
}

Result<std::optional<UpstreamProxy>> ConfigureUpstreamProxy(
    const std::string& setting, const std::map<std::string, std::string>& env,
    const std::string& dns_servers, int timeout_ms) {
  if (setting.empty() || setting == "off") return std::optional<UpstreamProxy>();
  std::string url = setting, what = "network.upstream_proxy";
  std::string no_proxy;
  if (setting == "from_env") {
    url = EnvValue(env, "https_proxy", "HTTPS_PROXY");
    if (url.empty()) return std::optional<UpstreamProxy>();
    what = "HTTPS_PROXY (network.upstream_proxy: from_env)";
    no_proxy = EnvValue(env, "no_proxy", "NO_PROXY");
  }
  auto up = ParseUpstreamProxyUrl(url, what);
  if (!up.ok()) return up.status();
  for (size_t pos = 0; pos <= no_proxy.size();) {
    size_t comma = no_proxy.find(',', pos);
    std::string entry = no_proxy.substr(pos, comma - pos);
    while (!entry.empty() && isspace(static_cast<unsigned char>(entry.front()))) entry.erase(0, 1);
    while (!entry.empty() && isspace(static_cast<unsigned char>(entry.back()))) entry.pop_back();
    if (!entry.empty()) up->no_proxy.push_back(Lower(entry));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  auto addrs = ResolveNow(up->host, dns_servers, timeout_ms);
  if (!addrs.ok()) return addrs.status().With("upstream proxy " + up->Shown());
  up->addrs = *addrs;
  return std::optional<UpstreamProxy>(std::move(*up));
}

bool BypassesUpstream(const UpstreamProxy& up, const std::string& host, const IpAddr& addr) {
  if (Classify(addr) == AddrClass::kLoopback) return true;
  for (const std::string& e : up.no_proxy) {
    if (e == "*") return true;
    if (auto cidr = ParseCidr(e)) {
      if (cidr->Contains(addr) || cidr->Contains(EmbeddedIpv4(addr))) return true;
      continue;
    }
    const std::string name = e[0] == '.' ? e.substr(1) : e;
    if (host == name || (host.size() > name.size() &&
                         host.compare(host.size() - name.size(), name.size(), name) == 0 &&
                         host[host.size() - name.size() - 1] == '.'))
      return true;
  }
  return false;
}

std::string UpstreamConnectRequest(const UpstreamProxy& up, const IpAddr& addr, uint16_t port) {
  const std::string a = addr.family == AF_INET6 ? "[" + addr.ToString() + "]" : addr.ToString();
  const std::string target = a + ":" + std::to_string(port);
  std::string req = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (!up.authorization.empty()) req += "Proxy-Authorization: " + up.authorization + "\r\n";
  return req + "\r\n";
}

int UpstreamStatus(const std::string& head) {
  if (head.size() < 12 || head.compare(0, 7, "HTTP/1.") != 0 || head[8] != ' ') return -1;
  const std::string code = head.substr(9, 3);
  if (code.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoi(code);
}

}  // namespace rf::proxy
