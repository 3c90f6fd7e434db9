// libFuzzer target: the inspected-HTTP relay's parsers (l7/): a client's
// byte stream read as pipelined requests with bodies, then as WebSocket
// frames.
//
// Input: byte 0 holds flags (bit 0: allow_encoded_slash) and byte 1 a cut
// point for the piecewise runs; the rest is the client's stream.
// Properties checked beyond "no crash, no leak, no sanitizer report":
//  - every accepted head is rebuilt as one clean head (CRLF lines, no CR, LF
//    or NUL inside a line, one blank line at the end) whose request line is
//    the method, the normalised target and the version, with exactly one
//    Host, no Proxy-* field, no Upgrade unless it is a WebSocket upgrade,
//    and framing that agrees with body_length (no smuggling);
//  - normalisation is idempotent: the forwarded target normalises to the
//    same path and the same spelling, and the path has no dot segment and
//    no empty segment, so what the rules saw is what the upstream gets;
//  - a deny rule on `/admin/**` refuses every path the glob matches, in
//    whatever spelling it came (the verdict is on the normalised path);
//  - through the Inspector (the relay's state machine, the client's stream
//    fed in two pieces), what reaches the upstream parses back as exactly
//    the requests it reported allowed, none of them on `/admin/**` (which a
//    deny rule refuses): no refused request, and no byte smuggled after
//    one, reaches the upstream;
//  - a body counted whole or in two pieces ends at the same byte with the
//    same verdict; the frame scanner relays the same bytes and counts the
//    same messages whether it sees the stream whole or in two pieces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/ascii.h"
#include "fuzz_check.h"
#include "l7/glob.h"
#include "l7/inspector.h"
#include "l7/message.h"
#include "l7/rules.h"
#include "l7/target.h"
#include "l7/websocket.h"

namespace {

using rf::l7::BodyCounter;
using rf::l7::ClientFrameScanner;
using rf::proxy::ParseState;

using rf::fuzz::Check;

void CheckForwardHead(const rf::l7::InspectedRequest& q) {
  std::vector<std::string_view> lines = rf::fuzz::CleanHeadLines(q.forward_head);
  Check(!lines.empty());
  std::string first = q.method + " " + q.target.forward + " HTTP/1.";
  Check(lines[0].rfind(first, 0) == 0 && lines[0].size() == first.size() + 1);
  int host = 0, cl = 0, te = 0, upgrade = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    Check(colon != std::string_view::npos && colon > 0);
    std::string name = rf::AsciiLowered(lines[i].substr(0, colon));
    Check(name.rfind("proxy-", 0) != 0);
    host += name == "host";
    cl += name == "content-length";
    te += name == "transfer-encoding";
    upgrade += name == "upgrade";
  }
  Check(host == 1);
  Check(!(cl > 0 && te > 0) && te <= 1);
  Check((q.body_length < 0) == (te == 1));
  if (q.body_length > 0) Check(cl >= 1);
  if (!q.websocket_upgrade) Check(upgrade == 0);
}

void CheckTarget(const rf::l7::InspectedRequest& q, bool slash) {
  const auto& t = q.target;
  Check(!t.path.empty() && t.path[0] == '/');
  Check(t.path.find("//") == std::string::npos);
  Check(t.path.find("/./") == std::string::npos && t.path.find("/../") == std::string::npos);
  Check(!(t.path.size() >= 2 && t.path.compare(t.path.size() - 2, 2, "/.") == 0));
  Check(!(t.path.size() >= 3 && t.path.compare(t.path.size() - 3, 3, "/..") == 0));
  auto again = rf::l7::NormalizeTarget(t.forward, slash);
  Check(again.ok());
  Check(again->path == t.path && again->forward == t.forward);

  rf::l7::EndpointRules rules;
  rules.access = rf::l7::Access::kFull;
  rules.deny.push_back({"*", "/admin/**", {}});
  bool admin = rf::l7::GlobMatch("/admin/**", t.path);
  Check(rf::l7::Evaluate(rules, q.method, t).allowed == !admin);
}

struct BodyRun {
  size_t used = 0;
  bool done = false, error = false;
};

BodyRun Count(int64_t length, std::string_view in, size_t cut) {
  BodyCounter b(length);
  BodyRun r;
  cut = cut > in.size() ? in.size() : cut;
  for (std::string_view piece : {in.substr(0, cut), in.substr(cut)}) {
    if (r.done || r.error) break;
    auto s = b.Feed(piece);
    r.used += s.used;
    r.done = s.done, r.error = s.error;
    if (!r.done && !r.error) Check(s.used == piece.size());
  }
  return r;
}

struct FrameRun {
  size_t used = 0, texts = 0, binaries = 0;
  bool stop = false;
};

FrameRun Scan(std::string_view in, size_t cut, bool text_allowed) {
  ClientFrameScanner sc(text_allowed);
  FrameRun r;
  std::string pending;
  cut = cut > in.size() ? in.size() : cut;
  for (std::string_view piece : {in.substr(0, cut), in.substr(cut)}) {
    pending += piece;
    auto s = sc.Feed(pending);
    Check(s.used <= pending.size());
    r.used += s.used, r.texts += s.text_messages, r.binaries += s.binary_messages;
    pending.erase(0, s.used);
    if (s.error || s.refused) {
      r.stop = true;
      break;
    }
  }
  return r;
}

// Re-reads what the inspector sent upstream as requests; returns how many,
// checking none is on /admin/**.
size_t ForwardedRequests(std::string_view up) {
  size_t n = 0;
  while (!up.empty()) {
    auto r = rf::l7::ParseInspectedRequest(up, 1 << 20, true);
    if (r.state != ParseState::kDone) break;  // a request cut short by the input's end
    Check(!rf::l7::GlobMatch("/admin/**", r.request.target.path));
    ++n;
    up.remove_prefix(r.request.head_length);
    if (r.request.body_length == 0) continue;
    BodyCounter b(r.request.body_length);
    auto s = b.Feed(up);
    up.remove_prefix(s.used);
    if (!s.done) break;
  }
  return n;
}

void CheckInspector(std::string_view in, size_t cut) {
  rf::l7::InspectorConfig c;
  c.host = "a";
  c.port = 80;
  rf::l7::InspectedEndpoint e;
  e.rules.access = rf::l7::Access::kFull;
  e.rules.deny.push_back({"*", "/admin/**", {}});
  c.endpoints.push_back(e);
  c.max_head = 4096;
  rf::l7::Inspector inspector(c);
  rf::l7::InspectorOutput out;
  cut = cut > in.size() ? in.size() : cut;
  inspector.FromClient(in.substr(0, cut), &out);
  inspector.FromClient(in.substr(cut), &out);
  Check(inspector.buffered() <= in.size());
  size_t allowed = 0;
  for (const auto& ev : out.events) allowed += ev.allowed && ev.status == 0;
  size_t forwarded = ForwardedRequests(out.to_upstream);
  // Forwarded heads are exactly the allowed ones (a WebSocket upgrade
  // holds what follows until its answer, which never comes here).
  Check(forwarded == allowed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  bool slash = data[0] & 1;
  size_t cut = data[1];
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  CheckInspector(in, cut);

  for (int requests = 0; requests < 16 && !in.empty(); ++requests) {
    auto r = rf::l7::ParseInspectedRequest(in, 4096, slash);
    if (r.state != ParseState::kDone) {
      if (r.state == ParseState::kError)
        Check(r.status == 400 || r.status == 405 || r.status == 417 || r.status == 431 ||
              r.status == 501);
      break;
    }
    const auto& q = r.request;
    Check(q.head_length <= in.size());
    CheckForwardHead(q);
    CheckTarget(q, slash);
    in.remove_prefix(q.head_length);
    if (q.body_length == 0) continue;
    BodyRun whole = Count(q.body_length, in, in.size());
    BodyRun split = Count(q.body_length, in, cut);
    Check(whole.used == split.used && whole.done == split.done && whole.error == split.error);
    if (!whole.done) return 0;
    in.remove_prefix(whole.used);
  }
  for (bool text_allowed : {true, false}) {
    FrameRun whole = Scan(in, in.size(), text_allowed);
    FrameRun split = Scan(in, cut, text_allowed);
    Check(whole.used == split.used && whole.texts == split.texts &&
          whole.binaries == split.binaries);
    if (!text_allowed) Check(whole.texts == 0);
  }
  return 0;
}
