// libFuzzer target: the SigV4 signer (src/credentials/sigv4.h), which the
// proxy will run on requests a sandboxed client shapes.
//
// Input: NUL-separated fields: method, path, query, headers ("name:value"
// lines separated by '\n'), body, service, region, amz_date, session token,
// flags (first byte: bit 0 S3 path rules, bit 1 content hash header, bit 2
// sign the token); missing fields are empty. Properties checked beyond "no
// crash, no sanitizer report":
//  - signing is deterministic;
//  - an accepted request gives a canonical request of exactly 6 + N lines
//    (N signed headers): no header value or path smuggles a line;
//  - the canonical URI and query hold only unreserved bytes, '%' escapes,
//    '/', '=' and '&'; without S3 rules the URI has no empty, '.' or '..'
//    segment;
//  - the headers to set carry no CR, LF or NUL, Authorization names the key
//    id and scope and ends with 64 hex digits;
//  - EndpointFromHost on the path, read as a host, gives lower-case service
//    and region only for amazonaws.com hosts.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "credentials/sigv4.h"
#include "fuzz_check.h"

using rf::fuzz::Check;
using namespace rf::credentials;

namespace {

bool CanonicalByte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~' || c == '%' || c == '/' || c == '=' || c == '&';
}

std::vector<std::string> Fields(std::string_view data, size_t count) {
  std::vector<std::string> out;
  while (out.size() + 1 < count) {
    const size_t nul = data.find('\0');
    if (nul == std::string_view::npos) break;
    out.emplace_back(data.substr(0, nul));
    data.remove_prefix(nul + 1);
  }
  out.emplace_back(data);
  out.resize(count);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> f =
      Fields(std::string_view(reinterpret_cast<const char*>(data), size), 10);
  SigV4Request r;
  r.method = f[0];
  r.path = f[1];
  r.query = f[2];
  std::string_view headers = f[3];
  while (!headers.empty()) {
    const size_t eol = std::min(headers.find('\n'), headers.size());
    const std::string_view line = headers.substr(0, eol);
    const size_t colon = line.find(':');
    r.headers.emplace_back(
        std::string(line.substr(0, colon)),
        colon == std::string_view::npos ? "" : std::string(line.substr(colon + 1)));
    headers.remove_prefix(std::min(eol + 1, headers.size()));
  }
  r.payload_sha256 = f[4] == "UNSIGNED-PAYLOAD" ? f[4] : Sha256Hex(f[4]);
  const SigV4Key key{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", f[8]};
  const SigV4Scope scope{f[5], f[6], f[7]};
  const unsigned flags = f[9].empty() ? 0 : static_cast<unsigned char>(f[9][0]);
  SigV4Options o;
  o.s3_path_rules = flags & 1;
  o.content_sha256_header = flags & 2;
  o.sign_session_token = flags & 4;

  rf::Result<SigV4Signature> a = SignV4(r, key, scope, o);
  rf::Result<SigV4Signature> b = SignV4(r, key, scope, o);
  Check(a.ok() == b.ok());
  if (a.ok()) {
    Check(a->canonical_request == b->canonical_request && a->signature == b->signature);
    const std::string& cr = a->canonical_request;
    const size_t signed_count =
        static_cast<size_t>(std::count(a->signed_headers.begin(), a->signed_headers.end(), ';')) +
        1;
    Check(static_cast<size_t>(std::count(cr.begin(), cr.end(), '\n')) == 5 + signed_count);
    const size_t uri_end = cr.find('\n', cr.find('\n') + 1);
    const std::string_view uri(cr.data() + cr.find('\n') + 1, uri_end - cr.find('\n') - 1);
    const std::string_view query(cr.data() + uri_end + 1, cr.find('\n', uri_end + 1) - uri_end - 1);
    Check(std::all_of(uri.begin(), uri.end(), CanonicalByte));
    Check(std::all_of(query.begin(), query.end(), CanonicalByte));
    Check(!uri.empty() && uri[0] == '/');
    if (!o.s3_path_rules) {
      Check(uri.find("//") == std::string_view::npos);
      Check(uri.find("/./") == std::string_view::npos &&
            uri.find("/../") == std::string_view::npos);
      Check(!uri.ends_with("/.") && !uri.ends_with("/.."));
    }
    for (const auto& [name, value] : a->set_headers)
      Check(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
    const std::string& auth = a->set_headers.at(0).second;
    Check(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/" +
                           scope.amz_date.substr(0, 8) + "/" + scope.region + "/" + scope.service +
                           "/aws4_request, "));
    Check(a->signature.size() == 64 && auth.ends_with("Signature=" + a->signature));
  }

  if (auto e = EndpointFromHost(r.path)) {
    Check(!e->service.empty() && !e->region.empty());
    for (const std::string* s : {&e->service, &e->region})
      Check(std::none_of(s->begin(), s->end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
  }
  return 0;
}
