#include "common/terminal_text.h"

#include <gtest/gtest.h>

namespace rf {
namespace {

TEST(TerminalText, EscapesWhatATerminalWouldObey) {
  EXPECT_EQ(TerminalText("x\x1b]0;PWNED\a\x1b[31mRED"), "x\\x1b]0;PWNED\\x07\\x1b[31mRED");
  EXPECT_EQ(TerminalText("a\rb\x7f"), "a\\x0db\\x7f");
  // C1 controls, UTF-8 encoded (U+009B is CSI) and as raw bytes.
  EXPECT_EQ(TerminalText("\xc2\x9b"
                         "2J"),
            "\\xc2\\x9b2J");
  EXPECT_EQ(TerminalText("\x9b"
                         "2J"),
            "\\x9b2J");
  // Overlong and truncated sequences are not UTF-8.
  EXPECT_EQ(TerminalText("\xc0\x9b"), "\\xc0\\x9b");
  EXPECT_EQ(TerminalText("\xe2\x82"), "\\xe2\\x82");
}

TEST(TerminalText, KeepsOrdinaryText) {
  EXPECT_EQ(TerminalText("/usr/bin/curl  api.github.com:443  x3\n"),
            "/usr/bin/curl  api.github.com:443  x3\n");
  EXPECT_EQ(TerminalText("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92");
  EXPECT_EQ(TerminalText("a\nb", false), "a\\x0ab");
}

}  // namespace
}  // namespace rf
