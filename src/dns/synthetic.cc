#include "dns/synthetic.h"

#include <arpa/inet.h>

namespace rf::dns {

namespace {
constexpr uint32_t kRangeMask = ~((1u << (32 - SyntheticNames::kPrefixLength)) - 1u);
// Usable hosts per /24: .1 to .254.
constexpr size_t kPerBlock = 254;
constexpr size_t kBlocks = size_t{1} << (24 - SyntheticNames::kPrefixLength);
}  // namespace

SyntheticNames::SyntheticNames(size_t capacity)
    : capacity_(capacity < kPerBlock * kBlocks ? capacity : kPerBlock * kBlocks) {}

std::optional<uint32_t> SyntheticNames::HostOrderFor(size_t index) {
  if (index >= kPerBlock * kBlocks) return std::nullopt;
  const uint32_t block = static_cast<uint32_t>(index / kPerBlock);
  const uint32_t host = static_cast<uint32_t>(index % kPerBlock) + 1;
  return kBase + (block << 8) + host;
}

std::optional<in_addr> SyntheticNames::AddressFor(std::string_view name) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string key(name);
  auto found = by_name_.find(key);
  uint32_t host_order = 0;
  if (found != by_name_.end()) {
    host_order = found->second;
  } else {
    if (by_name_.size() >= capacity_) return std::nullopt;
    auto next = HostOrderFor(by_name_.size());
    if (!next) return std::nullopt;
    host_order = *next;
    by_address_.emplace(host_order, key);
    by_name_.emplace(std::move(key), host_order);
  }
  in_addr out{};
  out.s_addr = htonl(host_order);
  return out;
}

std::optional<std::string> SyntheticNames::NameFor(in_addr address) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_address_.find(ntohl(address.s_addr));
  if (found == by_address_.end()) return std::nullopt;
  return found->second;
}

bool SyntheticNames::InRange(in_addr address) {
  return (ntohl(address.s_addr) & kRangeMask) == kBase;
}

size_t SyntheticNames::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_name_.size();
}

}  // namespace rf::dns
