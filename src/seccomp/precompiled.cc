#include "seccomp/precompiled.h"

#include <type_traits>

#include "common/aggregate.h"

namespace rf::seccomp {

// A new field must be enumerated in AllProfileOptions, or the table has no
// program for its other values and every such run compiles at start-up (the
// key itself covers every field without being told).
static_assert(AggregateFieldCount<ProfileOptions>() == 7,
              "ProfileOptions has a new field: enumerate its values in AllProfileOptions "
              "(src/seccomp/precompiled.cc) and update the count in the equivalence test "
              "(tests/unit/seccomp_test.cc), then change this number");

uint32_t ProfileKey(const ProfileOptions& o) {
  uint32_t key = 0;
  unsigned shift = 0;
  ForEachField(o, [&](const auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    static_assert(std::is_same_v<F, bool> || std::is_enum_v<F>,
                  "ProfileKey packs bools and small enums: give a wider field its own packing");
    // Four bits a field: NetMode has five values, a bool two.
    key |= (static_cast<uint32_t>(field) & 0xf) << shift;
    shift += 4;
  });
  return key;
}

// Overridden by the generated table in the binaries that link it.
__attribute__((weak)) std::span<const PrecompiledEntry> PrecompiledTable() { return {}; }

ProgramView PrecompiledProgram(const ProfileOptions& o) {
  const uint32_t key = ProfileKey(o);
  for (const PrecompiledEntry& e : PrecompiledTable())
    if (e.key == key) return {e.insns, e.len};
  return {};
}

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

Result<CompiledProgram> CompileCached(const ProfileOptions& o,
                                      const std::function<const Profile&()>& profile) {
  ProgramView v = PrecompiledProgram(o);
  if (v.len) return CompiledProgram{std::vector<sock_filter>(v.insns, v.insns + v.len), true};
  auto prog = Compile(profile());
  if (!prog.ok()) return prog.status();
  return CompiledProgram{std::move(prog).value(), false};
}

}  // namespace rf::seccomp
