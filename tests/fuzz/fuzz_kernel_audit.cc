// libFuzzer target: the kernel audit records the supervisor reads (any
// process on the host can cause records; paths and names in them are
// chosen by the sandboxed program).
//
// Input: records, each 1 byte of type selector (access, domain, syscall,
// end-of-event, other), 2 bytes of length, then the record's text. The
// sandbox's pid is 7. Properties checked beyond "no crash, no sanitizer
// report":
//  - a parsed record has at most kMaxRecordFields fields with non-empty
//    keys holding neither '=' nor ' ', and quoted values hold no '"';
//  - a value the hex decoder accepts re-encodes to itself;
//  - the attribution stays within its bounds: written <= denials,
//    written <= kMaxDistinct, domains <= kMaxDomains;
//  - every event it makes formats as one line of JSON.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "audit/kernel_audit.h"

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

std::string Hex(const std::string& s) {
  std::string out;
  char b[3];
  for (unsigned char c : s) {
    snprintf(b, sizeof b, "%02X", c);
    out += b;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int kTypes[] = {rf::kAuditLandlockAccess, rf::kAuditLandlockDomain,
                               rf::kAuditSyscall, rf::kAuditEoe, 1327};
  rf::AuditSink sink;  // no file: events are formatted below instead
  rf::LandlockDenials d;
  d.SetSandboxPid(7);
  size_t i = 0;
  while (i + 3 <= size) {
    const int type = kTypes[data[i] % 5];
    const size_t len = static_cast<size_t>(data[i + 1]) | static_cast<size_t>(data[i + 2]) << 8;
    i += 3;
    const size_t take = len < size - i ? len : size - i;
    std::string_view text(reinterpret_cast<const char*>(data + i), take);
    i += take;
    auto r = rf::ParseKernelRecord(type, text);
    if (r.ok()) {
      Check(r->fields.size() <= rf::kMaxRecordFields);
      for (const auto& f : r->fields) {
        Check(!f.key.empty());
        Check(f.key.find('=') == std::string::npos && f.key.find(' ') == std::string::npos);
        if (f.quoted) Check(f.value.find('"') == std::string::npos);
        if (auto dec = rf::DecodeAuditHex(f.value)) Check(Hex(*dec) == f.value);
      }
      if (const auto* p = r->Find("path")) {
        rf::FileDenial fd;
        fd.path = r->Untrusted("path");
        fd.access = {"read_file"};
        std::string line = rf::AuditSink::Format(rf::LandlockDenials::EventFor(fd));
        Check(!line.empty() && line.back() == '\n');
        Check(line.find('\n') == line.size() - 1);
        (void)p;
      }
    }
    d.Feed(type, text, sink);
  }
  d.Flush(sink);
  d.EmitSummary(sink, 0, 0);
  const auto& t = d.totals();
  Check(t.written <= t.denials);
  Check(t.written <= rf::LandlockDenials::kMaxDistinct);
  Check(t.domains <= rf::LandlockDenials::kMaxDomains);
  return 0;
}
