// libFuzzer target: the GraphQL document parser and classifier
// (l7/graphql.h), and the inspector's GraphQL path.
//
// Input: byte 0 selects what the rest is (bit 0: a document, else a POST
// body; bit 1: a WebSocket message too); byte 1 a cut point.
// Properties checked beyond "no crash, no leak, no sanitizer report":
//  - the classifier is deterministic and its root fields are sorted,
//    unique, non-empty names;
//  - an alias never hides a field: `mutation { x: F }` for the fuzzed name
//    F classifies as root field F;
//  - a document that classifies as a mutation whose root fields include
//    `deleteRepository` is refused by a deny rule on it, however it is
//    spelled (aliases, fragments, comments), and the inspector never sends
//    such a request upstream whether the body comes whole or in two pieces.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "l7/graphql.h"
#include "l7/inspector.h"

namespace {

using rf::fuzz::Check;
namespace gql = rf::l7::graphql;

bool IsName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return false;
  return !(s[0] >= '0' && s[0] <= '9');
}

rf::l7::EndpointRules Rules() {
  rf::l7::EndpointRules e;
  e.protocol = rf::l7::Protocol::kGraphql;
  e.access = rf::l7::Access::kFull;
  e.graphql_deny.push_back({"mutation", "", {"deleteRepository"}, 0});
  return e;
}

void CheckOperation(const gql::Operation& op) {
  Check(op.type == "query" || op.type == "mutation" || op.type == "subscription");
  for (size_t i = 0; i < op.fields.size(); ++i) {
    Check(IsName(op.fields[i]));
    if (i) Check(op.fields[i - 1] < op.fields[i]);
  }
}

void CheckDocument(std::string_view doc) {
  auto a = gql::ClassifyDocument(doc, "");
  auto b = gql::ClassifyDocument(doc, "");
  Check(a.ok() == b.ok());
  if (!a.ok()) return;
  CheckOperation(*a);
  Check(a->fields == b->fields && a->type == b->type && a->name == b->name);
  gql::Request r;
  r.operations.push_back(*a);
  bool deleting = a->type == "mutation";
  bool has = false;
  for (const auto& f : a->fields) has = has || f == "deleteRepository";
  if (deleting && has) Check(!gql::Evaluate(Rules(), r).allowed);
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Post(std::string_view body) {
  return "POST /graphql HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// What reaches the upstream never classifies as the denied mutation.
void CheckInspector(std::string_view body, size_t cut) {
  rf::l7::InspectorConfig c;
  c.host = "a";
  c.port = 80;
  rf::l7::InspectedEndpoint e;
  e.rules = Rules();
  c.endpoints.push_back(e);
  rf::l7::Inspector in(c);
  rf::l7::InspectorOutput out;
  std::string req = Post(body);
  cut = cut > req.size() ? req.size() : cut;
  in.FromClient(std::string_view(req).substr(0, cut), &out);
  in.FromClient(std::string_view(req).substr(cut), &out);
  if (out.to_upstream.empty()) return;
  Check(out.to_upstream == req);
  auto t = rf::l7::NormalizeTarget("/graphql", false);
  Check(t.ok());
  gql::Request r = gql::ClassifyHttp("POST", *t, req.substr(0, req.size() - body.size()), body);
  Check(r.error.empty());
  Check(gql::Evaluate(Rules(), r).allowed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 16384) return 0;
  uint8_t mode = data[0];
  size_t cut = data[1];
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (mode & 1) {
    CheckDocument(in);
    if (IsName(in) && in != "on" && in != "fragment") {
      auto r = gql::ClassifyDocument("mutation { x: " + std::string(in) + " }", "");
      Check(r.ok() && r->fields.size() == 1 && r->fields[0] == in);
    }
    CheckInspector("{\"query\":" + JsonString(in) + "}", cut);
  } else {
    CheckInspector(in, cut);
  }
  if (mode & 2) {
    bool control = false;
    std::string type;
    gql::Request r = gql::ClassifyWebSocketMessage(in, &control, &type);
    if (control) Check(r.operations.empty() && r.error.empty());
    for (const auto& op : r.operations)
      if (!op.type.empty()) CheckOperation(op);
  }
  return 0;
}
