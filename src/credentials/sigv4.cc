#include "credentials/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>

#include "common/ascii.h"

namespace rf::credentials {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

using Digest = std::array<unsigned char, 32>;

std::string HexOf(const unsigned char* data, size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0xf]);
  }
  return out;
}

// HMAC-SHA256; the key chain of SigV4 feeds each digest in as the next key.
Digest Hmac(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &size);
  return out;
}

std::string_view ViewOf(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsEscapeAt(std::string_view s, size_t i) {
  return i + 2 < s.size() && s[i] == '%' && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0;
}

void AppendEscaped(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(kHexUpper[c >> 4]);
  out.push_back(kHexUpper[c & 0xf]);
}

// AWS's URI encoding: every byte outside the unreserved set is escaped
// (upper-case hex); '/' is kept when `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/'))
      out.push_back(ch);
    else
      AppendEscaped(out, c);
  }
  return out;
}

// Percent-decoding of a query component. A '%' not followed by two hex
// digits stays a literal '%'. '+' stays '+': the AWS SDKs never send '+' for
// a space (they send %20), so a '+' on the wire is a plus sign.
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsEscapeAt(s, i)) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Every service but S3: dot segments removed and repeated slashes collapsed
// the way the AWS SDKs do (a trailing slash is kept), then encoded again.
std::string CanonicalUriNormalised(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    start = end + 1;
  }
  std::string normal = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) normal.push_back('/');
    normal.append(segments[i]);
  }
  if (path.size() > 1 && path.back() == '/' && normal != "/") normal.push_back('/');
  return UriEncode(normal, true);
}

// S3: the path as sent, escapes on the wire kept as they are, any other byte
// outside the unreserved set (and '/') escaped once.
std::string CanonicalUriS3(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (IsEscapeAt(path, i)) {
      out.append(path.substr(i, 3));
      i += 2;
    } else if (IsUnreserved(c) || c == '/') {
      out.push_back(path[i]);
    } else {
      AppendEscaped(out, c);
    }
  }
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view part = query.substr(start, end - start);
    if (!part.empty()) {
      const size_t eq = part.find('=');
      const std::string_view name = part.substr(0, eq);
      const std::string_view value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
      params.emplace_back(UriEncode(PercentDecode(name), false),
                          UriEncode(PercentDecode(value), false));
    }
    start = end + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out.append(name);
    out.push_back('=');
    out.append(value);
  }
  return out;
}

// A header value as SigV4 canonicalises it: no surrounding whitespace, each
// run of spaces or tabs inside collapsed to one space.
std::string CanonicalValue(std::string_view value) {
  value = AsciiTrim(value);
  std::string out;
  out.reserve(value.size());
  bool in_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      in_space = true;
      continue;
    }
    if (in_space) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

bool IsTokenChar(unsigned char c) {
  return c > 0x20 && c < 0x7f && c != ':' && c != '(' && c != ')' && c != ',' && c != '/' &&
         c != ';' && c != '<' && c != '=' && c != '>' && c != '?' && c != '@' && c != '[' &&
         c != '\\' && c != ']' && c != '{' && c != '}' && c != '"';
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
}

bool ValidAmzDate(std::string_view d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') return false;
  for (size_t i = 0; i < 15; ++i) {
    if (i == 8) continue;
    if (d[i] < '0' || d[i] > '9') return false;
  }
  return true;
}

bool ValidPayloadHash(std::string_view h) {
  if (h == kUnsignedPayload) return true;
  return h.size() == 64 && std::all_of(h.begin(), h.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Names the signer sets itself; a client's copy is dropped so the sandboxed
// side cannot pick the time, the token or the payload hash that gets signed.
bool IsSignerOwned(std::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "x-amz-date" ||
         lower_name == "x-amz-security-token" || lower_name == "x-amz-content-sha256";
}

Status Validate(const SigV4Request& r, const SigV4Key& k, const SigV4Scope& s) {
  if (r.method.empty() || !std::all_of(r.method.begin(), r.method.end(), [](char c) {
        return IsTokenChar(static_cast<unsigned char>(c));
      }))
    return Status::Invalid("sigv4: method: empty or not an HTTP token");
  if (!r.path.empty() && r.path.front() != '/')
    return Status::Invalid("sigv4: path: must start with '/'");
  if (HasControl(r.path) || HasControl(r.query))
    return Status::Invalid("sigv4: path or query: control character");
  if (!ValidPayloadHash(r.payload_sha256))
    return Status::Invalid("sigv4: payload hash: neither 64 lower-case hex digits nor " +
                           std::string(kUnsignedPayload));
  if (k.access_key_id.empty() ||
      !std::all_of(k.access_key_id.begin(), k.access_key_id.end(),
                   [](char c) { return IsTokenChar(static_cast<unsigned char>(c)); }))
    return Status::Invalid("sigv4: access key id: empty or not a plain token");
  if (k.secret_access_key.empty()) return Status::Invalid("sigv4: secret access key: empty");
  if (HasControl(k.session_token) || k.session_token.find(' ') != std::string::npos)
    return Status::Invalid("sigv4: session token: space or control character");
  for (const std::string* part : {&s.service, &s.region}) {
    if (part->empty() || !std::all_of(part->begin(), part->end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        }))
      return Status::Invalid(std::string("sigv4: ") + (part == &s.service ? "service" : "region") +
                             ": empty or not lower-case letters, digits, '-' and '.'");
  }
  if (!ValidAmzDate(s.amz_date))
    return Status::Invalid("sigv4: amz_date: not of the form 20150830T123600Z");
  bool host = false;
  for (const auto& [name, value] : r.headers) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
          return IsTokenChar(static_cast<unsigned char>(c));
        }))
      return Status::Invalid("sigv4: header name: empty or not an HTTP token");
    if (HasControl(value))
      return Status::Invalid("sigv4: header " + name + ": control character in the value");
    if (AsciiIEquals(name, "host")) host = true;
  }
  if (!host) return Status::Invalid("sigv4: headers: no Host header (it must be signed)");
  return Status::Ok();
}

bool IsRegion(std::string_view label) {
  // us-east-1, eu-west-2, ap-southeast-1, us-gov-west-1, cn-north-1,
  // us-iso-east-1, us-isob-east-1: letters-...-digits with at least 3 parts.
  size_t dashes = static_cast<size_t>(std::count(label.begin(), label.end(), '-'));
  if (dashes < 2 || label.size() < 6) return false;
  const size_t last = label.rfind('-');
  const std::string_view number = label.substr(last + 1);
  if (number.empty() ||
      !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  const std::string_view words = label.substr(0, last);
  return std::all_of(words.begin(), words.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || c == '-'; }) &&
         words.front() != '-' && words.back() != '-';
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Endpoint prefixes whose signing name differs from the prefix.
std::string SigningNameOf(std::string_view prefix) {
  if (prefix.starts_with("bedrock")) return "bedrock";  // -runtime, -agent, -agent-runtime
  if (EndsWith(prefix, "-fips")) prefix.remove_suffix(5);
  return std::string(prefix);
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return HexOf(digest, sizeof digest);
}

Result<SigV4Signature> SignV4(const SigV4Request& request, const SigV4Key& key,
                              const SigV4Scope& scope, const SigV4Options& options) {
  if (Status s = Validate(request, key, scope); !s.ok()) return s;

  // Canonical headers: lower-case names, sorted; values of a repeated name
  // joined with ',' in the order sent.
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower = AsciiLowered(name);
    if (IsSignerOwned(lower)) continue;
    auto [it, fresh] = headers.try_emplace(std::move(lower), CanonicalValue(value));
    if (!fresh) {
      it->second.push_back(',');
      it->second.append(CanonicalValue(value));
    }
  }
  headers["x-amz-date"] = scope.amz_date;
  if (options.content_sha256_header) headers["x-amz-content-sha256"] = request.payload_sha256;
  if (!key.session_token.empty() && options.sign_session_token)
    headers["x-amz-security-token"] = key.session_token;

  SigV4Signature out;
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers.append(name).append(":").append(value).append("\n");
    if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
    out.signed_headers.append(name);
  }

  const std::string_view path = request.path.empty() ? std::string_view("/") : request.path;
  out.canonical_request =
      request.method + "\n" +
      (options.s3_path_rules ? CanonicalUriS3(path) : CanonicalUriNormalised(path)) + "\n" +
      CanonicalQuery(request.query) + "\n" + canonical_headers + "\n" + out.signed_headers + "\n" +
      request.payload_sha256;

  const std::string date = scope.amz_date.substr(0, 8);
  const std::string credential_scope =
      date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  out.string_to_sign = std::string(kAlgorithm) + "\n" + scope.amz_date + "\n" + credential_scope +
                       "\n" + Sha256Hex(out.canonical_request);

  // The derived keys are as good as the secret for a day: wiped after use.
  std::string seed = "AWS4" + key.secret_access_key;
  Digest k_date = Hmac(seed, date);
  Digest k_region = Hmac(ViewOf(k_date), scope.region);
  Digest k_service = Hmac(ViewOf(k_region), scope.service);
  Digest k_signing = Hmac(ViewOf(k_service), "aws4_request");
  const Digest signature = Hmac(ViewOf(k_signing), out.string_to_sign);
  OPENSSL_cleanse(seed.data(), seed.size());
  for (Digest* d : {&k_date, &k_region, &k_service, &k_signing})
    OPENSSL_cleanse(d->data(), d->size());
  out.signature = HexOf(signature.data(), signature.size());

  out.set_headers.emplace_back("Authorization",
                               std::string(kAlgorithm) + " Credential=" + key.access_key_id + "/" +
                                   credential_scope + ", SignedHeaders=" + out.signed_headers +
                                   ", Signature=" + out.signature);
  out.set_headers.emplace_back("X-Amz-Date", scope.amz_date);
  if (options.content_sha256_header)
    out.set_headers.emplace_back("X-Amz-Content-Sha256", request.payload_sha256);
  if (!key.session_token.empty())
    out.set_headers.emplace_back("X-Amz-Security-Token", key.session_token);
  return out;
}

std::optional<AwsEndpoint> EndpointFromHost(std::string_view host) {
  std::string h = AsciiLowered(host);
  if (!h.empty() && h.back() == '.') h.pop_back();
  std::string_view rest = h;
  bool china = false;
  if (EndsWith(rest, ".amazonaws.com")) {
    rest.remove_suffix(std::string_view(".amazonaws.com").size());
  } else if (EndsWith(rest, ".amazonaws.com.cn")) {
    rest.remove_suffix(std::string_view(".amazonaws.com.cn").size());
    china = true;
  } else {
    return std::nullopt;
  }
  std::vector<std::string_view> labels;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('.', start);
    if (end == std::string_view::npos) end = rest.size();
    if (end == start) return std::nullopt;  // empty label: not a host name
    labels.push_back(rest.substr(start, end - start));
    start = end + 1;
  }
  AwsEndpoint out;
  if (IsRegion(labels.back())) {
    out.region = std::string(labels.back());
    labels.pop_back();
  } else if (china) {
    return std::nullopt;  // China endpoints always name their region
  } else {
    // Global endpoints (s3.amazonaws.com, sts.amazonaws.com, iam...) sign
    // for us-east-1.
    out.region = "us-east-1";
  }
  if (!labels.empty() && labels.back() == "dualstack") labels.pop_back();
  if (labels.empty()) return std::nullopt;
  // S3 in every spelling: bucket.s3.REGION, s3.REGION, s3-fips.REGION,
  // bucket.s3-accesspoint.REGION, and the legacy s3-REGION / s3-external-1.
  for (auto it = labels.rbegin(); it != labels.rend(); ++it) {
    if (*it == "s3" || it->starts_with("s3-")) {
      out.service = "s3";
      if (it->starts_with("s3-") && IsRegion(it->substr(3)))
        out.region = std::string(it->substr(3));
      return out;
    }
  }
  out.service = SigningNameOf(labels.back());
  return out;
}

std::optional<std::string> RegionFromHost(std::string_view host) {
  std::optional<AwsEndpoint> e = EndpointFromHost(host);
  if (!e) return std::nullopt;
  return std::move(e->region);
}

}  // namespace rf::credentials
