// Synthetic addresses for policy names (docs/dns.md).
//
// The sandbox's resolver answers a name the policy can reach with an address
// from a range no real host uses (198.18.0.0/15, reserved for benchmarking,
// RFC 2544), allocated per run, and the connect guard maps a connect to such
// an address back to the name. The command never learns a real address, so
// it cannot aim at one directly, two names that share a real address stay
// apart, and the supervisor resolves and pins the real destination only when
// it carries the connection.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rf::dns {

class SyntheticNames {
 public:
  // 198.18.0.0/15: 131,072 addresses; the first and last of each /24 are
  // skipped so no client treats an answer as a network or broadcast address.
  static constexpr uint32_t kBase = 0xC6120000u;  // 198.18.0.0
  static constexpr uint32_t kPrefixLength = 15;
  // Bound on the names one run may be given addresses for: beyond it new
  // names get no address (the resolver answers SERVFAIL and audits it).
  static constexpr size_t kDefaultCapacity = 65536;

  explicit SyntheticNames(size_t capacity = kDefaultCapacity);

  // The address for `name` (lower-cased, without a trailing dot: callers
  // normalise), allocating one the first time; nullopt when the run's
  // capacity is used up. Thread-safe.
  std::optional<in_addr> AddressFor(std::string_view name);
  // The name an address was given to; nullopt for any address this run did
  // not hand out (including other addresses of the range). Thread-safe.
  std::optional<std::string> NameFor(in_addr address) const;
  // Whether an address lies in the synthetic range at all.
  static bool InRange(in_addr address);

  size_t size() const;

 private:
  static std::optional<uint32_t> HostOrderFor(size_t index);

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> by_name_;
  std::unordered_map<uint32_t, std::string> by_address_;
};

}  // namespace rf::dns
