#!/usr/bin/env bash
# `make run`: one sandboxed shell under the embedded default policy tries a
# few allowed and a few forbidden things and says what happened.
set -u
bin=${1:-build/ringfence}
work=$(mktemp -d /tmp/ringfence-demo.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work" "${secret:-}"; kill ${listener:-} 2>/dev/null' EXIT
secret=$(mktemp /var/tmp/ringfence-demo-secret.XXXXXX)
echo "secret" > "$secret"
chmod 0644 "$secret"
# A host-side listener on loopback: the sandbox must not reach it.
port_file="$work/port"
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(30)
try:
    while True:
        c, _ = s.accept(); c.close()
except OSError:
    pass
' "$port_file" &
listener=$!
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file")

cat > "$work/demo.sh" <<'INNER'
try() {  # try DESCRIPTION EXPECTED COMMAND...
  desc=$1; expected=$2; shift 2
  if out=$("$@" 2>&1); then got=allowed; else got=denied; fi
  mark="ok"; [ "$got" = "$expected" ] || mark="UNEXPECTED"
  printf '  %-8s %-58s [%s]\n' "$got" "$desc" "$mark"
}
echo "inside the sandbox: $(id -un 2>/dev/null || id -u) (uid $(id -u)), RINGFENCE_SANDBOX=$RINGFENCE_SANDBOX"
grep -E '^(NoNewPrivs|CapEff|CapBnd)' /proc/self/status | sed 's/^/  /'
try "read /etc/os-release (system dir, read-only)"      allowed cat /etc/os-release
try "write a file in the working directory"            allowed sh -c 'echo hi > ./demo-file'
try "write a file in /tmp"                             allowed sh -c 'echo hi > /tmp/ringfence-demo.$$ && rm /tmp/ringfence-demo.$$'
try "write under /etc (read-only)"                     denied  sh -c 'echo x > /etc/ringfence-demo'
try "read a file outside the policy ($1)"              denied  cat "$1"
try "list /root (outside the policy)"                  denied  ls /root
try "become root again (setuid 0)"                     denied  /usr/bin/python3 -c 'import os; os.setuid(0)'
try "ptrace (seccomp)"                                 denied  /usr/bin/python3 -c 'import ctypes,sys; sys.exit(0 if ctypes.CDLL(None).ptrace(16, 1, 0, 0)==0 else 1)'
try "connect to a host service on 127.0.0.1:$2"          denied  /usr/bin/python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); s.connect(("127.0.0.1", int(sys.argv[1])))' "$2"
INNER
chmod 0644 "$work/demo.sh"
echo "\$ ringfence run --workdir $work -- sh demo.sh   # embedded default policy"
"$bin" run --workdir "$work" -- /bin/sh demo.sh "$secret" "$port"
rc=$?
echo "ringfence exited with $rc"
echo "See the effective policy: $bin policy show --effective"
