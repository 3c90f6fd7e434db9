#include "credentials/store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/fd.h"
#include "l7/glob.h"
#include "policy/credential_check.h"

namespace rf::cred {

namespace {

constexpr std::string_view kOwn = "ringfence:cred:";
constexpr std::string_view kOpenShell = "openshell:resolve:env:";
constexpr std::string_view kAlias = "provider-OPENSHELL-RESOLVE-ENV-";
constexpr size_t kNonceHex = 32;
// A credential file is a token or a key, not a document.
constexpr size_t kMaxFileValue = 64 * 1024;

bool NameChar(char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool HexChar(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// A value on its way into the arena: wiped when it goes.
struct Transient {
  std::string bytes;
  ~Transient() { explicit_bzero(bytes.data(), bytes.capacity()); }
};

Status ReadValueFile(const std::string& path, Transient* out) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return Status::Errno("cannot open " + path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::Errno("cannot stat " + path);
  if (!S_ISREG(st.st_mode)) return Status::Invalid(path + " is not a regular file");
  out->bytes.reserve(kMaxFileValue + 1);
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      explicit_bzero(buf, sizeof buf);
      return Status::Errno("cannot read " + path);
    }
    if (n == 0) break;
    if (out->bytes.size() + static_cast<size_t>(n) > kMaxFileValue) {
      explicit_bzero(buf, sizeof buf);
      return Status::Invalid(path + " is larger than 64 KiB");
    }
    out->bytes.append(buf, static_cast<size_t>(n));
  }
  explicit_bzero(buf, sizeof buf);
  // Files end with a newline that is not part of the token.
  if (!out->bytes.empty() && out->bytes.back() == '\n') out->bytes.pop_back();
  if (!out->bytes.empty() && out->bytes.back() == '\r') out->bytes.pop_back();
  return Status::Ok();
}

}  // namespace

std::vector<Found> FindPlaceholders(std::string_view text) {
  std::vector<Found> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t own = text.find(kOwn, i), os = text.find(kOpenShell, i), al = text.find(kAlias, i);
    size_t at = std::min({own, os, al});
    if (at == std::string_view::npos) break;
    std::string_view prefix = at == own ? kOwn : at == os ? kOpenShell : kAlias;
    size_t p = at + prefix.size();
    size_t name_end = p;
    while (name_end < text.size() && NameChar(text[name_end])) ++name_end;
    if (name_end == p) {
      i = at + 1;
      continue;
    }
    Found f;
    f.pos = at;
    f.name = std::string(text.substr(p, name_end - p));
    size_t end = name_end;
    if (prefix == kOwn) {
      // The nonce: exactly what a placeholder carries, else whatever
      // follows the name's ':' up to a non-hex byte (a wrong nonce is still
      // this form, and refused).
      if (end < text.size() && text[end] == ':') {
        size_t n = end + 1;
        while (n < text.size() && HexChar(text[n]) && n - end - 1 < kNonceHex) ++n;
        f.nonce = std::string(text.substr(end + 1, n - end - 1));
        end = n;
      }
    }
    f.len = end - at;
    out.push_back(std::move(f));
    i = end;
  }
  return out;
}

bool MayHoldPlaceholder(std::string_view text) {
  return text.find(kOwn) != std::string_view::npos ||
         text.find(kOpenShell) != std::string_view::npos ||
         text.find(kAlias) != std::string_view::npos;
}

size_t PlaceholderHoldBack() {
  return std::max({kOwn.size(), kOpenShell.size(), kAlias.size()}) - 1;
}

Store::~Store() {
  if (arena_) {
    explicit_bzero(arena_, arena_size_);
    munmap(arena_, arena_size_);
  }
}

Result<std::shared_ptr<Store>> Store::Load(const std::vector<Credential>& credentials,
                                           const std::vector<NetworkPolicy>& policies,
                                           char** environ_in, std::string nonce) {
  std::shared_ptr<Store> s(new Store());
  if (nonce.empty()) {
    unsigned char raw[kNonceHex / 2];
    if (getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
      return Status::Errno("credentials: getrandom");
    static const char kHex[] = "0123456789abcdef";
    for (unsigned char b : raw) nonce += kHex[b >> 4], nonce += kHex[b & 15];
  }
  s->nonce_ = nonce;
  std::vector<Transient> values(credentials.size());
  size_t total = 0;
  for (size_t i = 0; i < credentials.size(); ++i) {
    const Credential& c = credentials[i];
    Secret sec;
    sec.name = c.name;
    sec.placeholder = std::string(kOwn) + c.name + ":" + nonce;
    if (c.from.rfind("env:", 0) == 0) {
      const std::string var = c.from.substr(4);
      sec.source_var = var;
      const char* v = nullptr;
      for (char** e = environ_in; e && *e; ++e)
        if (strncmp(*e, var.c_str(), var.size()) == 0 && (*e)[var.size()] == '=')
          v = *e + var.size() + 1;
      if (!v || !*v)
        return Status::Invalid("credential " + c.name + ": the variable " + var +
                               " is not set (or empty) in ringfence's environment");
      values[i].bytes.assign(v);
    } else {
      if (Status st = ReadValueFile(c.from.substr(5), &values[i]); !st.ok())
        return st.With("credential " + c.name);
      if (values[i].bytes.empty())
        return Status::Invalid("credential " + c.name + ": " + c.from.substr(5) + " is empty");
    }
    if (MayHoldPlaceholder(values[i].bytes))
      return Status::Invalid("credential " + c.name + ": its value is itself a placeholder");
    sec.offset = total;
    sec.length = values[i].bytes.size();
    total += sec.length;
    for (const auto& e : c.endpoints) sec.bindings.push_back({e.host, e.port, e.path});
    for (const auto& np : policies)
      for (const auto& ep : np.endpoints)
        if (!ep.credentials.binding.empty() && CredentialProvides(c, ep.credentials.binding))
          for (uint16_t port : ep.ports) sec.bindings.push_back({ep.host, port, ep.path});
    s->secrets_.push_back(std::move(sec));
  }
  if (total > 0) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    s->arena_size_ = (total + page - 1) / page * page;
    void* m =
        mmap(nullptr, s->arena_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      s->arena_size_ = 0;
      return Status::Errno("credentials: mmap");
    }
    s->arena_ = static_cast<char*>(m);
    // Never in a core file, and zeros in every process forked from here on
    // (the sandbox's init, the command before its exec): only the
    // supervisor holds the values.
    if (madvise(m, s->arena_size_, MADV_WIPEONFORK) != 0)
      return Status::Errno("credentials: madvise(MADV_WIPEONFORK)");
    (void)madvise(m, s->arena_size_, MADV_DONTDUMP);
    (void)mlock(m, s->arena_size_);  // best effort: not written to swap
    for (size_t i = 0; i < s->secrets_.size(); ++i)
      memcpy(s->arena_ + s->secrets_[i].offset, values[i].bytes.data(), s->secrets_[i].length);
  }
  // The supervisor's own copy of each variable goes: the environment is
  // inherited by everything it starts.
  for (const auto& sec : s->secrets_) {
    if (sec.source_var.empty()) continue;
    for (char** e = environ_in; e && *e; ++e)
      if (strncmp(*e, sec.source_var.c_str(), sec.source_var.size()) == 0 &&
          (*e)[sec.source_var.size()] == '=')
        explicit_bzero(*e + sec.source_var.size() + 1, strlen(*e + sec.source_var.size() + 1));
  }
  return s;
}

std::vector<std::string> Store::Environment() const {
  std::vector<std::string> out;
  for (const auto& s : secrets_) out.push_back(s.name + "=" + s.placeholder);
  return out;
}

std::vector<std::string> Store::SourceVariables() const {
  std::vector<std::string> out;
  for (const auto& s : secrets_)
    if (!s.source_var.empty()) out.push_back(s.source_var);
  return out;
}

const Store::Secret* Store::Resolve(const Found& f) const {
  for (const auto& s : secrets_)
    if (s.name == f.name) return &s;
  return nullptr;
}

Store::Outcome Store::Rewrite(std::string_view host, uint16_t port, std::string_view path,
                              std::string_view in, std::string* out) const {
  if (!MayHoldPlaceholder(in)) return Outcome::kUnchanged;
  std::vector<Found> found = FindPlaceholders(in);
  if (found.empty()) return Outcome::kUnchanged;
  std::string result;
  result.reserve(in.size() + 64);
  size_t at = 0;
  for (const Found& f : found) {
    const bool own = in.substr(f.pos, kOwn.size()) == kOwn;
    const Secret* s = Resolve(f);
    if (!s || (own && f.nonce != nonce_)) return Outcome::kMismatch;
    bool bound = false;
    for (const auto& b : s->bindings) {
      if (b.port != port || !HostMatchesPattern(std::string(host), b.host)) continue;
      if (!b.path.empty() && !l7::GlobMatch(b.path, path)) continue;
      bound = true;
      break;
    }
    if (!bound) {
      explicit_bzero(result.data(), result.size());
      return Outcome::kMismatch;
    }
    result.append(in.substr(at, f.pos - at));
    result.append(arena_ + s->offset, s->length);
    at = f.pos + f.len;
  }
  result.append(in.substr(at));
  *out = std::move(result);
  return Outcome::kRewritten;
}

}  // namespace rf::cred
