// AWS Signature Version 4 (header form), as a pure function: no I/O, no
// clock, no globals. The proxy hands it a request it is about to forward and
// the real keys it holds; it returns the headers to set on that request.
// Nothing here logs or keeps a key: the caller owns every secret it passes.
//
// Interface (docs/sigv4.md):
//
//   SigV4Request req;                 // what goes on the wire
//   req.method = "POST";
//   req.path = "/model/x/invoke";     // as sent: percent-escapes kept
//   req.query = "a=1&b=2";            // as sent, without the '?'
//   req.headers = {{"Host", "bedrock-runtime.us-east-1.amazonaws.com"},
//                  {"Content-Type", "application/json"}};
//   req.payload_sha256 = Sha256Hex(body);   // or kUnsignedPayload
//   SigV4Key key{access_key_id, secret_access_key, session_token};
//   SigV4Scope scope{"bedrock", "us-east-1", "20260101T000000Z"};
//   Result<SigV4Signature> sig = SignV4(req, key, scope, SigV4Options{});
//   for (auto& [name, value] : sig->set_headers) replace header `name`
//
// Every header in `req.headers` is signed (the caller chooses which to pass:
// the proxy passes what it forwards, without hop-by-hop headers), except
// Authorization, which is what is being computed; an X-Amz-Date,
// X-Amz-Security-Token or X-Amz-Content-Sha256 the client sent is ignored and
// replaced by the signer's own so a sandboxed client cannot choose them.
//
// The reference is AWS's "Create a signed AWS API request" and the
// aws-sig-v4-test-suite (tests/unit/data/sigv4/SOURCES).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rf::credentials {

// The payload hash S3 (and only services that document it) accept in place
// of the body's SHA-256.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct SigV4Request {
  std::string method;
  // The path as sent on the wire (origin form, starting with '/'); an empty
  // path is treated as "/".
  std::string path;
  // The query as sent, without the leading '?'; may be empty.
  std::string query;
  // Name/value pairs in the order they are sent; repeated names allowed
  // (their values are joined with ',' in that order, as AWS specifies).
  HeaderList headers;
  // Lower-case hex SHA-256 of the body, or kUnsignedPayload.
  std::string payload_sha256;
};

struct SigV4Key {
  std::string access_key_id;
  std::string secret_access_key;
  // Empty for long-term keys; set for STS temporary credentials.
  std::string session_token;
};

struct SigV4Scope {
  std::string service;  // "s3", "bedrock", "sts" ... (signing name, lower case)
  std::string region;   // "us-east-1"
  // The request time as x-amz-date: YYYYMMDD'T'HHMMSS'Z' (UTC). The caller
  // reads the clock; the signer only checks the shape.
  std::string amz_date;
};

struct SigV4Options {
  // S3's rules for the canonical URI: the path is not normalised (no dot
  // segments removed, repeated slashes kept) and is URI-encoded once
  // (escapes already on the wire are kept, other bytes outside the
  // unreserved set are escaped). Without it (every other service) the path
  // is normalised and encoded again, so a '%' on the wire becomes "%25".
  bool s3_path_rules = false;
  // Set and sign X-Amz-Content-Sha256 (S3 requires it; "sigv4:body" and
  // "sigv4:no_body" modes set it too).
  bool content_sha256_header = false;
  // Whether X-Amz-Security-Token is part of the signed headers (most
  // services, and the AWS SDKs, sign it) or added after signing.
  bool sign_session_token = true;
};

struct SigV4Signature {
  // The headers to set on the request, replacing any of the same name
  // (case-insensitive): Authorization, X-Amz-Date, and when applicable
  // X-Amz-Content-Sha256 and X-Amz-Security-Token.
  HeaderList set_headers;
  // Intermediate values, for tests and for `ringfence why`-style
  // explanations; they contain no secret (the session token, when signed,
  // appears in the canonical request as it does on the wire).
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-date"
  std::string signature;       // lower-case hex
};

// Signs `request`. Errors (kInvalid) name the field: an empty method,
// service or region, an amz_date not of the form 20150830T123600Z, a path
// not starting with '/', a payload hash that is neither 64 hex digits nor
// UNSIGNED-PAYLOAD, a missing Host header, a control character in a header
// value, an empty access key id or secret.
Result<SigV4Signature> SignV4(const SigV4Request& request, const SigV4Key& key,
                              const SigV4Scope& scope, const SigV4Options& options);

// Lower-case hex SHA-256 of `data` (the payload hash for SigV4Request).
std::string Sha256Hex(std::string_view data);

// The service signing name and region a standard AWS endpoint host implies:
//   bedrock-runtime.us-east-1.amazonaws.com  -> {bedrock, us-east-1}
//   s3.eu-west-2.amazonaws.com               -> {s3, eu-west-2}
//   bucket.s3.us-west-2.amazonaws.com        -> {s3, us-west-2}
//   s3.amazonaws.com / sts.amazonaws.com     -> {s3|sts, us-east-1}
//   ec2.cn-north-1.amazonaws.com.cn          -> {ec2, cn-north-1}
// nullopt for any other host (the policy must then name signing_service and
// signing_region). Case-insensitive; a trailing dot is ignored.
struct AwsEndpoint {
  std::string service;
  std::string region;
};
std::optional<AwsEndpoint> EndpointFromHost(std::string_view host);
// Just the region of EndpointFromHost.
std::optional<std::string> RegionFromHost(std::string_view host);

}  // namespace rf::credentials
