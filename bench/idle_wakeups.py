#!/usr/bin/python3
"""Idle wake-ups of ringfence's own threads, per sandbox: a sandbox makes one
connection through the proxy (so the proxy's threads exist), then sleeps;
the context switches of every ringfence thread (supervisor, proxy workers,
connect guard; not the command) are counted over a window.

usage: bench/idle_wakeups.py BIN [BIN...] [--seconds S]
"""
import glob
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

POLICY = """version: 1
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc]
network:
  mode: %(mode)s
  hosts: {idle.test: 127.0.0.1}
network_policies:
  p:
    endpoints: [{host: idle.test, port: %(port)d, allowed_ips: [127.0.0.1]}]
"""

SCRIPT = r"""
import os, socket, sys, time
port = int(sys.argv[1])
proxy = int(os.environ["HTTP_PROXY"].rsplit(":", 1)[1])
s = socket.create_connection(("127.0.0.1", proxy))
s.sendall(b"CONNECT idle.test:%d HTTP/1.1\r\nHost: idle.test\r\n\r\n" % port)
reply = s.recv(100)
s.close()
print("connected" if reply.startswith(b"HTTP/1.1 200") else "refused", flush=True)
if len(sys.argv) > 2:  # bench/concurrent: wait for the end of stdin, exit with this code
    sys.stdin.read()
    sys.exit(int(sys.argv[2]))
time.sleep(3600)
"""


def switches(pid):
    total = 0
    for status in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            with open(status) as f:
                for line in f:
                    if "ctxt_switches" in line:
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def measure(binary, seconds):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    def serve():
        for _ in range(4):
            c, _ = srv.accept()
            c.close()  # the tunnel ends: nothing is left for the proxy to watch
    threading.Thread(target=serve, daemon=True).start()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(POLICY % {"mode": "platform", "port": port})
    os.chmod(f.name, 0o644)
    p = subprocess.Popen([binary, "run", "-q", "--policy", f.name, "--", "/usr/bin/python3", "-c",
                          SCRIPT, str(port)], stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        assert p.stdout.readline().strip() == "connected"
        time.sleep(1.0)  # pooled pipes and lingering state settle
        before = switches(p.pid)
        time.sleep(seconds)
        after = switches(p.pid)
        return (after - before) / seconds
    finally:
        p.kill()
        p.wait()
        os.unlink(f.name)
        srv.close()


def main():
    args = sys.argv[1:]
    seconds = 5.0
    if "--seconds" in args:
        i = args.index("--seconds")
        seconds = float(args[i + 1])
        del args[i:i + 2]
    for b in args:
        print("%-45s %6.1f wake-ups/s of ringfence's threads while idle" % (b, measure(b, seconds)))


if __name__ == "__main__":
    main()
