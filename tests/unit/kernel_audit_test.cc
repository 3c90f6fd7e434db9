#include "audit/kernel_audit.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace rf {
namespace {

// A sink writing to a temporary file, read back as JSON events.
struct CapturedSink {
  std::string path;
  std::unique_ptr<AuditSink> sink;
  CapturedSink() {
    char tmpl[] = "/tmp/rf-kaudit-XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    close(fd);
    unlink(tmpl);
    path = tmpl;
    auto s = AuditSink::Open(path);
    EXPECT_TRUE(s.ok()) << s.status().reason();
    sink = std::move(s).value();
  }
  ~CapturedSink() { unlink(path.c_str()); }
  std::vector<nlohmann::json> Events() const {
    std::ifstream in(path);
    std::vector<nlohmann::json> out;
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  }
};

std::string Stamp(uint64_t serial) {
  return "audit(1796308251.774:" + std::to_string(serial) + "): ";
}

// The records the kernel writes for one refused open() by `pid` in a domain
// created by `creator`, as seen on this host (Linux 6.18).
void FeedDenial(LandlockDenials& d, AuditSink& sink, uint64_t serial, const std::string& domain,
                const std::string& path_field, int creator, int pid, bool first = true) {
  d.Feed(kAuditLandlockAccess,
         Stamp(serial) + "domain=" + domain + " blockers=fs.read_file path=" + path_field +
             " dev=\"vda\" ino=1058745",
         sink);
  if (first)
    d.Feed(kAuditLandlockDomain,
           Stamp(serial) + "domain=" + domain + " status=allocated mode=enforcing pid=" +
               std::to_string(creator) + " uid=65534 exe=\"/usr/bin/ringfence\" comm=\"ringfence\"",
           sink);
  d.Feed(kAuditSyscall,
         Stamp(serial) + "arch=c000003e syscall=257 success=no exit=-13 ppid=1 pid=" +
             std::to_string(pid) + " comm=\"cat\" exe=\"/usr/bin/cat\" key=(null)",
         sink);
  d.Feed(1327, Stamp(serial) + "proctitle=636174002F7661722F746D702F6C6B702F66", sink);
  d.Feed(kAuditEoe, Stamp(serial), sink);
}

TEST(KernelRecord, ParsesQuotedHexAndPlainFields) {
  auto r = ParseKernelRecord(kAuditLandlockAccess,
                             "audit(1796308251.774:6): domain=131a724bc blockers=fs.read_file "
                             "path=2F746D702F6120620A63 dev=\"vda\" ino=1058745");
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_EQ(r->serial, 6u);
  EXPECT_EQ(r->Text("domain"), "131a724bc");
  EXPECT_EQ(r->Text("blockers"), "fs.read_file");
  EXPECT_EQ(r->Untrusted("path"), "/tmp/a b\nc");
  EXPECT_EQ(r->Untrusted("dev"), "vda");
  EXPECT_EQ(r->Text("ino"), "1058745");
  EXPECT_EQ(r->Text("missing"), "");
}

TEST(KernelRecord, QuotedValuesAreNotDecoded) {
  // A quoted name that looks like hex is a name.
  auto r = ParseKernelRecord(kAuditSyscall, "audit(1.2:3): exe=\"41\" comm=41 key=(null)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Untrusted("exe"), "41");
  EXPECT_EQ(r->Untrusted("comm"), "A");
  EXPECT_EQ(r->Untrusted("key"), "(null)");
}

TEST(KernelRecord, AValueWithoutANameIsNoField) {
  // Found by fuzz_kernel_audit: "=allocated" made a field with an empty name.
  auto r = ParseKernelRecord(kAuditLandlockDomain, "audit(1.2:3): domain=d st =allocated pid=7");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->fields.size(), 2u);
  EXPECT_EQ(r->fields[0].key, "domain");
  EXPECT_EQ(r->fields[1].key, "pid");
}

TEST(KernelRecord, RefusesMalformedText) {
  for (std::string bad :
       {"", "domain=1", "audit(1.2): x=1", "audit(1.2:x): x=1", "audit(1.2:3) x=1",
        "audit(1.2:3): path=\"unterminated", "audit(1.2:99999999999999999999): x=1"}) {
    EXPECT_FALSE(ParseKernelRecord(kAuditLandlockAccess, bad).ok()) << bad;
  }
  std::string many = "audit(1.2:3):";
  for (size_t i = 0; i <= kMaxRecordFields; ++i) many += " k" + std::to_string(i) + "=v";
  EXPECT_FALSE(ParseKernelRecord(kAuditSyscall, many).ok());
  EXPECT_FALSE(
      ParseKernelRecord(kAuditSyscall, "audit(1.2:3): p=" + std::string(kMaxRecordText, 'A')).ok());
}

TEST(KernelRecord, HexDecoding) {
  EXPECT_EQ(DecodeAuditHex("2F746D70"), std::optional<std::string>("/tmp"));
  EXPECT_EQ(DecodeAuditHex("1B5B306D22"), std::optional<std::string>("\x1b[0m\""));
  EXPECT_FALSE(DecodeAuditHex("2f"));   // the kernel writes upper case
  EXPECT_FALSE(DecodeAuditHex("2F7"));  // odd length
  EXPECT_FALSE(DecodeAuditHex(""));
  EXPECT_FALSE(DecodeAuditHex("/tmp"));
}

TEST(LandlockDenials, ReportsOnlyThisSandboxsDomain) {
  CapturedSink cap;
  LandlockDenials d;
  d.SetSandboxPid(100);
  FeedDenial(d, *cap.sink, 10, "aa1", "\"/other/file\"", 200, 201);      // another sandbox
  FeedDenial(d, *cap.sink, 11, "aa2", "\"/var/tmp/secret\"", 100, 105);  // ours
  FeedDenial(d, *cap.sink, 12, "aa1", "\"/other/again\"", 200, 201, false);
  d.Flush(*cap.sink);
  auto ev = cap.Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["layer"], "landlock");
  EXPECT_EQ(ev[0]["action"], "deny");
  EXPECT_EQ(ev[0]["path"], "/var/tmp/secret");
  EXPECT_EQ(ev[0]["access"], nlohmann::json::array({"read_file"}));
  EXPECT_EQ(ev[0]["exe"], "/usr/bin/cat");
  EXPECT_EQ(ev[0]["pid"], 105);
  EXPECT_EQ(ev[0]["domain"], "aa2");
  EXPECT_EQ(d.totals().denials, 1u);
  EXPECT_EQ(d.totals().domains, 1u);
}

TEST(LandlockDenials, NoSandboxPidMeansNothingIsOurs) {
  CapturedSink cap;
  LandlockDenials d;
  FeedDenial(d, *cap.sink, 10, "aa1", "\"/x\"", 100, 100);
  d.Flush(*cap.sink);
  EXPECT_TRUE(cap.Events().empty());
}

TEST(LandlockDenials, DecodesHostilePaths) {
  CapturedSink cap;
  LandlockDenials d;
  d.SetSandboxPid(7);
  // "/tmp/a \"b\"\n\x1b[31mred" as the kernel writes it: in hex.
  const std::string path = "/tmp/a \"b\"\n\x1b[31mred";
  std::string hex;
  for (unsigned char c : path) {
    char b[3];
    snprintf(b, sizeof b, "%02X", c);
    hex += b;
  }
  FeedDenial(d, *cap.sink, 1, "d1", hex, 7, 7);
  d.Flush(*cap.sink);
  auto ev = cap.Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["path"], path);
  EXPECT_EQ(ev[0]["subject"], path);
}

TEST(LandlockDenials, RepeatsAreCountedAndDistinctOnesCapped) {
  CapturedSink cap;
  LandlockDenials d;
  d.SetSandboxPid(7);
  uint64_t serial = 1;
  FeedDenial(d, *cap.sink, serial++, "d1", "\"/same\"", 7, 7);
  for (int i = 0; i < 50; ++i) FeedDenial(d, *cap.sink, serial++, "d1", "\"/same\"", 7, 7, false);
  const size_t distinct = LandlockDenials::kMaxDistinct + 500;
  for (size_t i = 0; i < distinct; ++i)
    FeedDenial(d, *cap.sink, serial++, "d1", "\"/n" + std::to_string(i) + "\"", 7, 7, false);
  d.Flush(*cap.sink);
  d.EmitSummary(*cap.sink, 3, 2);
  EXPECT_EQ(d.totals().denials, 51u + distinct);
  EXPECT_EQ(d.totals().written, LandlockDenials::kMaxDistinct);
  auto ev = cap.Events();
  ASSERT_EQ(ev.size(), LandlockDenials::kMaxDistinct + 1);
  const auto& s = ev.back();
  EXPECT_EQ(s["action"], "file_denials");
  EXPECT_EQ(s["denials"], 51u + distinct);
  EXPECT_EQ(s["suppressed"], 51u + distinct - LandlockDenials::kMaxDistinct);
  EXPECT_EQ(s["records_lost"], 3);
  EXPECT_EQ(s["socket_overflows"], 2);
  EXPECT_EQ(s["repeated"][0]["path"], "/same");
  EXPECT_EQ(s["repeated"][0]["count"], 51);
}

TEST(LandlockDenials, GroupsWithoutEndRecordAreBounded) {
  // Without the kernel's syscall context there is no end-of-event record:
  // the groups still end, and never more than kMaxPending stay open.
  CapturedSink cap;
  LandlockDenials d;
  d.SetSandboxPid(7);
  d.Feed(
      kAuditLandlockAccess,
      Stamp(1) + "domain=d1 blockers=fs.write_file,fs.truncate path=\"/etc/x\" dev=\"vda\" ino=3",
      *cap.sink);
  d.Feed(kAuditLandlockDomain, Stamp(2) + "domain=d1 status=allocated mode=enforcing pid=7",
         *cap.sink);
  for (uint64_t s = 3; s < 3 + 3 * LandlockDenials::kMaxPending; ++s)
    d.Feed(kAuditLandlockAccess, Stamp(s) + "domain=zz blockers=fs.read_file path=\"/o\"",
           *cap.sink);
  auto ev = cap.Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["access"], nlohmann::json::array({"write_file", "truncate"}));
  EXPECT_FALSE(ev[0].contains("pid"));  // no syscall record: not known
}

TEST(LandlockDenials, IgnoresNonFileBlockersAndGarbage) {
  CapturedSink cap;
  LandlockDenials d;
  d.SetSandboxPid(7);
  d.Feed(kAuditLandlockAccess, Stamp(1) + "domain=d1 blockers=net.connect_tcp daddr=1.2.3.4",
         *cap.sink);
  d.Feed(kAuditLandlockDomain, Stamp(1) + "domain=d1 status=allocated pid=7", *cap.sink);
  d.Feed(kAuditEoe, Stamp(1), *cap.sink);
  d.Feed(kAuditLandlockAccess, "garbage", *cap.sink);
  d.Feed(kAuditLandlockDomain, Stamp(9) + "domain=d1 status=deallocated denials=4", *cap.sink);
  d.Flush(*cap.sink);
  EXPECT_TRUE(cap.Events().empty());
  EXPECT_EQ(d.totals().malformed, 1u);
  EXPECT_EQ(d.totals().kernel, 4u);
  EXPECT_TRUE(d.AllReleased());
}

}  // namespace
}  // namespace rf
