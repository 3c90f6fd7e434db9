// `ringfence diagnose [FILE|-] [--json]`: exit 0 when a known failure
// matched, 1 for unknown input, 2 when the input cannot be read.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.h"
#include "common/fd.h"
#include "common/json_text.h"
#include "common/status.h"
#include "diagnose/catalogue.h"

namespace rf {

namespace {

constexpr size_t kMaxInput = 16u << 20;  // logs beyond 16 MiB are cut

Result<std::string> ReadInput(const std::string& file) {
  UniqueFd owned;
  int fd = STDIN_FILENO;
  if (!file.empty() && file != "-") {
    owned.reset(open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned.valid()) return Status::Errno("open ", file);
    fd = owned.get();
  }
  std::string out;
  char buf[65536];
  while (out.size() < kMaxInput) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("read ", (file.empty() ? std::string("stdin") : file));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  if (out.size() > kMaxInput) out.resize(kMaxInput);
  return out;
}

}  // namespace

int DiagnoseMain(const std::string& file, bool json) {
  auto text = ReadInput(file);
  if (!text.ok()) {
    fprintf(stderr, "ringfence: diagnose: %s\n", text.status().reason().c_str());
    return 2;
  }
  auto found = Diagnose(*text);
  if (json)
    printf("%s\n", JsonText(DiagnosesToJson(found), 2).c_str());
  else
    fputs(FormatDiagnoses(found).c_str(), stdout);
  return found.empty() ? 1 : 0;
}

CLI::App* AddDiagnoseCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "diagnose", "Match an error text or log against known failures and print recovery steps");
  struct Opts {
    bool json = false;
    std::string file;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("file", o->file, "File to read; - or nothing for stdin");
  cmd->add_flag("--json", o->json, "JSON output");
  cmd->footer("Exit codes: 0 a known failure matched, 1 unknown input, 2 input unreadable.");
  cmd->callback([o] { std::exit(DiagnoseMain(o->file, o->json)); });
  return cmd;
}

}  // namespace rf
