#include "seccomp/precompiled.h"

namespace rf::seccomp {

// Overridden by the generated table (build/seccomp_precompiled.cc) in the
// binaries that link it.
__attribute__((weak)) ProgramView PrecompiledProgram(const ProfileOptions&) { return {}; }

std::vector<ProfileOptions> AllProfileOptions() {
  std::vector<ProfileOptions> all;
  for (NetMode m : {NetMode::kNamespace, NetMode::kPlatform, NetMode::kNone, NetMode::kHost})
    for (bool sysv : {false, true})
      for (bool nc : {false, true})
        for (bool nd : {false, true})
          for (bool dgram : {false, true})
            for (bool inet : {true, false})
              for (bool pty : {false, true}) {
                if (!inet && m != NetMode::kNone) continue;  // only mode none drops them
                // Namespace mode allows tcsetpgrp anyway (the layer passes false).
                if (pty && m == NetMode::kNamespace) continue;
                ProfileOptions o;
                o.mode = m;
                o.sysv_ipc = sysv;
                o.notify_connect = nc;
                o.notify_denials = nd;
                o.unix_dgram = dgram;
                o.inet_sockets = inet;
                o.private_terminal = pty;
                all.push_back(o);
              }
  return all;
}

Result<std::vector<sock_filter>> CompileCached(const Profile& p) {
  ProgramView v = PrecompiledProgram(p.options);
  if (v.len) return std::vector<sock_filter>(v.insns, v.insns + v.len);
  return Compile(p);
}

}  // namespace rf::seccomp
