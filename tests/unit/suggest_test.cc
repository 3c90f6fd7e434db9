#include "policy/suggest.h"

#include <gtest/gtest.h>

#include <sstream>

#include "audit/audit.h"
#include "audit/ocsf.h"
#include "policy/loader.h"

namespace rf {
namespace {

std::string Deny(const std::string& host, int port, const std::string& binary,
                 const std::string& address = "") {
  nlohmann::json extra = {{"host", host}, {"port", port}, {"binary", binary}};
  if (!address.empty()) extra["address"] = address;
  return AuditSink::Format(
      {"proxy", "deny", host + ":" + std::to_string(port), "no policy", extra});
}

Suggestion From(const std::string& log, const SuggestContext& ctx = {}) {
  std::istringstream in(log);
  return SuggestFromLog(in, ctx);
}

TEST(Suggest, GroupsHostsOfOneNameAndBinarySetCounted) {
  std::string log =
      Deny("api.github.com", 443, "/usr/bin/git") + Deny("api.github.com", 443, "/usr/bin/git") +
      Deny("uploads.github.com", 443, "/usr/bin/git") +
      Deny("api.github.com", 8443, "/usr/bin/git") + Deny("pypi.org", 443, "/usr/bin/pip") +
      AuditSink::Format({"proxy", "allow", "x.org:443", "ok", {{"host", "x.org"}}});
  Suggestion s = From(log);
  ASSERT_EQ(s.policies.size(), 2u);
  const SuggestedPolicy& gh = s.policies[0];
  EXPECT_EQ(gh.key, "suggested_github_com");
  EXPECT_EQ(gh.count, 4u);
  EXPECT_EQ(gh.hosts.size(), 2u);
  EXPECT_EQ(gh.hosts.at("api.github.com"), (std::set<int>{443, 8443}));
  EXPECT_EQ(gh.binaries, (std::set<std::string>{"/usr/bin/git"}));
  EXPECT_EQ(s.policies[1].key, "suggested_pypi_org");
  EXPECT_EQ(s.denials, 5u);
}

TEST(Suggest, DifferentBinarySetsAreSeparateEntries) {
  Suggestion s = From(Deny("a.example.com", 443, "/usr/bin/curl") +
                      Deny("b.example.com", 443, "/usr/bin/git"));
  ASSERT_EQ(s.policies.size(), 2u);
  EXPECT_EQ(s.policies[0].key, "suggested_a_example_com");
  EXPECT_EQ(s.policies[1].key, "suggested_b_example_com");
}

TEST(Suggest, NeverLoopbackLinkLocalPrivateMetadataOrWildcard) {
  std::string log;
  for (const char* h :
       {"169.254.169.254", "127.0.0.1", "::1", "10.1.2.3", "192.168.0.1", "fe80::1", "localhost",
        "x.localhost", "com", "0x7f.1", "*.example.com", "metadata.google.internal"})
    log += Deny(h, 80, "/usr/bin/curl");
  log += Deny("named.example", 80, "/usr/bin/curl", "10.0.0.5");  // SSRF refusal
  log += Deny("who.example", 80, "unknown");
  Suggestion s = From(log);
  EXPECT_TRUE(s.policies.empty());
  EXPECT_EQ(s.not_proposed.size(), 14u);
  std::string text = RenderSuggestion(s, "log");
  EXPECT_EQ(text.find("network_policies:"), std::string::npos) << text;
  EXPECT_NE(text.find("169.254.169.254:80 (1): not proposed: the cloud metadata address"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("127.0.0.1:80 (1): not proposed: a loopback address"), std::string::npos);
}

TEST(Suggest, PinnedNameCarriesItsAddressOnly) {
  SuggestContext ctx;
  ctx.pinned_hosts = {{"up.test", "127.0.0.1"}, {"pub.example", "8.8.8.8"}};
  ctx.taken_keys = {"suggested_up_test"};
  Suggestion s =
      From(Deny("up.test", 8080, "/usr/bin/curl") + Deny("pub.example", 443, "/usr/bin/curl"), ctx);
  ASSERT_EQ(s.policies.size(), 2u);
  EXPECT_EQ(s.policies[0].key, "suggested_pub_example");
  EXPECT_TRUE(s.policies[0].pinned.empty());
  EXPECT_EQ(s.policies[1].key, "suggested_up_test_2");
  EXPECT_EQ(s.policies[1].pinned.at("up.test"), "127.0.0.1");
}

TEST(Suggest, L7RulesFromInspectedRefusalsAndMergeKeepsThePreset) {
  auto http = [](const std::string& method, const std::string& path) {
    return AuditSink::Format({"http",
                              "deny",
                              method + " api.test:443" + path,
                              "access: read-only",
                              {{"host", "api.test"},
                               {"port", 443},
                               {"method", method},
                               {"path", path},
                               {"policy", "api"}}});
  };
  Suggestion s = From(http("POST", "/repos/a/pulls") + http("POST", "/repos/a/pulls") +
                      http("DELETE", "/x/*"));
  ASSERT_EQ(s.rules.size(), 1u);
  EXPECT_EQ(s.rules[0].count, 2u);
  EXPECT_EQ(s.not_proposed.size(), 1u);  // the glob path
  const std::string current =
      "version: 1\nnetwork_policies:\n  api:\n    endpoints:\n"
      "      - {host: api.test, port: 443, protocol: rest, access: read-only}\n";
  auto merged = MergeSuggestion(current, s);
  ASSERT_TRUE(merged.ok()) << merged.status().reason();
  auto p = LoadPolicyString(*merged, "merged.yaml");
  ASSERT_TRUE(p.ok()) << p.status().reason() << "\n" << *merged;
  const auto& ep = p->network_policies.at(0).endpoints.at(0);
  EXPECT_TRUE(ep.access.empty());
  ASSERT_EQ(ep.rules.size(), 4u);  // GET, HEAD, OPTIONS and the new one
  EXPECT_EQ(ep.rules[3].method, "POST");
  EXPECT_EQ(ep.rules[3].path, "/repos/a/pulls");
}

TEST(Suggest, MergedPolicyLoadsWithTheNewEntry) {
  SuggestContext ctx;
  ctx.pinned_hosts = {{"up.test", "127.0.0.1"}};
  Suggestion s = From(Deny("up.test", 8080, "/usr/bin/curl"), ctx);
  auto merged = MergeSuggestion("version: 1\nnetwork:\n  hosts: {up.test: 127.0.0.1}\n", s);
  ASSERT_TRUE(merged.ok()) << merged.status().reason();
  auto p = LoadPolicyString(*merged, "merged.yaml");
  ASSERT_TRUE(p.ok()) << p.status().reason() << "\n" << *merged;
  ASSERT_EQ(p->network_policies.size(), 1u);
  EXPECT_EQ(p->network_policies[0].key, "suggested_up_test");
  EXPECT_EQ(p->network_policies[0].endpoints[0].ports, (std::vector<uint16_t>{8080}));
  EXPECT_EQ(p->network_policies[0].binaries[0].path, "/usr/bin/curl");
}

TEST(Suggest, ReadsOcsfRecordsAndSkipsJunk) {
  AuditEvent e{"proxy",
               "deny",
               "a.example.com:443",
               "no policy",
               {{"host", "a.example.com"}, {"port", 443}, {"binary", "/usr/bin/curl"}}};
  std::string log = AuditSink::Format(e, AuditSink::LineFormat::kOcsf) + "not json\n{}\n";
  Suggestion s = From(log);
  ASSERT_EQ(s.policies.size(), 1u);
  EXPECT_EQ(s.unreadable, 2u);
}

TEST(Suggest, AnOverlongLineIsSkippedNotKept) {
  std::string huge(3 << 20, 'x');
  Suggestion s = From(huge + "\n" + Deny("a.example.com", 443, "/usr/bin/curl") + huge);
  EXPECT_EQ(s.lines, 3u);
  EXPECT_EQ(s.unreadable, 2u);
  ASSERT_EQ(s.policies.size(), 1u);
}

TEST(Ocsf, ClassesAndTypeUid) {
  struct Case {
    AuditEvent e;
    int cls, activity;
  };
  const Case cases[] = {
      {{"proxy", "deny", "a.test:443", "no", {{"host", "a.test"}, {"port", 443}}}, 4001, 5},
      {{"proxy", "allow", "a.test:443", "ok", {{"host", "a.test"}, {"port", 443}}}, 4001, 1},
      {{"network", "deny", "10.0.0.1:80", "no", {{"pid", 5}}}, 4001, 5},
      {{"http",
        "deny",
        "POST a.test:443/x",
        "no",
        {{"host", "a.test"}, {"port", 443}, {"method", "POST"}, {"path", "/x"}}},
       4002,
       6},
      {{"landlock", "deny", "/srv/f", "no", {{"path", "/srv/f"}, {"access", {"read_file"}}}},
       1001,
       2},
      {{"process", "start", "/bin/true", "started", {{"pid", 9}}}, 1007, 1},
      {{"process", "exit", "/bin/true", "exited", {{"pid", 9}, {"exit_code", 0}}}, 1007, 2},
      {{"seccomp", "deny", "ptrace", "no", {{"pid", 9}}}, 1007, 99},
  };
  for (const auto& c : cases) {
    auto r = OcsfRecord(c.e, 1000, "h", 1);
    EXPECT_EQ(r["class_uid"], c.cls) << c.e.layer;
    EXPECT_EQ(r["activity_id"], c.activity) << c.e.layer;
    EXPECT_EQ(r["type_uid"], c.cls * 100 + c.activity);
    EXPECT_EQ(r["category_uid"], c.cls / 1000);
    EXPECT_EQ(r["metadata"]["version"], kOcsfVersion);
    EXPECT_EQ(r["unmapped"]["ringfence"]["layer"], c.e.layer);
    if (c.e.action == "deny") {
      EXPECT_EQ(r["action_id"], 2);
      EXPECT_EQ(r["disposition_id"], 2);
    }
  }
}

}  // namespace
}  // namespace rf
