#!/usr/bin/python3
"""Signs a fixed, seeded set of requests with botocore (the AWS SDK for
Python) and prints each request and botocore's result, one per line, for
tests/unit/sigv4_test.cc to sign again with ringfence's signer and compare.

Line format: space-separated fields, each the hex of its UTF-8 bytes:
  method path query headers body service region token s3 canonical authorization
`headers` is "name\\nvalue\\n..." (what goes on the wire, in order); `s3`
is "1" when botocore's S3 signer was used. Exit 77 when botocore is not
installed (the unit test then skips, naming the package).
"""
import datetime
import random
import sys

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    sys.exit(77)

DATE = datetime.datetime(2026, 12, 3, 17, 5, 9)
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def quote(s):
    """AWS's URI encoding of one component (what the SDKs send)."""
    out = []
    for b in s.encode():
        c = chr(b)
        out.append(c if c in UNRESERVED else "%%%02X" % b)
    return "".join(out)


def random_text(rng, alphabet, lo, hi):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def cases(rng):
    chars = "abcXYZ019-_.~ !$&'()*+,;=:@%é/ሴ"
    for i in range(300):
        s3 = i % 3 == 0
        segments = [random_text(rng, chars.replace("/", ""), 0, 6) for _ in range(rng.randint(0, 4))]
        if not s3 and rng.random() < 0.3:
            segments.insert(rng.randint(0, len(segments)), rng.choice([".", "..", ""]))
        path = "/" + "/".join(quote(s) for s in segments)
        if rng.random() < 0.3:
            path += "/"
        params = [(random_text(rng, chars, 1, 5), random_text(rng, chars, 0, 5))
                  for _ in range(rng.randint(0, 4))]
        # The SDKs send every query component AWS-encoded; botocore signs a
        # query given in the URL as it is, so it gets the same bytes.
        query = "&".join(quote(k) + "=" + quote(v) for k, v in params)
        host = "bucket.s3.us-west-2.amazonaws.com" if s3 else "bedrock-runtime.us-east-1.amazonaws.com"
        headers = [("Host", host)]
        for _ in range(rng.randint(0, 3)):
            name = rng.choice(["X-Custom", "Content-Type", "X-Amz-Meta-Note", "Accept"])
            value = rng.choice(["", " "]) + random_text(rng, "ab  c\t1/=;", 0, 8) + rng.choice(["", "  "])
            headers.append((name, value))
        body = random_text(rng, "{}\":abc 12", 0, 40) if rng.random() < 0.6 else ""
        token = random_text(rng, "ABCabc0123+/=", 20, 60) if rng.random() < 0.4 else ""
        method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD"])
        yield method, path, query, headers, body, token, s3


def main():
    rng = random.Random(26)
    for method, path, query, headers, body, token, s3 in cases(rng):
        creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token or None)
        service, region = ("s3", "us-west-2") if s3 else ("bedrock", "us-east-1")
        url = "https://" + headers[0][1] + path + ("?" + query if query else "")
        request = AWSRequest(method=method, url=url, data=body.encode())
        for name, value in headers:
            # botocore's headers are a multi-dict: repeated names stay.
            request.headers.add_header(name, value)
        signer = (botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth)(creds, service, region)
        request.context["timestamp"] = DATE.strftime("%Y%m%dT%H%M%SZ")
        # add_auth reads the clock; the same canonical request and signature
        # come from its parts with the fixed timestamp.
        signer._modify_request_before_signing(request)
        request.headers.replace_header("X-Amz-Date", request.context["timestamp"])
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        signature = signer.signature(string_to_sign, request)
        signer._inject_signature_to_request(request, signature)
        fields = [method, path, query, "".join(n + "\n" + v + "\n" for n, v in headers), body,
                  service, region, token, "1" if s3 else "0", canonical, request.headers["Authorization"]]
        print(" ".join(f.encode().hex() for f in fields))


if __name__ == "__main__":
    main()
