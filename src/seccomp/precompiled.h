// Seccomp programs compiled at build time.
//
// Compiling the profile with libseccomp costs more than everything else
// ringfence does before exec put together (about 2.9 M instructions). The
// profile depends only on ProfileOptions, a small finite set, so the build
// runs tools/seccomp_gen.cc, which compiles every combination with the same
// code (seccomp::Compile) and writes them into the ringfence binary. At run
// time the layer takes the precompiled program when there is one and
// compiles otherwise. A unit test checks that both are identical.
#pragma once

#include <linux/filter.h>

#include <cstddef>

#include "seccomp/profile.h"

namespace rf::seccomp {

struct ProgramView {
  const sock_filter* insns = nullptr;
  size_t len = 0;
};

// The precompiled program for `o`, or an empty view when this binary has
// none (tools, tests that do not link the generated table).
ProgramView PrecompiledProgram(const ProfileOptions& o);

// Every option combination the generator covers, in table order.
std::vector<ProfileOptions> AllProfileOptions();

// Precompiled when available, else compiled now.
Result<std::vector<sock_filter>> CompileCached(const Profile& p);

}  // namespace rf::seccomp
