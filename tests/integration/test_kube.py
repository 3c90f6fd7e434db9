"""deploy/kubernetes/ played for real with `podman kube play` (runc, the
test's own CONTAINERS_CONF): each manifest's pod starts ringfence as its
entry point from the image `make image` builds, and the sandboxed command
ran (its exit code comes back), without capabilities, with no_new_privs
under the runtime's seccomp profile, and a write the container allows (a
control container in the same pod shows it) is denied. Each pod is torn
down again. Podman 4.3 (Debian 12) has no Job kind: a Job's pod template is
played as a pod, and the test says so."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import rf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "../.."))
DEPLOY = os.path.join(REPO, "deploy/kubernetes")
PROBE = ("grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
         "echo x > /scratch/denied && echo write-allowed || echo write-denied; exit 7")


def _skip_reason():
    try:
        import yaml  # noqa: F401
    except ImportError:
        return "python3-yaml not installed: scripts/install-deps.sh test installs it"
    return rf.podman_missing(("podman", "runc", "catatonit"))


@unittest.skipIf(_skip_reason(), _skip_reason())
class KubePlay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-kube-", dir="/tmp")
        cls.env = rf.podman_env(cls.tmp)
        cls.suffix = "-t%d" % os.getpid()
        cls.image = "localhost/ringfence:test" + cls.suffix
        r = subprocess.run([os.path.join(REPO, "scripts/build-image.sh"),
                            rf.BIN, cls.image],
                           capture_output=True, text=True, timeout=300, env=cls.env)
        if r.returncode != 0:
            raise AssertionError("make image failed: " + r.stderr)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["podman", "rmi", "-f", cls.image], capture_output=True, timeout=120,
                       env=cls.env)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def podman(self, *args, timeout=120):
        return subprocess.run(["podman"] + list(args), capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    def pod_for_test(self, manifest):
        """The manifest as a Pod this test can check: its own names and
        image, the probe as the agent command, a /scratch emptyDir outside
        the policy, and a control container that writes there."""
        import yaml
        with open(os.path.join(DEPLOY, manifest)) as f:
            doc = yaml.safe_load(f)
        if doc["kind"] == "Job":
            sys.stderr.write(f"\n{manifest}: podman kube play has no Job kind here; "
                             "playing its pod template as a pod\n")
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": doc["metadata"]["name"]}, "spec": doc["spec"]["template"]["spec"]}
        else:
            pod = doc
        pod["metadata"]["name"] += self.suffix
        spec = pod["spec"]
        agent = spec["containers"][0]
        # The manifest's own restricted settings stay as they are.
        self.assertEqual(agent["securityContext"]["capabilities"]["drop"], ["ALL"])
        self.assertFalse(agent["securityContext"]["allowPrivilegeEscalation"])
        self.assertTrue(agent["securityContext"]["readOnlyRootFilesystem"])
        self.assertTrue(spec["securityContext"]["runAsNonRoot"])
        self.assertEqual(spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
        agent["image"] = self.image
        cut = agent["args"].index("--")
        agent["args"] = agent["args"][:cut + 1] + ["/bin/sh", "-c", PROBE]
        agent["volumeMounts"].append({"name": "scratch", "mountPath": "/scratch"})
        control = {"name": "control", "image": self.image,
                   "command": ["/bin/sh", "-c", "echo x > /scratch/control && echo control-ok"],
                   "securityContext": agent["securityContext"],
                   "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}
        spec["containers"].append(control)
        spec["volumes"].append({"name": "scratch", "emptyDir": {}})
        path = os.path.join(self.tmp, manifest)
        with open(path, "w") as f:
            yaml.safe_dump(pod, f)
        return path, pod["metadata"]["name"]

    def play(self, manifest):
        path, name = self.pod_for_test(manifest)
        r = self.podman("kube", "play", "--configmap",
                        os.path.join(DEPLOY, "policy-configmap.yaml"), path)
        try:
            self.assertEqual(r.returncode, 0, r.stderr)
            agent, control = name + "-agent", name + "-control"
            for c in (agent, control):
                w = self.podman("wait", c)
                self.assertEqual(w.returncode, 0, w.stderr)
            code = self.podman("inspect", "--format", "{{.State.ExitCode}}", agent).stdout.strip()
            out = self.podman("logs", agent)
            ctl = self.podman("logs", control)
            return code, out.stdout, out.stderr, ctl.stdout
        finally:
            down = self.podman("kube", "down", path)
            self.assertEqual(down.returncode, 0, down.stderr)

    def check(self, manifest):
        code, out, err, control = self.play(manifest)
        self.assertEqual(code, "7", out + err)  # the sandboxed command's own exit code
        status = {k: v.split() for k, v in (l.split(":", 1) for l in out.splitlines() if ":" in l)}
        self.assertEqual(status["Uid"], ["65534"] * 4, out)
        self.assertEqual(int(status["CapEff"][0], 16), 0)
        self.assertEqual(int(status["CapBnd"][0], 16), 0)
        self.assertEqual(status["NoNewPrivs"], ["1"])
        self.assertEqual(status["Seccomp"], ["2"])
        self.assertIn("control-ok", control)
        self.assertIn("write-denied", out, err)
        self.assertNotIn("write-allowed", out)
        self.assertIn("network: auto: ", err)

    def test_pod(self):
        self.check("pod.yaml")

    def test_job(self):
        self.check("job.yaml")

    def test_every_manifest_is_played(self):
        played = {"pod.yaml", "job.yaml", "policy-configmap.yaml"}
        self.assertEqual(set(f for f in os.listdir(DEPLOY) if f.endswith(".yaml")), played)


if __name__ == "__main__":
    unittest.main()
