// Text for the user's terminal that the sandbox could have influenced (a
// binary's path, a host name, a command): control characters, escape
// sequences and bytes that are not UTF-8 are shown as \xNN, so nothing the
// sandbox names can retitle, recolour or rewrite the terminal.
#pragma once

#include <string>

namespace rf {

// Newlines and tabs are kept when `keep_newlines` (multi-line messages);
// every other C0 control, DEL, C1 controls (U+0080..U+009F) and invalid
// UTF-8 bytes are escaped.
std::string TerminalText(const std::string& s, bool keep_newlines = true);

}  // namespace rf
