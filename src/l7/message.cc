#include "l7/message.h"

#include <vector>

#include "common/ascii.h"

namespace rf::l7 {

namespace {

using proxy::HeadField;
using proxy::ParseState;

// Whether a comma-separated field value lists `token`.
bool ListHas(std::string_view value, std::string_view token) {
  while (true) {
    size_t comma = value.find(',');
    if (AsciiIEquals(AsciiTrim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

// `value` without the list element `token`.
std::string ListWithout(std::string_view value, std::string_view token) {
  std::string out;
  while (true) {
    size_t comma = value.find(',');
    std::string_view item = AsciiTrim(value.substr(0, comma));
    if (!item.empty() && !AsciiIEquals(item, token)) {
      if (!out.empty()) out += ", ";
      out += item;
    }
    if (comma == std::string_view::npos) return out;
    value.remove_prefix(comma + 1);
  }
}

RequestParse RequestFail(int status, std::string msg) {
  RequestParse r;
  r.state = ParseState::kError;
  r.status = status;
  r.message = std::move(msg);
  return r;
}

}  // namespace

RequestParse ParseInspectedRequest(std::string_view buf, size_t max_head,
                                   bool allow_encoded_slash) {
  proxy::RawHead h = proxy::SplitHead(buf, max_head, proxy::HeadKind::kRequest);
  if (h.state == ParseState::kIncomplete) return {};
  if (h.state == ParseState::kError) return RequestFail(h.status, std::move(h.message));
  if (h.method == "CONNECT") return RequestFail(405, "CONNECT inside a tunnel is refused");
  auto target = NormalizeTarget(h.target, allow_encoded_slash);
  if (!target.ok()) return RequestFail(400, target.status().reason());

  RequestParse r;
  InspectedRequest& q = r.request;
  q.method = std::string(h.method);
  q.target = std::move(*target);
  q.head_length = h.head_length;
  proxy::BodyFraming framing = proxy::ReadBodyFraming(h.fields);
  if (framing.status != 0) return RequestFail(framing.status, framing.error);
  q.body_length = framing.body_length;

  int hosts = 0;
  bool upgrade_websocket = false, connection_upgrade = false, keep_alive = false;
  for (const HeadField& f : h.fields) {
    if (AsciiIEquals(f.name, "host")) {
      ++hosts;
      q.host = std::string(f.value);
    } else if (AsciiIEquals(f.name, "connection")) {
      // Dropping a framing field would hide the body from the upstream,
      // which would then read it as a second request.
      if (ListHas(f.value, "content-length") || ListHas(f.value, "transfer-encoding"))
        return RequestFail(400, "Connection field names a framing field");
      connection_upgrade = connection_upgrade || ListHas(f.value, "upgrade");
      q.close = q.close || ListHas(f.value, "close");
      keep_alive = keep_alive || ListHas(f.value, "keep-alive");
    } else if (AsciiIEquals(f.name, "accept")) {
      // Media types without their parameters (`;q=0.9`).
      for (std::string_view v = f.value; !v.empty();) {
        size_t comma = v.find(',');
        std::string_view item = v.substr(0, comma);
        q.accepts_event_stream =
            q.accepts_event_stream ||
            AsciiIEquals(AsciiTrim(item.substr(0, item.find(';'))), "text/event-stream");
        v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      }
    } else if (AsciiIEquals(f.name, "upgrade")) {
      upgrade_websocket = upgrade_websocket || ListHas(f.value, "websocket");
    } else if (AsciiIEquals(f.name, "expect")) {
      if (!AsciiIEquals(f.value, "100-continue"))
        return RequestFail(417, "only Expect: 100-continue is supported");
      q.expect_continue = true;
    }
  }
  if (hosts != 1) return RequestFail(400, "a request needs exactly one Host field");
  if (h.version == "HTTP/1.0" && q.body_length < 0)
    return RequestFail(400, "Transfer-Encoding on an HTTP/1.0 request");
  // A body on these methods has no meaning a server must honour, and a
  // server that ignores it would read it as the next request (a refused
  // one, hidden from the rules).
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE"})
    if (q.body_length != 0 && AsciiIEquals(q.method, m))
      return RequestFail(400, "a body on " + q.method + " is refused");
  if (h.version == "HTTP/1.0" && !keep_alive) q.close = true;
  q.websocket_upgrade =
      upgrade_websocket && connection_upgrade && q.method == "GET" && q.body_length == 0;

  std::string& out = q.forward_head;
  out.reserve(h.head_length + 64);
  out += q.method + " " + q.target.forward + " " + std::string(h.version) + "\r\n";
  for (const HeadField& f : h.fields) {
    std::string_view name = f.name;
    std::string lname = AsciiLowered(name);
    if (lname.rfind("proxy-", 0) == 0 || lname == "http2-settings" ||
        lname == "sec-websocket-extensions")
      continue;
    if (lname == "upgrade") {
      // Only the protocol the inspector follows is offered upstream.
      if (q.websocket_upgrade) out += "Upgrade: websocket\r\n";
      continue;
    }
    if (lname == "connection" && !q.websocket_upgrade) {
      std::string v = ListWithout(f.value, "upgrade");
      if (!v.empty()) out += std::string(name) + ": " + v + "\r\n";
      continue;
    }
    out += std::string(name) + ": " + std::string(f.value) + "\r\n";
  }
  out += "\r\n";
  r.state = ParseState::kDone;
  return r;
}

BodyCounter::Step BodyCounter::Feed(std::string_view in) {
  Step s;
  if (done_) return {0, true, false};
  if (left_ == kUntilClose) return {in.size(), false, false};
  if (left_ == kChunked) {
    auto c = chunks_.Feed(in);
    s.used = c.used;
    s.error = c.state == proxy::ChunkDecoder::State::kError;
    s.done = done_ = c.state == proxy::ChunkDecoder::State::kDone;
    return s;
  }
  auto n = static_cast<size_t>(std::min<int64_t>(left_, static_cast<int64_t>(in.size())));
  left_ -= static_cast<int64_t>(n);
  s.used = n;
  s.done = done_ = left_ == 0;
  return s;
}

ResponseParse ParseResponseHead(std::string_view buf, size_t max_head,
                                std::string_view request_method, bool websocket_upgrade) {
  ResponseParse r;
  proxy::RawHead h = proxy::SplitHead(buf, max_head, proxy::HeadKind::kResponse);
  if (h.state == ParseState::kIncomplete) return r;
  if (h.state == ParseState::kError) {
    r.state = ParseState::kError;
    r.message = std::move(h.message);
    return r;
  }
  ResponseInfo& info = r.response;
  info.status = h.status_code;
  info.head_length = h.head_length;
  for (const HeadField& f : h.fields)
    if (AsciiIEquals(f.name, "connection") && ListHas(f.value, "close")) info.close = true;
  if (h.version == "HTTP/1.0") info.close = true;
  if (info.status == 101) {
    if (!websocket_upgrade) {
      r.state = ParseState::kError;
      r.message = "the upstream switched protocols without a WebSocket upgrade";
      return r;
    }
    bool upgrade_websocket = false;
    for (const HeadField& f : h.fields)
      upgrade_websocket =
          upgrade_websocket || (AsciiIEquals(f.name, "upgrade") && ListHas(f.value, "websocket"));
    if (!upgrade_websocket) {
      r.state = ParseState::kError;
      r.message = "the upstream switched to a protocol other than WebSocket";
      return r;
    }
    info.switched = true;
    info.body_length = BodyCounter::kUntilClose;
  } else if (info.status < 200) {
    info.interim = true;
  } else if (AsciiIEquals(request_method, "HEAD") || info.status == 204 || info.status == 304) {
    info.body_length = 0;
  } else {
    proxy::BodyFraming framing = proxy::ReadBodyFraming(h.fields);
    if (framing.status != 0) {
      r.state = ParseState::kError;
      r.message = "upstream response: " + framing.error;
      return r;
    }
    bool has_length = false;
    for (const HeadField& f : h.fields)
      has_length = has_length || AsciiIEquals(f.name, "content-length") ||
                   AsciiIEquals(f.name, "transfer-encoding");
    info.body_length = has_length ? framing.body_length : BodyCounter::kUntilClose;
    if (!has_length) info.close = true;
  }
  r.state = ParseState::kDone;
  return r;
}

std::string LocalResponse(int status, const std::string& json_body, bool close) {
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + " " + proxy::StatusText(status) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(json_body.size()) +
      "\r\n";
  if (close) out += "Connection: close\r\n";
  return out + "\r\n" + json_body;
}

}  // namespace rf::l7
