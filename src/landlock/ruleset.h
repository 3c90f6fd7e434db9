// Landlock: ABI probe and a reusable ruleset builder.
//
// Everything happens before fork: the probe, opening each path (O_PATH), the
// ruleset fd with its rules. The result is a ChildStep whose Apply() only
// calls landlock_restrict_self(fd) (no_new_privs is set by the spawn
// sequence) and a LandlockStatus that says exactly what is enforced: the ABI,
// the rights handled, each skipped path with its reason, each degraded right,
// and one of "fully enforced" / "partially enforced" / "not enforced".
//
// Model: rust-landlock's CompatLevel and RulesetStatus. Whether a degradation
// is fatal is the caller's decision (see src/sandbox/landlock_layer.cc).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "process/spawn.h"

namespace rf::landlock {

// The result of probing the kernel.
struct Abi {
  int kernel = 0;          // what the kernel reports (0 = Landlock unusable)
  int used = 0;            // what ringfence uses: min(kernel, cap, kMaxKnownAbi)
  std::string reason;      // why Landlock is unusable or capped; empty otherwise
  std::optional<int> cap;  // RINGFENCE_TEST_LANDLOCK_ABI, when set
  long errata = -1;        // ABI >= 7: the kernel's errata bits; -1 = unknown
  int error = 0;           // the probe's errno when the kernel refused it (kernel == 0)
};

// Maps an errno of landlock_create_ruleset(NULL, 0, VERSION) to a reason.
std::string ProbeErrorReason(int err);

// Asks the kernel, then applies `cap` (a test knob that can only lower the
// ABI) and the highest ABI this build knows.
Abi ProbeAbi(std::optional<int> cap = std::nullopt);
// Same, from a known kernel answer (kernel ABI or -errno): for tests.
Abi AbiFromKernelAnswer(long answer, std::optional<int> cap);

// Parses RINGFENCE_TEST_LANDLOCK_ABI's value: a number 0..99.
Result<std::optional<int>> ParseAbiCap(const char* value);

enum class Access { kReadOnly, kReadWrite };

struct PathRule {
  std::string path;
  Access access;
  uint64_t rights = 0;  // when not 0: exactly these rights instead of `access`'s
};

struct Request {
  std::vector<PathRule> paths;
  // TCP ports the sandbox may connect to / bind; nullopt = TCP rights not
  // handled. An empty vector handles the right and allows no port.
  std::optional<std::vector<uint16_t>> connect_ports;
  std::optional<std::vector<uint16_t>> bind_ports;
  bool scope_signal = true;
  bool scope_abstract_unix = true;
  // Paths (and everything under them) that the command's process mounts
  // anew before confinement (namespace mode mounts its own /proc): their
  // rules are added again, in the child, right before restrict_self, so
  // they bind the new mount's inodes.
  std::vector<std::string> reopen_after_mount;
  // Directories that exist only after the child's own mounts (the
  // sandbox's tmpfs on /tmp): opened and added in the child alone, never
  // on the host path they cover.
  std::vector<PathRule> after_mount_only;
  // Paths among `paths` that are the sandbox's own (its per-run home and
  // /tmp directory): granted, but they never make an empty policy
  // non-empty, as they grant nothing of the host's.
  std::vector<std::string> sandbox_own;
  // The command's own /proc/<pid>/task, read and written (thread names),
  // by a rule the command adds to the ruleset itself: prepared here, its
  // path names the supervisor. Only its threads are below it.
  bool own_task_dir = false;
  // network.unix_sockets: with ABI 9 they get LANDLOCK_ACCESS_FS_RESOLVE_UNIX
  // (see UnixResolveRoots); "@name" entries are ignored here.
  std::vector<std::string> unix_sockets;
  // Besides root, the owner whose symbolic links (and the directories
  // holding them) are trusted in rule paths: the user who started
  // ringfence (src/landlock/resolve.h).
  uid_t trusted_uid = 0;
};

// Rights wanted for an access level, before the ABI mask.
uint64_t WantedFsRights(Access a);
// Where RESOLVE_UNIX (ABI 9) is granted for network.unix_sockets entries: an
// exact path itself; for a glob, the directory holding its first globbed
// component. Abstract ("@") entries have no path and are skipped.
std::vector<std::string> UnixResolveRoots(const std::vector<std::string>& entries);
// Names of the rights in a mask ("read_file", "ioctl_dev", ...).
std::vector<std::string> FsRightNames(uint64_t mask);
std::vector<std::string> NetRightNames(uint64_t mask);
std::vector<std::string> ScopeNames(uint64_t mask);

struct SkippedPath {
  std::string path;
  std::string reason;
};

struct AddedRule {
  std::string path;
  std::string kind;  // "directory" or "file"
  uint64_t access;   // what the kernel got
  dev_t dev = 0;     // the inode the rule binds
  ino_t ino = 0;
  // When the path is or passes through symbolic links: what the rule binds,
  // and each link followed ("LINK -> TARGET"). Empty otherwise.
  std::string resolved;
  std::vector<std::string> symlinks;
};

enum class Enforcement { kFully, kPartially, kNot };
const char* ToString(Enforcement e);

struct LandlockStatus {
  Abi abi;
  uint64_t handled_fs = 0;
  uint64_t handled_net = 0;
  uint64_t scoped = 0;
  uint32_t restrict_flags = 0;
  std::vector<AddedRule> rules;
  std::vector<uint16_t> connect_ports, bind_ports;
  std::vector<SkippedPath> skipped;
  std::vector<std::string> degraded;  // one line per right/scope not enforced
  // Rules the command adds before restrict_self (Request::own_task_dir).
  std::vector<AddedRule> command_rules;
  Enforcement enforcement = Enforcement::kNot;

  // One line per degradation (degraded rights, unusable Landlock, skipped
  // paths), without the "ringfence: warning: landlock: " prefix. With
  // `subjects`, what each line is about, at the same index: the skipped
  // path, else "landlock" (the audit event's subject).
  std::vector<std::string> Degradations(std::vector<std::string>* subjects = nullptr) const;
  nlohmann::json ToJson() const;
};

// The child step: landlock_restrict_self on a ruleset prepared before fork.
struct LateRule {
  std::string path;
  uint64_t access;
};

class RestrictStep : public ChildStep {
 public:
  RestrictStep(UniqueFd fd, uint32_t flags, std::vector<LateRule> late = {})
      : fd_(std::move(fd)), flags_(flags), late_(std::move(late)) {}
  const char* name() const override { return "landlock"; }
  int Apply() const noexcept override;
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  uint32_t flags_;
  // Opened and added in the child (paths prepared before fork); their
  // descriptors stay open until exec, so that the directory entries the
  // rules bind are in use until init holds them (procfs makes a new inode
  // when an unused entry is looked up again).
  std::vector<LateRule> late_;
};

struct Prepared {
  std::unique_ptr<RestrictStep> step;  // null when Landlock is not enforced
  LandlockStatus status;
};

// Builds the ruleset for `req` at ABI `abi`. Missing or unopenable paths,
// paths reached through a symbolic link that is not trusted
// (src/landlock/resolve.h), and a read-write rule on the host's root
// directory are skipped and reported, never disabling the rest. Fails (error Status) only
// when a ruleset cannot be built at all: the kernel refuses it, or it would
// end up with zero path rules (an empty ruleset would deny everything).
// With abi.used == 0 it succeeds with no step and status "not enforced".
Result<Prepared> Build(const Request& req, const Abi& abi);

}  // namespace rf::landlock
