// libFuzzer target: DNS query messages as the sandbox's resolver reads them
// (src/dns/message.h, src/dns/resolver.h).
//
// Properties checked beyond "no crash, no leak, no sanitizer report":
//  - a parsed query has at most 255 bytes of name, labels of at most 63
//    bytes, and its answer parses back with the query's id;
//  - an answer is never larger than the query plus one A record and an OPT
//    record (no amplification), and never empty for a parsed query;
//  - a policy name gets a synthetic address, anything else NXDOMAIN,
//    REFUSED or no data, never an address outside the synthetic range;
//  - a message that is a response is never answered.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "dns/message.h"
#include "dns/resolver.h"
#include "fuzz_check.h"

namespace {

using rf::fuzz::Check;

rf::Policy FuzzPolicy() {
  rf::Policy p;
  rf::NetworkPolicy np;
  np.key = np.name = "fuzz";
  rf::Endpoint a;
  a.host = "api.allowed.test";
  a.ports = {443};
  rf::Endpoint w;
  w.host = "*.wild.test";
  w.ports = {443};
  np.endpoints = {a, w};
  p.network_policies.push_back(np);
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static rf::AuditSink audit;
  static auto names = std::make_shared<rf::dns::SyntheticNames>(1024);
  static auto resolver = std::move(rf::dns::Resolver::Create(FuzzPolicy(), names, &audit)).value();
  std::span<const uint8_t> in(data, size);
  rf::dns::Parsed p = rf::dns::ParseQuery(in);
  if (p.query) {
    Check(p.query->name.size() <= rf::dns::kMaxName);
    for (const auto& l : p.query->labels) Check(!l.empty() && l.size() <= rf::dns::kMaxLabel);
    Check((data[2] & 0x80) == 0);
  }
  auto answer = resolver->Answer(in, {});
  if (size >= 3 && (data[2] & 0x80)) Check(answer.empty());
  if (p.query) {
    Check(!answer.empty());
    Check(answer.size() <= size + 16 + 11);
    auto v = rf::dns::ReadAnswer(answer);
    Check(v.has_value());
    Check(v->id == p.query->id);
    for (const auto& a : v->addresses) Check(rf::dns::SyntheticNames::InRange(a));
    if (!v->addresses.empty())
      Check(resolver->Classify(p.query->name) != rf::dns::Resolver::Verdict::kDenied);
  }
  return 0;
}
