#include "audit/audit.h"

#include <gtest/gtest.h>
#include <limits.h>

#include <string>

namespace rf {
namespace {

TEST(AuditFormatWithin, ShortEventsAreUnchanged) {
  AuditEvent e{"process", "start", "/bin/true", "started", {{"pid", 7}}};
  std::string line = AuditSink::FormatWithin(e, PIPE_BUF);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["subject"], "/bin/true");
  EXPECT_EQ(j["pid"], 7);
  EXPECT_FALSE(j.contains("truncated"));
  EXPECT_EQ(line.back(), '\n');
}

TEST(AuditFormatWithin, LongEventsFitAndSaySo) {
  // Long fields, multi-byte characters cut anywhere, a long extra field.
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "\xc3\xa9x";
  AuditEvent e{"policy", "invalid", big, big, {{"pid", 9}, {"args", big}}};
  for (size_t limit : {size_t{PIPE_BUF}, size_t{1024}, size_t{512}}) {
    std::string line = AuditSink::FormatWithin(e, limit);
    EXPECT_LE(line.size(), limit);
    auto j = nlohmann::json::parse(line);  // still one whole JSON object
    EXPECT_EQ(j["layer"], "policy");
    EXPECT_EQ(j["action"], "invalid");
    EXPECT_EQ(j["truncated"], true);
    EXPECT_EQ(line.back(), '\n');
  }
  // The small numeric fields survive the first shortening.
  auto j = nlohmann::json::parse(AuditSink::FormatWithin(e, PIPE_BUF));
  EXPECT_EQ(j["pid"], 9);
}

}  // namespace
}  // namespace rf
