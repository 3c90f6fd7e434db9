// Seccomp programs compiled at build time.
//
// Compiling the profile with libseccomp costs more than everything else
// ringfence does before exec put together (about 2.9 M instructions). The
// profile depends only on ProfileOptions, a small finite set, so the build
// runs tools/seccomp_gen.cc, which compiles every combination with the same
// code (seccomp::Compile) and writes them into the ringfence binary, each
// under its ProfileKey. At run time the layer takes the precompiled program
// when there is one and compiles otherwise (CompileCached). A unit test
// checks that both are identical.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "seccomp/profile.h"

namespace rf::seccomp {

struct ProgramView {
  const sock_filter* insns = nullptr;
  size_t len = 0;
};

// Every field of `o`, packed: the one key the generator writes next to each
// program, the lookup searches for and the equivalence test checks. Options
// that differ in any field have different keys.
uint32_t ProfileKey(const ProfileOptions& o);

struct PrecompiledEntry {
  uint32_t key;  // ProfileKey of the options the program was compiled for
  const sock_filter* insns;
  size_t len;
};

// The generated table (build/seccomp_precompiled.cc), or an empty one in
// binaries that do not link it (tools, the generator itself).
std::span<const PrecompiledEntry> PrecompiledTable();

// The precompiled program for `o`, or an empty view when this binary has
// none.
ProgramView PrecompiledProgram(const ProfileOptions& o);

// Every option combination the generator covers, in table order.
std::vector<ProfileOptions> AllProfileOptions();

struct CompiledProgram {
  std::vector<sock_filter> insns;
  bool precompiled = false;  // taken from the table, not compiled now
};

// The precompiled program for `o` when there is one, else the profile that
// `profile()` returns (built only then: building it costs too) compiled now.
Result<CompiledProgram> CompileCached(const ProfileOptions& o,
                                      const std::function<const Profile&()>& profile);

}  // namespace rf::seccomp
