#include "proxy/capture.h"

#include <algorithm>

#include "policy/cidr.h"
#include "proxy/decision.h"

namespace rf::proxy {

CaptureDecision DecideCapture(const Matcher& m, const std::string& host, uint16_t port,
                              const std::vector<std::string>& caller) {
  Caller who;
  who.attributed = true;  // the guard read it from the calling process
  who.exes = caller;
  if (!caller.empty()) who.binary = caller.front();
  const Verdict v = DecideTarget(m, NormalizeHost(host), port, who, true);
  CaptureDecision d;
  d.policy = v.policy;
  if (!v.allowed()) {
    d.reason = v.reason;
    d.hint = v.hint;
    return d;
  }
  bool raw = false;
  for (int i : v.endpoints) raw = raw || m.endpoint(i).transparent;
  // An inspected endpoint in play keeps its rules: the connection takes the
  // HTTP(S) path even when a protocol: tcp endpoint names the same port.
  if (m.Inspects(v.endpoints) || (!raw && (port == 80 || port == 443))) {
    d.allowed = true;
    return d;
  }
  if (raw) {
    d.allowed = d.raw = true;
    return d;
  }
  d.reason =
      "a direct connect to a policy name is carried only for protocol: tcp endpoints "
      "and HTTP(S) on ports 80 and 443";
  d.hint = "add protocol: tcp to the endpoint for " + host + ":" + std::to_string(port) +
           " in policy " + v.policy + ", or let the client use the proxy (HTTP_PROXY)";
  return d;
}

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// A bounds-checked reader over the ClientHello.
struct Reader {
  std::string_view d;
  size_t at = 0;
  bool ok = true;
  size_t Get(size_t n) {
    if (!ok || d.size() - at < n) {
      ok = false;
      return 0;
    }
    size_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(d[at + i]);
    at += n;
    return v;
  }
  void Skip(size_t n) {
    if (!ok || d.size() - at < n) {
      ok = false;
      return;
    }
    at += n;
  }
};

FirstBytes Sni(std::string_view data, size_t limit) {
  FirstBytes out;
  out.tls = true;
  if (data.size() < 5) return out;
  const size_t record =
      (static_cast<unsigned char>(data[3]) << 8) | static_cast<unsigned char>(data[4]);
  // The ClientHello in its first record (the usual case, even with large key
  // shares); a hello split across records is refused rather than guessed.
  if (record + 5 > limit) {
    out.kind = FirstBytes::Kind::kInvalid;
    return out;
  }
  if (data.size() < record + 5) return out;
  Reader r{data.substr(5, record)};
  if (r.Get(1) != 1) {  // handshake type: client_hello
    out.kind = FirstBytes::Kind::kInvalid;
    return out;
  }
  const size_t hello = r.Get(3);
  if (hello > record - 4) {
    out.kind = FirstBytes::Kind::kInvalid;
    return out;
  }
  r.d = r.d.substr(0, 4 + hello);
  r.Skip(2 + 32);    // version, random
  r.Skip(r.Get(1));  // session id
  r.Skip(r.Get(2));  // cipher suites
  r.Skip(r.Get(1));  // compression methods
  out.kind = FirstBytes::Kind::kNoName;
  if (r.ok && r.at == r.d.size()) return out;  // no extensions
  const size_t ext_end = r.Get(2) + r.at;
  while (r.ok && r.at + 4 <= ext_end) {
    const size_t type = r.Get(2), len = r.Get(2);
    if (type != 0) {
      r.Skip(len);
      continue;
    }
    Reader sn{r.d.substr(0, std::min(r.d.size(), r.at + len)), r.at};
    const size_t list_end = sn.Get(2) + sn.at;
    while (sn.ok && sn.at + 3 <= list_end) {
      const size_t name_type = sn.Get(1), name_len = sn.Get(2);
      const size_t start = sn.at;
      sn.Skip(name_len);
      if (sn.ok && name_type == 0) {
        out.kind = FirstBytes::Kind::kName;
        out.name = Lower(sn.d.substr(start, name_len));
        return out;
      }
    }
    break;
  }
  if (!r.ok) out.kind = FirstBytes::Kind::kInvalid;
  return out;
}

FirstBytes HostHeader(std::string_view data, size_t limit) {
  FirstBytes out;
  const size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (data.size() > limit) out.kind = FirstBytes::Kind::kInvalid;
    return out;
  }
  out.kind = FirstBytes::Kind::kNoName;
  size_t at = data.find("\r\n");
  while (at < end) {
    at += 2;
    const size_t eol = data.find("\r\n", at);
    std::string_view line = data.substr(at, eol - at);
    at = eol;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || Lower(line.substr(0, colon)) != "host") continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (!value.empty() && value.front() == '[') {
      out.kind = FirstBytes::Kind::kInvalid;  // an address: never a policy name
      return out;
    }
    if (size_t p = value.find(':'); p != std::string_view::npos) value = value.substr(0, p);
    out.kind = FirstBytes::Kind::kName;
    out.name = Lower(value);
    return out;
  }
  return out;
}

}  // namespace

std::vector<CaptureName> AllocatePolicyNames(const Policy& p, dns::SyntheticNames& names) {
  std::vector<CaptureName> out;
  for (const auto& np : p.network_policies) {
    for (const auto& ep : np.endpoints) {
      const std::string host = NormalizeHost(ep.host);
      if (host.empty() || host.find('*') != std::string::npos || ParseIpLiteral(host)) continue;
      auto address = names.AddressFor(host);
      if (!address) continue;
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const CaptureName& n) { return n.name == host; });
      if (it == out.end()) it = out.insert(out.end(), CaptureName{host, *address, {}, ""});
      const std::string carried = ep.protocol == "tcp" ? "tcp" : !ep.protocol.empty() ? "http" : "";
      for (uint16_t port : ep.ports) {
        if (std::find(it->ports.begin(), it->ports.end(), port) == it->ports.end())
          it->ports.push_back(port);
      }
      const std::string shown =
          !carried.empty() ? carried
          : std::any_of(ep.ports.begin(), ep.ports.end(),
                        [](uint16_t port) { return port == 80 || port == 443; })
              ? "http"
              : "proxy only";
      if (it->carried.empty())
        it->carried = shown;
      else if (it->carried.find(shown) == std::string::npos)
        it->carried += ", " + shown;
    }
  }
  return out;
}

FirstBytes ReadFirstBytes(std::string_view data, size_t limit) {
  if (data.empty()) return {};
  // A TLS handshake record (22) of TLS 1.x.
  if (static_cast<unsigned char>(data[0]) == 0x16) {
    if (data.size() >= 2 && data[1] != 3) return {FirstBytes::Kind::kInvalid, "", true};
    return Sni(data, limit);
  }
  return HostHeader(data, limit);
}

}  // namespace rf::proxy
