#!/usr/bin/env python3
"""Transparent TCP (protocol: tcp, docs/transparent-tcp.md) against a CONNECT
tunnel, in the same `ringfence run`: a client inside the sandbox opens
connections one after another to a loopback echo server, alternately by a
direct connect to the name's synthetic address (the guard redirects it to
the proxy) and by CONNECT through HTTP_PROXY, each followed by one 64-byte
round trip. Reports the connect rate and the latency (connect + first
round trip) of each path, per network mode. Short by design:
`--count` connections per path (default 300), interleaved in batches of 20
so both see the same machine load.

  sudo python3 bench/transparent/run_bench.py [--bin build/ringfence] [--count 300]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
import lib  # noqa: E402
import netfixtures  # noqa: E402

NAME = "echo.bench.test"

CLIENT = r"""
import json, os, socket, sys, time
addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
proxy = os.environ["RINGFENCE_PROXY"].rsplit("/", 1)[-1].rsplit(":", 1)
proxy = (proxy[0].strip("[]"), int(proxy[1]))
msg = b"x" * 64

def transparent():
    s = socket.create_connection((addr, port))
    return s

def tunnel():
    s = socket.create_connection(proxy)
    s.sendall(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % ((sys.argv[4].encode(), port) * 2))
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(1)
        if not b:
            raise SystemExit("proxy closed")
        head += b
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise SystemExit(head.decode())
    return s

out = {"transparent": [], "connect": []}
wall = {"transparent": 0.0, "connect": 0.0}
for batch in range(0, count, 20):
    for kind, make in (("transparent", transparent), ("connect", tunnel)):
        for _ in range(min(20, count - batch)):
            t0 = time.perf_counter()
            s = make()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += s.recv(4096)
            dt = time.perf_counter() - t0
            s.close()
            out[kind].append(dt)
            wall[kind] += dt
print(json.dumps({"lat": out, "wall": wall}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../../build/ringfence"))
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--modes", default="namespace,platform")
    a = ap.parse_args()
    srv = netfixtures.EchoServer()
    port = srv.port
    policy = f"""version: 1
network:
  hosts: {{{NAME}: 127.0.0.1}}
network_policies:
  echo:
    endpoints:
      - {{host: {NAME}, port: {port}, protocol: tcp, allowed_ips: [127.0.0.1]}}
"""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(policy)
    os.chmod(f.name, 0o644)
    try:
        shown = json.loads(subprocess.run([a.bin, "policy", "show", "--effective", "--json",
                                           "--policy", f.name], capture_output=True, text=True,
                                          check=True, timeout=60).stdout)
        addr = next(n["address"] for n in shown["network"]["capture"]["names"] if n["name"] == NAME)
        print(f"| mode | path | connections/s | latency median (µs) | p90 | p99 |")
        print(f"|---|---|---|---|---|---|")
        for mode in a.modes.split(","):
            r = subprocess.run([a.bin, "run", "-q", "--mode", mode, "--policy", f.name, "--",
                                "/usr/bin/python3", "-c", CLIENT, addr, str(port), str(a.count),
                                NAME], capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                sys.exit(f"{mode}: {r.stdout} {r.stderr}")
            res = json.loads(r.stdout)
            for kind in ("transparent", "connect"):
                lat = res["lat"][kind]
                rate = len(lat) / res["wall"][kind]
                print(f"| {mode} | {kind} | {rate:.0f} | {lib.pct(lat, 0.5) * 1e6:.0f} | "
                      f"{lib.pct(lat, 0.9) * 1e6:.0f} | {lib.pct(lat, 0.99) * 1e6:.0f} |")
    finally:
        os.unlink(f.name)
        srv.close()


if __name__ == "__main__":
    main()
