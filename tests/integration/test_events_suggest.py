"""`run --events` (the live event stream), `--audit-format ocsf` (OCSF
records checked against the schema's required fields) and `policy suggest`
(a recorded denial log turned into a policy under which the same run
passes). Everything talks to servers on 127.0.0.1; every wait is bounded."""
import json
import os
import queue
import subprocess
import threading
import time
import unittest

import rf
import l7fixtures as fx
from test_file_denials import audit_enabled, landlock_abi, set_audit

CURL = "/usr/bin/curl"
MODE = "namespace" if rf.IS_ROOT else "platform"

POLICY = """version: 1
filesystem_policy: {{include_workdir: true, read_only: [/usr, /lib, /lib64, /bin, /etc, /proc],
                    read_write: [/dev/null]}}
network:
  mode: {mode}
  hosts: {{allowed.test: 127.0.0.1, denied.test: 127.0.0.1, api.test: 127.0.0.1}}
network_policies:
  allowed:
    endpoints:
      - {{host: allowed.test, port: {allowed_port}, allowed_ips: [127.0.0.1]}}
    binaries:
      - {{path: {curl}}}
  api:
    endpoints:
      - {{host: api.test, port: {api_port}, allowed_ips: [127.0.0.1], protocol: rest, access: read-only}}
    binaries:
      - {{path: {curl}}}
"""

# The command waits (bounded, 30 s) for GO, which the test creates only
# after it has read the refusal from the stream: it exits 0 only when the
# event came while it still ran.
WAIT_FOR_GO = ("{curl} -s -o /dev/null -m 10 http://denied.test:{port}/live; "
               "i=0; while [ ! -e GO ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; "
               "test -e GO")

# Required fields per OCSF 1.3.0 (the version the records name), as the
# schema lists them (ocsf/ocsf-schema events/base_event.json, events/system/
# system.json, events/system/{process,file}_activity.json, events/network/
# network.json, http_activity.json, objects/{metadata,product,device,file,
# network_endpoint,actor,process}.json; checked against the schema
# repository at a5cfc68): "required" attributes, and the at-least-one
# constraints of the objects.
OCSF_VERSION = "1.3.0"
BASE_REQUIRED = ["activity_id", "category_uid", "class_uid", "metadata", "severity_id", "time",
                 "type_uid"]
CLASS_REQUIRED = {
    1001: ["actor", "device", "file"],      # File System Activity (system category)
    1007: ["actor", "device", "process"],   # Process Activity (system category)
    4001: [],                               # Network Activity
    4002: [],                               # HTTP Activity
}
CLASS_AT_LEAST_ONE = {
    4001: ["src_endpoint", "dst_endpoint"],
    4002: ["http_request", "http_response"],
}
ENDPOINT_AT_LEAST_ONE = ["ip", "uid", "name", "hostname", "svc_name", "instance_uid",
                         "interface_uid", "interface_name", "domain"]
PROCESS_AT_LEAST_ONE = ["pid", "uid", "cpid", "cmd_line", "name", "path"]
ACTOR_AT_LEAST_ONE = ["process", "user", "iam_role", "invoked_by", "session", "app_name",
                      "app_uid"]


def ocsf_problems(r):
    """What the record lacks of OCSF's required fields (empty: valid)."""
    bad = [f"missing {k}" for k in BASE_REQUIRED if k not in r]
    if bad:
        return bad
    cls = r["class_uid"]
    if cls not in CLASS_REQUIRED:
        return [f"class_uid {cls} is not one of ours"]
    bad += [f"missing {k}" for k in CLASS_REQUIRED[cls] if k not in r]
    if cls in CLASS_AT_LEAST_ONE and not any(k in r for k in CLASS_AT_LEAST_ONE[cls]):
        bad.append(f"none of {CLASS_AT_LEAST_ONE[cls]}")
    md = r["metadata"]
    if md.get("version") != OCSF_VERSION:
        bad.append(f"metadata.version {md.get('version')!r}")
    for k in ("name", "vendor_name", "version"):
        if not md.get("product", {}).get(k):
            bad.append(f"metadata.product.{k}")
    if r["type_uid"] != cls * 100 + r["activity_id"]:
        bad.append(f"type_uid {r['type_uid']} != {cls}*100+{r['activity_id']}")
    if r["category_uid"] != cls // 1000:
        bad.append(f"category_uid {r['category_uid']} for class {cls}")
    if not isinstance(r["time"], int):
        bad.append("time is not an integer (ms)")
    if r["severity_id"] not in (0, 1, 2, 3, 4, 5, 6, 99):
        bad.append("severity_id")
    if "device" in r and "type_id" not in r["device"]:
        bad.append("device.type_id")
    if "file" in r and not all(k in r["file"] for k in ("name", "type_id")):
        bad.append("file.name/type_id")
    for ep in ("src_endpoint", "dst_endpoint"):
        if ep in r and not any(k in r[ep] for k in ENDPOINT_AT_LEAST_ONE):
            bad.append(f"{ep} has none of the endpoint fields")
    if "actor" in r:
        if not any(k in r["actor"] for k in ACTOR_AT_LEAST_ONE):
            bad.append("actor is empty")
        elif "process" in r["actor"] and not any(k in r["actor"]["process"]
                                                 for k in PROCESS_AT_LEAST_ONE):
            bad.append("actor.process is empty")
    if "process" in r and not any(k in r["process"] for k in PROCESS_AT_LEAST_ONE):
        bad.append("process is empty")
    return bad


def lines_of(text):
    out = []
    for line in text.splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if isinstance(j, dict):
            out.append(j)
    return out


class Fixture(unittest.TestCase):
    """Two plain HTTP upstreams on 127.0.0.1 (one the policy allows, one it
    does not name) and an inspected one for L7 refusals."""

    @classmethod
    def setUpClass(cls):
        cls.allowed = fx.L7Server(None)
        cls.denied = fx.L7Server(None)
        cls.api = fx.L7Server(None)

    @classmethod
    def tearDownClass(cls):
        for s in (cls.allowed, cls.denied, cls.api):
            s.close()

    def setUp(self):
        for s in (self.allowed, self.denied, self.api):
            s.records.clear()
        self.wd = self.enterContext(rf.TempDir())
        self.out = self.enterContext(rf.OutsideDir(mode=0o777))
        self.policy = os.path.join(self.out, "p.yaml")
        with open(self.policy, "w") as f:
            f.write(POLICY.format(mode=MODE, allowed_port=self.allowed.port,
                                  api_port=self.api.port, curl=CURL))
        os.chmod(self.policy, 0o644)

    def start(self, argv, extra, **kw):
        cmd = [rf.BIN, "run", "-q", "--policy", self.policy] + extra + ["--"] + argv
        return subprocess.Popen(cmd, cwd=self.wd, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, **kw)


def reader(stream):
    """Lines of `stream` into a queue, from a thread (the test reads them
    with a deadline while the command runs)."""
    q = queue.Queue()

    def pump():
        for line in stream:
            q.put(line)
        q.put(None)
    threading.Thread(target=pump, daemon=True).start()
    return q


def wait_event(q, pred, timeout=20):
    """The first JSON line of `q` for which pred holds, before the deadline;
    (event, every line seen)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        for e in lines_of(line):
            if pred(e):
                return e, seen
    return None, seen


def drain(q, timeout=10):
    """Waits (bounded) for the reader thread of `q` to reach the end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if q.get(timeout=max(0.01, deadline - time.monotonic())) is None:
                return
        except queue.Empty:
            return


def is_denied_live(e):
    return e.get("layer") == "proxy" and e.get("action") == "deny" and \
        e.get("host") == "denied.test"


class LiveEvents(Fixture):
    def argv(self):
        return ["/bin/sh", "-c", WAIT_FOR_GO.format(curl=CURL, port=self.denied.port)]

    def test_control_the_probe_works_without_ringfence(self):
        # The same shell line reaches the upstream (no proxy, no policy) and
        # finishes once GO exists.
        open(os.path.join(self.wd, "GO"), "w").close()
        line = WAIT_FOR_GO.replace("denied.test", "127.0.0.1").format(curl=CURL,
                                                                      port=self.denied.port)
        r = subprocess.run(["/bin/sh", "-c", line], cwd=self.wd, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.denied.records.paths(), ["/live"])

    def check_live(self, extra, stream_of, **kw):
        p = self.start(self.argv(), extra, **kw)
        q = reader(stream_of(p))
        try:
            ev, seen = wait_event(q, is_denied_live)
            self.assertIsNotNone(ev, "no refusal streamed while the command ran: %r" % seen)
            # Still running: the command waits for GO.
            self.assertIsNone(p.poll(), "the command ended before the event was read")
            open(os.path.join(self.wd, "GO"), "w").close()
            rc = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(10)
            drain(q)
            for f in (p.stdout, p.stderr):
                f.close()
        self.assertEqual(rc, 0, "the command did not see GO: the event came after it ended")
        self.assertEqual(self.denied.records.paths(), [])
        self.assertEqual(ev["port"], self.denied.port)
        self.assertEqual(ev["binary"], CURL)
        return ev

    def test_events_dash_streams_on_stderr_while_the_command_runs(self):
        self.check_live(["--events", "-"], lambda p: p.stderr)

    def test_events_fd_streams_on_an_inherited_pipe(self):
        r_end, w_end = os.pipe()
        stream = os.fdopen(r_end, "r")
        self.addCleanup(stream.close)

        def after_start(p):
            # Only ringfence holds the writing end now: the stream ends
            # when it does.
            os.close(w_end)
            return stream
        try:
            self.check_live(["--events", f"fd:{w_end}"], after_start, pass_fds=[w_end])
        finally:
            try:
                os.close(w_end)
            except OSError:
                pass

    def test_events_alongside_audit_both_get_every_event(self):
        log = os.path.join(self.out, "audit.jsonl")
        ev = self.check_live(["--audit", log, "--events", "-"], lambda p: p.stderr)
        with open(log) as f:
            events = lines_of(f.read())
        self.assertIn(ev, [e for e in events if is_denied_live(e)])
        self.assertEqual([e["action"] for e in events if e["layer"] == "process"],
                         ["start", "exit"])

    def test_events_file_inside_a_grant_is_refused(self):
        inside = os.path.join(self.wd, "events.jsonl")
        r = rf.run(["/bin/true"], policy=self.policy, cwd=self.wd, extra=["--events", inside])
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("--events " + inside, r.stderr)
        self.assertIn("is inside the read-write grant", r.stderr)
        self.assertFalse(os.path.exists(inside))

    def test_bad_events_and_format_values_are_refused(self):
        for extra, msg in ((["--events", "fd:x"], "--events 'x': not a descriptor number"),
                           (["--events", "fd:97"], "descriptor 97 is not open"),
                           (["--audit-format", "cef"], "--audit-format 'cef': give json or ocsf")):
            r = rf.run(["/bin/true"], policy=self.policy, cwd=self.wd, extra=extra)
            self.assertEqual(r.returncode, 125, (extra, r.stderr))
            self.assertIn(msg, r.stderr)


class Ocsf(Fixture):
    def test_records_have_the_schemas_required_fields(self):
        file_denials = rf.IS_ROOT and landlock_abi() >= 7
        if file_denials:
            was = audit_enabled()
            self.assertEqual(set_audit(1), 0)
            if was == 0:
                self.addCleanup(set_audit, 0)
        secret = os.path.join(self.out, "secret.txt")
        with open(secret, "w") as f:
            f.write("s\n")
        os.chmod(secret, 0o644)
        log = os.path.join(self.out, "ocsf.jsonl")
        line = (f"{CURL} -sf -o /dev/null http://allowed.test:{self.allowed.port}/ok; "
                f"{CURL} -s -o /dev/null http://denied.test:{self.denied.port}/no; "
                f"{CURL} -s -o /dev/null -X POST -d x http://api.test:{self.api.port}/post; "
                f"cat {secret} >/dev/null 2>&1; true")
        r = rf.run(["/bin/sh", "-c", line], policy=self.policy, cwd=self.wd,
                   extra=["--audit", log, "--audit-format", "ocsf", "--events", "-"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.allowed.records.paths(), ["/ok"])
        self.assertEqual(self.denied.records.paths(), [])
        self.assertEqual(self.api.records.paths(), [])
        with open(log) as f:
            records = lines_of(f.read())
        # The live stream is in the same format.
        self.assertEqual(len(lines_of(r.stderr)), len(records))
        self.assertTrue(records)
        for rec in records:
            self.assertEqual(ocsf_problems(rec), [], rec)

        def one(cls, pred):
            found = [x for x in records if x["class_uid"] == cls and pred(x)]
            self.assertTrue(found, f"no class {cls} record: {records}")
            return found[0]
        deny = one(4001, lambda x: x["dst_endpoint"].get("hostname") == "denied.test")
        self.assertEqual((deny["activity_id"], deny["action_id"], deny["disposition_id"],
                          deny["status_id"]), (5, 2, 2, 2))
        self.assertEqual(deny["dst_endpoint"]["port"], self.denied.port)
        self.assertEqual(deny["actor"]["process"]["file"]["path"], CURL)
        allow = one(4001, lambda x: x["dst_endpoint"].get("hostname") == "allowed.test")
        self.assertEqual((allow["activity_id"], allow["action_id"], allow["disposition_id"]),
                         (1, 1, 1))
        http = one(4002, lambda x: True)
        self.assertEqual((http["activity_id"], http["type_uid"], http["action_id"]),
                         (6, 400206, 2))
        self.assertEqual(http["http_request"]["http_method"], "POST")
        self.assertEqual(http["http_request"]["url"]["path"], "/post")
        self.assertEqual(http["http_response"]["code"], 403)
        start = one(1007, lambda x: x["activity_id"] == 1)
        self.assertEqual(start["type_uid"], 100701)
        self.assertEqual(one(1007, lambda x: x["activity_id"] == 2)["exit_code"], 0)
        reported = start["unmapped"]["ringfence"].get("file_denials", "")
        if not reported.startswith("reported"):
            self.skipTest("file denials not reported here: " + reported)
        fs = one(1001, lambda x: x["file"]["path"] == secret)
        self.assertEqual((fs["activity_id"], fs["type_uid"], fs["action_id"]), (2, 100102, 2))
        self.assertEqual(fs["file"]["name"], "secret.txt")


class Suggest(Fixture):
    def argv(self):
        # The last curl decides the exit code; the metadata address and the
        # upstream by its loopback IP are refused on the way (never proposed).
        return ["/bin/sh", "-c",
                f"{CURL} -sf -o /dev/null http://allowed.test:{self.allowed.port}/a && "
                f"{{ {CURL} -s -o /dev/null -m 5 http://169.254.169.254/latest/meta-data/; "
                f"{CURL} -s -o /dev/null -m 5 --noproxy '' --proxy \"$HTTP_PROXY\" "
                f"http://127.0.0.1:{self.denied.port}/by-ip; "
                f"{CURL} -s -o /dev/null -m 5 -X POST -d x http://api.test:{self.api.port}/post; "
                f"{CURL} -sf -o /dev/null http://denied.test:{self.denied.port}/b; }}"]

    def test_control_the_command_works_without_ringfence(self):
        line = self.argv()[2].replace("allowed.test", "127.0.0.1").replace("denied.test",
                                                                           "127.0.0.1")
        line = line.replace(" --noproxy '' --proxy \"$HTTP_PROXY\"", "").replace("169.254.169.254", "127.0.0.1:1")
        r = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.denied.records.paths(), ["/by-ip", "/b"])

    def test_suggestion_makes_the_same_run_pass(self):
        log = os.path.join(self.out, "audit.jsonl")
        r = rf.run(self.argv(), policy=self.policy, cwd=self.wd, extra=["--audit", log])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.allowed.records.paths(), ["/a"])
        self.assertEqual(self.denied.records.paths(), [])

        new = os.path.join(self.out, "new.yaml")
        s = rf.ringfence("policy", "suggest", "--from", log, "--policy", self.policy,
                         "--write", new)
        self.assertEqual(s.returncode, 0, s.stderr)
        out = s.stdout
        self.assertIn("suggested_denied_test:", out)
        self.assertIn(f"would open denied.test port {self.denied.port} to {CURL}", out)
        self.assertIn("169.254.169.254:80 (1): not proposed", out)
        self.assertIn(f"127.0.0.1:{self.denied.port} (1): not proposed: a loopback address", out)
        self.assertIn("would allow POST /post", out)

        shown = json.loads(rf.ringfence("policy", "show", "--json", "--policy", new).stdout)
        pols = {p.get("key", p.get("name")): p for p in shown["network_policies"]} \
            if isinstance(shown["network_policies"], list) else shown["network_policies"]
        self.assertIn("suggested_denied_test", pols, shown)
        hosts = [ep["host"] for p in pols.values() for ep in p["endpoints"]]
        self.assertEqual(sorted(hosts), ["allowed.test", "api.test", "denied.test"])
        for h in hosts:
            self.assertNotIn("*", h)
        self.assertNotIn("169.254.169.254", json.dumps(shown))
        with open(self.policy) as f:
            self.assertNotIn("suggested", f.read())  # CURRENT untouched

        self.denied.records.clear()
        self.api.records.clear()
        r2 = rf.run(self.argv(), policy=new, cwd=self.wd)
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertEqual(self.denied.records.paths(), ["/b"])
        self.assertEqual(self.api.records.paths("POST"), ["/post"])

    def test_never_applied_without_write_and_never_in_place(self):
        log = os.path.join(self.out, "audit.jsonl")
        rf.run(self.argv(), policy=self.policy, cwd=self.wd, extra=["--audit", log])
        with open(self.policy) as f:
            before = f.read()
        s = rf.ringfence("policy", "suggest", "--from", log, "--policy", self.policy)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertIn("suggested_denied_test:", s.stdout)
        s = rf.ringfence("policy", "suggest", "--from", log, "--policy", self.policy,
                         "--write", self.policy)
        self.assertEqual(s.returncode, 1)
        self.assertIn("is the current policy", s.stderr)
        with open(self.policy) as f:
            self.assertEqual(f.read(), before)


if __name__ == "__main__":
    unittest.main()
