// DNS messages (RFC 1035 wire format) as the sandbox's resolver reads and
// writes them: one question per query, no compression pointers in it, an
// EDNS0 OPT record tolerated in the additional section. Everything is
// bounded by the message's own length; nothing here allocates more than
// the answer it writes.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rf::dns {

enum class Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeAaaa = 28;
constexpr uint16_t kTypeOpt = 41;
constexpr uint16_t kClassIn = 1;
// Largest UDP message read or answered (the EDNS0 default clients offer).
constexpr size_t kMaxMessage = 1232;
// RFC 1035 limits.
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxName = 255;

struct Query {
  uint16_t id = 0;
  bool recursion_desired = false;
  // Lower-cased, dot-separated, no trailing dot ("" for the root).
  std::string name;
  // Every label's bytes were letters, digits, '-' or '_' (a host name a
  // policy can name); anything else never matches one.
  bool hostname_syntax = false;
  std::vector<std::string> labels;  // lower-cased, in order
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  bool edns = false;  // an OPT record came with it
  // The question as it was sent (case kept), echoed in the answer.
  std::vector<uint8_t> question;
};

// Why a message is not a query this resolver answers. kFormErr and kNotImp
// come with the header's id (answer them); kDrop: not even a header, or a
// response (never answered: no reflection loops).
struct ParseError {
  enum Kind { kDrop, kFormErr, kNotImp } kind = kDrop;
  uint16_t id = 0;
  bool recursion_desired = false;
  const char* what = "";
};

struct Parsed {
  std::optional<Query> query;  // set when the message is a query to answer
  ParseError error;            // otherwise
};

Parsed ParseQuery(std::span<const uint8_t> message);

// The answer to `q`: `rcode`, and an A record for `address` (with `ttl`)
// when given. An OPT record is added when the query had one.
std::vector<uint8_t> WriteAnswer(const Query& q, Rcode rcode,
                                 std::optional<in_addr> address = std::nullopt, uint32_t ttl = 0);

// A header-only answer (no question) for a message ParseQuery refused with
// kFormErr or kNotImp.
std::vector<uint8_t> WriteError(const ParseError& e);

// A query message (for tests and the fuzz target): `name` dot-separated.
std::vector<uint8_t> WriteQuery(uint16_t id, const std::string& name, uint16_t qtype,
                                bool edns = false);

// What an answer says: its rcode and the A records' addresses (tests).
struct AnswerView {
  uint16_t id = 0;
  Rcode rcode = Rcode::kServFail;
  std::vector<in_addr> addresses;
  uint16_t answers = 0;
};
std::optional<AnswerView> ReadAnswer(std::span<const uint8_t> message);

// A name for messages: printable ASCII kept, other bytes as \DDD (the
// master-file escape), so a query cannot put control bytes in a log line.
std::string Printable(const std::string& name);

}  // namespace rf::dns
