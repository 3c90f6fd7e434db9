#!/usr/bin/python3
"""MCP inspection benchmark (issue 27), all on loopback: the rate of MCP
`tools/call` requests through ringfence's proxy when the endpoint is
inspected (`protocol: mcp`: the body is held, parsed and each call judged)
against the same calls uninspected (the same endpoint without `protocol`:
a plain CONNECT tunnel).

The upstream is a minimal keep-alive HTTP/1.1 responder (asyncio) answering
every POST with a fixed JSON-RPC result, so the proxy is what is measured.
The client, run inside the sandbox, opens one CONNECT tunnel through the
run's proxy (HTTP_PROXY) and sends CALLS sequential tools/call POSTs
(keep-alive) of about 200 bytes each, then prints the rate. Modes are
interleaved, RUNS rounds; the median is reported.

Usage: bench/mcp/run.py RINGFENCE [--calls 3000] [--runs 3] [--mode namespace]
Prints Markdown."""
import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading

RESULT = b'{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}'

CLIENT = r'''
import json, os, socket, sys, time
host, port, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
proxy = (os.environ.get("HTTP_PROXY") or os.environ["http_proxy"]).split("://", 1)[1].rstrip("/")
ph, pp = proxy.rsplit(":", 1)
s = socket.create_connection((ph, int(pp)))
s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
assert b" 200 " in buf.split(b"\r\n")[0], buf
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "read_file", "arguments": {"path": "/srv/data/report.txt"}}}).encode()
req = (f"POST /mcp HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
       f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
buf = b""
t0 = time.monotonic()
for _ in range(calls):
    s.sendall(req)
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1")
            n = int([l.split(":")[1] for l in head.split("\r\n") if l.lower().startswith("content-length")][0])
            if len(buf) >= end + 4 + n:
                assert head.startswith("HTTP/1.1 200"), head
                buf = buf[end + 4 + n:]
                break
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("closed")
        buf += chunk
print(f"rate {calls / (time.monotonic() - t0):.1f}")
'''


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            await reader.readexactly(n)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(RESULT)).encode() + b"\r\n\r\n" + RESULT)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def serve():
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return port


POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, {dir}]
network:
  mode: {mode}
  hosts: {{mcp.test: 127.0.0.1}}
network_policies:
  mcp:
    endpoints:
      - {endpoint}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ringfence")
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mode", default="namespace")
    a = ap.parse_args()
    port = serve()
    d = tempfile.mkdtemp(dir="/var/tmp", prefix="rf-bench-mcp-")
    os.chmod(d, 0o755)
    client = os.path.join(d, "client.py")
    with open(client, "w") as f:
        f.write(CLIENT)
    base = f'{{host: mcp.test, port: {port}, allowed_ips: [127.0.0.1]'
    endpoints = {
        "inspected": base + ', path: /mcp, protocol: mcp, rules: [{allow: {method: tools/call, tool: read_file}}]}',
        "uninspected": base + "}",
    }
    rates = {k: [] for k in endpoints}
    for _ in range(a.runs):
        for name, ep in endpoints.items():
            pf = os.path.join(d, f"{name}.yaml")
            with open(pf, "w") as f:
                f.write(POLICY.format(dir=d, mode=a.mode, endpoint=ep))
            r = subprocess.run([a.ringfence, "run", "-q", "--policy", pf, "--workdir", d, "--",
                                "/usr/bin/python3", client, "mcp.test", str(port), str(a.calls)],
                               capture_output=True, text=True, timeout=600, cwd=d)
            if r.returncode != 0 or not r.stdout.startswith("rate "):
                sys.exit(f"{name}: rc={r.returncode} {r.stdout} {r.stderr}")
            rates[name].append(float(r.stdout.split()[1]))
    print(f"| MCP tools/call, {a.calls} sequential keep-alive calls, {a.mode} mode | calls/s (median of {a.runs}) |")
    print("|---|---|")
    for name, v in rates.items():
        print(f"| {name} | {statistics.median(v):.0f} ({', '.join(f'{x:.0f}' for x in v)}) |")
    ratio = statistics.median(rates["inspected"]) / statistics.median(rates["uninspected"])
    print(f"\ninspected / uninspected: {ratio:.2f}")


if __name__ == "__main__":
    main()
