// `ringfence policy suggest --from AUDIT [--policy CURRENT] [--write NEW]`
// (docs/policy-suggest.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/fd.h"
#include "common/terminal_text.h"
#include "policy/loader.h"
#include "policy/suggest.h"

namespace rf {

namespace {

struct SuggestOptions {
  std::string from, policy_file, write;
};

int Fail(const std::string& why) {
  fprintf(stderr, "ringfence: policy suggest: %s\n", TerminalText(why).c_str());
  return 1;
}

// Written whole or not at all: to a new name beside it, then renamed over
// NEW, so a reader never sees half a policy. Not through a symbolic link.
Status WriteNew(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".ringfence-tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::Errno("cannot create ", tmp);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t w = ::write(fd.get(), text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      Status s = Status::Errno("cannot write ", tmp);
      unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(w);
  }
  if (fsync(fd.get()) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Status::Errno("cannot write ", path);
    unlink(tmp.c_str());
    return s;
  }
  return Status::Ok();
}

int SuggestMain(const SuggestOptions& o) {
  SuggestContext ctx;
  std::string current;
  if (!o.policy_file.empty()) {
    auto text = ReadPolicyText(o.policy_file);
    if (!text.ok()) return Fail(text.status().reason());
    auto p = LoadPolicyString(*text, o.policy_file);
    if (!p.ok()) {
      fprintf(stderr, "%s\n", p.status().reason().c_str());
      return Fail("--policy " + o.policy_file + " is not a valid policy");
    }
    ctx.pinned_hosts = p->network.hosts;
    for (const auto& np : p->network_policies) ctx.taken_keys.insert(np.key);
    current = *text;
  }
  if (!o.write.empty()) {
    if (o.policy_file.empty()) return Fail("--write needs --policy CURRENT (the policy to extend)");
    struct stat a, b;
    if (o.write == o.policy_file ||
        (stat(o.write.c_str(), &a) == 0 && stat(o.policy_file.c_str(), &b) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino))
      return Fail("--write " + o.write +
                  " is the current policy: a suggestion is never applied in place; write a new "
                  "file and review it");
  }
  std::ifstream log(o.from);
  if (!log) return Fail("cannot read --from " + o.from + ": " + strerror(errno));
  Suggestion s = SuggestFromLog(log, ctx);
  if (log.bad()) return Fail("cannot read --from " + o.from + ": " + strerror(errno));
  fputs(RenderSuggestion(s, o.from).c_str(), stdout);
  if (o.write.empty()) return 0;
  if (s.policies.empty() && s.rules.empty()) {
    fprintf(stderr, "ringfence: policy suggest: nothing to propose; %s not written\n",
            o.write.c_str());
    return 0;
  }
  auto merged = MergeSuggestion(current, s);
  if (!merged.ok()) return Fail(merged.status().reason());
  const std::string text = "# " + o.policy_file + " with the suggestion of `ringfence policy " +
                           "suggest` from " + o.from + " (review before use)\n" + *merged;
  // The loader judges the result as `run` will: nothing invalid is written.
  auto check = LoadPolicyString(text, o.write);
  if (!check.ok()) {
    fprintf(stderr, "%s\n", check.status().reason().c_str());
    return Fail("the merged policy is not valid; " + o.write + " not written");
  }
  if (Status st = WriteNew(o.write, text); !st.ok()) return Fail(st.reason());
  fprintf(stderr, "ringfence: policy suggest: wrote %s (%zu new entr%s, %zu rule(s))\n",
          o.write.c_str(), s.policies.size(), s.policies.size() == 1 ? "y" : "ies", s.rules.size());
  return 0;
}

}  // namespace

CLI::App* AddPolicySuggestCommand(CLI::App& policy_cmd) {
  auto o = std::make_shared<SuggestOptions>();
  auto* cmd = policy_cmd.add_subcommand(
      "suggest",
      "Propose the network_policies change that would have allowed an audit log's "
      "refusals (printed; applied only with --write NEW_FILE)");
  cmd->add_option("--from", o->from, "Audit log (JSON Lines, from run --audit or --events)")
      ->required();
  cmd->add_option("--policy", o->policy_file, "The policy the log was recorded under");
  cmd->add_option("--write", o->write,
                  "Write the policy with the suggestion merged to NEW_FILE (never CURRENT)");
  cmd->footer("Exit codes: 0 suggestion printed (and written), 1 error, 2 usage.");
  cmd->callback([o]() {
    fflush(nullptr);
    int rc = SuggestMain(*o);
    fflush(nullptr);
    exit(rc);
  });
  return cmd;
}

}  // namespace rf
