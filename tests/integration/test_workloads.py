"""Real workloads still run under the default seccomp profile (and the
Landlock layer): python3 -c, git init && git commit, gcc compiling and
running a program, make, curl --version, node -e (if present), tar, and sh
pipelines. Each runs in a TempDir given as --workdir, with a policy written
as a real one would be: system dirs read-only, workdir and /tmp read-write."""
import json
import os
import shutil
import unittest

from rf import PY, TempDir, run

SYSTEM_RO = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/dev/urandom",
             "/dev/random", "/dev/zero"]


def policy(workdir, mode="platform"):
    ro = [p for p in SYSTEM_RO if os.path.exists(p)]
    return ("version: 1\n"
            "filesystem_policy:\n"
            "  include_workdir: true\n"
            f"  read_only: {json.dumps(ro)}\n"
            f"  read_write: {json.dumps([workdir, '/tmp', '/dev/null'])}\n"
            f"network: {{mode: {mode}}}\n"
            "gpu: \"off\"\n")


def env_for(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"HOME": home, "LC_ALL": "C", "PATH": "/usr/local/bin:/usr/bin:/bin"})
    return env


class Workloads(unittest.TestCase):
    def sh(self, d, script, mode="platform", timeout=60):
        r = run(["/bin/sh", "-c", script], policy=policy(d, mode), extra=["--workdir", d],
                env=env_for(d), timeout=timeout)
        self.assertEqual(r.returncode, 0, f"{script}\nstdout: {r.stdout}\nstderr: {r.stderr}")
        return r.stdout

    def test_python(self):
        with TempDir() as d:
            r = run([PY, "-c", "import os, json, socket, subprocess;"
                     "print(json.dumps({'pid': os.getpid() > 0,"
                     " 'sub': subprocess.run(['true']).returncode}))"],
                    policy=policy(d), extra=["--workdir", d], env=env_for(d))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), {"pid": True, "sub": 0})

    def test_git_init_and_commit(self):
        with TempDir() as d:
            out = self.sh(d, "git init -q repo && cd repo && echo hi > f && git add f && "
                             "git -c user.name=rf -c user.email=rf@test commit -q -m first && "
                             "git log --oneline | wc -l")
            self.assertEqual(out.strip(), "1")

    def test_gcc_compile_and_run(self):
        if not shutil.which("gcc"):
            self.skipTest("gcc not installed")
        with TempDir() as d:
            with open(os.path.join(d, "hello.c"), "w") as f:
                f.write('#include <stdio.h>\nint main(void){printf("hello %d\\n", 6*7);return 0;}\n')
            os.chmod(os.path.join(d, "hello.c"), 0o666)
            out = self.sh(d, "gcc -O1 -o hello hello.c && ./hello")
            self.assertEqual(out, "hello 42\n")

    def test_make(self):
        if not shutil.which("make"):
            self.skipTest("make not installed")
        with TempDir() as d:
            with open(os.path.join(d, "Makefile"), "w") as f:
                f.write("all: b\na:\n\techo built-a > a\n"
                        "b: a\n\tcat a > b && echo built-b >> b\n")
            os.chmod(os.path.join(d, "Makefile"), 0o666)
            out = self.sh(d, "make -s -j2 && cat b")
            self.assertEqual(out, "built-a\nbuilt-b\n")

    def test_curl_version(self):
        if not shutil.which("curl"):
            self.skipTest("curl not installed")
        with TempDir() as d:
            self.assertIn("curl ", self.sh(d, "curl --version"))

    def test_node(self):
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            self.skipTest("node not installed")
        with TempDir() as d:
            out = self.sh(d, node + " -e 'const fs=require(\"fs\");"
                             "fs.writeFileSync(\"n.txt\", String(6*7));"
                             "console.log(fs.readFileSync(\"n.txt\",\"utf8\"))'")
            self.assertEqual(out.strip(), "42")

    def test_tar(self):
        with TempDir() as d:
            out = self.sh(d, "mkdir -p src/sub && echo one > src/a && echo two > src/sub/b && "
                             "tar czf t.tgz src && mkdir out && tar xzf t.tgz -C out && "
                             "cat out/src/a out/src/sub/b")
            self.assertEqual(out, "one\ntwo\n")

    def test_sh_pipelines(self):
        with TempDir() as d:
            out = self.sh(d, "seq 1 1000 | grep 7 | sort -rn | head -n 3 | tr '\\n' ' '; "
                             "echo; (echo a; echo b) | wc -l")
            self.assertEqual(out, "997 987 979 \n2\n")

    def test_workloads_in_none_mode(self):
        # The strictest socket rules: the same tools still work offline.
        with TempDir() as d:
            out = self.sh(d, f"{PY} -c 'print(1+1)' && git init -q r && echo ok", mode="none")
            self.assertEqual(out, "2\nok\n")


if __name__ == "__main__":
    unittest.main()
