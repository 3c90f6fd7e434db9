"""Egress proxy SSRF filter and DNS pinning, end to end through the real
`ringfence proxy`: every forbidden address form in its own test case, each
with a policy endpoint that would otherwise allow it, and a DNS server whose
answers flip between lookups. Every wait is bounded."""
import json
import os
import shutil
import socket
import tempfile
import unittest

import rf
import test_proxy as px

# (test name, host in the request and in the policy, expected words in the reason)
LITERAL_CASES = [
    ("loopback_v4", "127.0.0.1", "loopback"),
    ("loopback_v4_other", "127.3.2.1", "loopback"),
    ("loopback_v6", "::1", "loopback"),
    ("link_local_v4", "169.254.1.1", "link-local"),
    ("cloud_metadata", "169.254.169.254", "link-local"),
    ("link_local_v6", "fe80::1", "link-local"),
    ("unspecified_v4", "0.0.0.0", "unspecified"),
    ("unspecified_v6", "::", "unspecified"),
    ("multicast_v4", "224.0.0.1", "multicast"),
    ("multicast_v6", "ff02::1", "multicast"),
    ("broadcast", "255.255.255.255", "broadcast"),
    ("mapped_loopback", "::ffff:127.0.0.1", "loopback"),
    ("mapped_metadata", "::ffff:169.254.169.254", "link-local"),
    ("mapped_unspecified", "::ffff:0.0.0.0", "unspecified"),
    ("mapped_broadcast", "::ffff:255.255.255.255", "broadcast"),
    ("compatible_loopback", "::127.0.0.1", "loopback"),
    ("compatible_metadata", "::169.254.169.254", "link-local"),
    ("nat64_loopback", "64:ff9b::7f00:1", "loopback"),
    ("nat64_metadata", "64:ff9b::a9fe:a9fe", "link-local"),
    ("noncanonical_hex", "0x7f.1", "non-canonical"),
    ("noncanonical_octal", "0177.0.0.1", "non-canonical"),
    ("noncanonical_integer", "2130706433", "non-canonical"),
    ("noncanonical_short", "127.1", "non-canonical"),
]

# (test name, host, network.hosts address, endpoint extra, reason words)
NAME_CASES = [
    ("name_to_loopback", "internal.test", "127.0.0.1", "", "loopback"),
    ("name_to_metadata", "meta.test", "169.254.169.254", "", "link-local"),
    # An exact host may resolve to a private or reserved address (as in
    # OpenShell); a wildcard or hostless endpoint needs allowed_ips for it.
    ("wildcard_to_mapped_private", "m.wild.test", "::ffff:10.0.0.1", "", "private"),
    ("wildcard_to_nat64_private", "n.wild.test", "64:ff9b::a00:1", "", "private"),
    ("wildcard_to_rfc1918_10", "p10.wild.test", "10.1.2.3", "", "private"),
    ("wildcard_to_rfc1918_172", "p172.wild.test", "172.16.5.5", "", "private"),
    ("wildcard_to_cgnat", "cg.wild.test", "100.64.0.1", "", "private"),
    ("wildcard_to_ula", "ula.wild.test", "fd00::1", "", "private"),
    ("wildcard_to_documentation", "doc.wild.test", "203.0.113.9", "", "reserved"),
    ("name_to_mapped_loopback", "mapped.test", "::ffff:127.0.0.1", "", "loopback"),
    ("wildcard_to_private", "a.wild.test", "192.168.1.1", "", "private"),
    ("allowed_ips_not_covering", "near.test", "127.0.0.2", ", allowed_ips: [127.0.0.1/32]",
     "127.0.0.2, a loopback"),
    ("allowed_ips_cannot_allow_metadata", "meta2.test", "169.254.169.254",
     ", allowed_ips: [169.254.0.0/16]", "link-local"),
    ("allowed_ips_cannot_allow_unspecified", "zero.test", "0.0.0.0", ", allowed_ips: [0.0.0.0/0]",
     "unspecified"),
]


def _policy(port):
    eps = []
    for _, host, why in LITERAL_CASES:
        # The validator refuses a non-canonical literal as an endpoint; the
        # proxy refuses it in a request whatever the policy says.
        if why == "non-canonical":
            continue
        eps.append("      - { host: \"%s\", port: %d }" % (host, port))
    hosts = []
    for _, host, addr, extra, _ in NAME_CASES:
        hosts.append("%s: \"%s\"" % (host, addr))
        if host.endswith(".wild.test"):
            if "*.wild.test" not in "".join(eps):
                eps.append("      - { host: \"*.wild.test\", port: %d }" % port)
        else:
            eps.append("      - { host: %s, port: %d%s }" % (host, port, extra))
    hosts.append("ok.test: 127.0.0.1")
    eps.append("      - { host: ok.test, port: %d, allowed_ips: [127.0.0.1/32] }" % port)
    return ("version: 1\nnetwork:\n  hosts: {%s}\nnetwork_policies:\n  everything:\n"
            "    endpoints:\n%s\n" % (", ".join(hosts), "\n".join(eps)))


def connect_req(host, port):
    h = "[%s]" % host if ":" in host else host
    return ("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (h, port, h, port)).encode()


class ProxySsrf(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.target = px.CountingListener("127.0.0.1")
        cls.proxy = px.Proxy(_policy(cls.target.port))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.target.close()

    def refused(self, host, words):
        before = self.target.count
        resp = self.proxy.raw(connect_req(host, self.target.port))
        self.assertEqual(px.status_of(resp), 403, resp)
        j = px.json_body(resp)
        self.assertIn(words, j["reason"])
        self.assertTrue(j["hint"])
        self.assertEqual(self.target.count, before, "the proxy connected anyway")

    def test_control_allowed_with_allowed_ips(self):
        before = self.target.count
        resp = self.proxy.raw(connect_req("ok.test", self.target.port))
        self.assertEqual(px.status_of(resp), 200, resp)
        self.assertEqual(rf.wait_count(lambda: self.target.count, before + 1), before + 1)

    def test_forward_path_filtered_too(self):
        resp = self.proxy.raw(b"GET http://169.254.169.254:%d/latest/meta-data/ HTTP/1.1\r\n\r\n"
                              % self.target.port)
        self.assertEqual(px.status_of(resp), 403, resp)
        self.assertIn("link-local", px.json_body(resp)["reason"])


def _add(name, host, words):
    setattr(ProxySsrf, "test_" + name, lambda self: self.refused(host, words))


for _name, _host, _words in LITERAL_CASES:
    _add(_name, _host, _words)
for _name, _host, _addr, _extra, _words in NAME_CASES:
    _add(_name, _host, _words)


class ProxyOpenShellL4Forms(unittest.TestCase):
    """OpenShell's in-label wildcard and hostless endpoints reach the SSRF
    stage of the real proxy (the host matched) and are judged there; hosts
    they do not cover are refused before it."""
    POLICY = """version: 1
network:
  hosts: {us-aip.corp.test: 10.9.9.9, us.aip.corp.test: 10.9.9.9, far.test: 8.8.4.4}
network_policies:
  a:
    endpoints:
      - { host: "*-aip.corp.test", port: 9443 }
      - { port: 9444, allowed_ips: [10.0.5.0/24] }
"""

    @classmethod
    def setUpClass(cls):
        cls.proxy = px.Proxy(cls.POLICY)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def reason(self, host, port):
        resp = self.proxy.raw(connect_req(host, port))
        self.assertEqual(px.status_of(resp), 403, resp)
        return px.json_body(resp)["reason"]

    def test_in_label_wildcard_matches_within_the_first_label(self):
        # Matched: refused only because a pattern needs allowed_ips for a private address.
        self.assertIn("private address", self.reason("us-aip.corp.test", 9443))
        # Not matched (the hostless endpoint on 9444 is the only candidate).
        self.assertIn("port 9443 is not allowed for host us.aip.corp.test",
                      self.reason("us.aip.corp.test", 9443))

    def test_hostless_endpoint_judges_by_allowed_ips(self):
        self.assertIn("8.8.4.4, outside the endpoint's allowed_ips", self.reason("far.test", 9444))
        self.assertIn("port 9443 is not allowed", self.reason("far.test", 9443))


class ProxyDnsPinning(unittest.TestCase):
    def run_flips(self, answers, n):
        dns = px.FlipDns("flip.test", answers)
        good = px.CountingListener("127.0.0.1")
        bad = px.CountingListener("127.0.0.2", good.port)
        policy = ("version: 1\nnetwork_policies:\n  flip:\n    endpoints:\n"
                  "      - { host: flip.test, port: %d, allowed_ips: [127.0.0.1/32] }\n" % good.port)
        proxy = px.Proxy(policy, ["--dns-server", "127.0.0.1:%d" % dns.port,
                                  "--dns-timeout-ms", "2000"])
        try:
            statuses = [px.status_of(proxy.raw(connect_req("flip.test", good.port)))
                        for _ in range(n)]
            return statuses, dns, good, bad, proxy
        finally:
            proxy.stop()
            good.close()
            bad.close()
            dns.close()

    def test_flipping_answer_never_reaches_unchecked_address(self):
        statuses, dns, good, bad, proxy = self.run_flips(["127.0.0.1", "127.0.0.2"], 8)
        self.assertEqual(bad.count, 0, "connected to the unchecked address")
        self.assertEqual(dns.a_queries, 8, "one lookup per connection, never a second one")
        expect = [200 if a == "127.0.0.1" else 403 for a in dns.log]
        self.assertEqual(statuses, expect)
        self.assertEqual(rf.wait_count(lambda: good.count, statuses.count(200)), statuses.count(200))
        self.assertIn(200, statuses)
        self.assertIn(403, statuses)
        denies = [e for e in proxy.events() if e["action"] == "deny"]
        self.assertTrue(all(e["address"] == "127.0.0.2" for e in denies), denies)

    def test_mixed_answer_is_refused_whole(self):
        statuses, dns, good, bad, proxy = self.run_flips([["127.0.0.1", "127.0.0.2"]], 2)
        self.assertEqual(statuses, [403, 403])
        self.assertEqual((good.count, bad.count), (0, 0))


# Bind-mounts $1 over /etc/hosts and $2 over /etc/resolv.conf in a private
# mount namespace, then execs the proxy (same pid: stopping it stops the proxy).
HOSTS_WRAP = ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
              'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf'
              ' && shift 2 && exec "$@"', "sh"]


@unittest.skipUnless(rf.IS_ROOT, "needs root for a private mount namespace")
class ProxyHostsFile(unittest.TestCase):
    """c-ares' default sources (no --dns-server, no network.hosts): a name in
    /etc/hosts resolves from it; one that is not fails with 502. The only DNS
    server the namespace knows is 127.0.0.1:53, where nothing listens."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rf-px-hosts-", dir="/tmp")
        hosts, resolv = os.path.join(cls.dir, "hosts"), os.path.join(cls.dir, "resolv.conf")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n127.0.0.1 hostsfile.test\n")
        with open(resolv, "w") as f:
            f.write("nameserver 127.0.0.1\n")
        cls.echo = px.EchoServer()
        policy = ("version: 1\nnetwork_policies:\n  hostsfile:\n    endpoints:\n"
                  "      - { host: hostsfile.test, port: %d, allowed_ips: [127.0.0.1/32] }\n"
                  "      - { host: nothosts.test, port: %d, allowed_ips: [127.0.0.1/32] }\n"
                  % (cls.echo.port, cls.echo.port))
        cls.proxy = px.Proxy(policy, ["--dns-timeout-ms", "2000"],
                             wrap=HOSTS_WRAP + [hosts, resolv])

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.echo.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_proxy_runs_in_its_own_mount_namespace(self):
        pid = self.proxy.p.pid
        self.assertEqual(os.readlink("/proc/%d/exe" % pid), os.path.realpath(rf.BIN))
        self.assertNotEqual(os.readlink("/proc/%d/ns/mnt" % pid), os.readlink("/proc/self/ns/mnt"))
        with open("/etc/hosts") as f:
            self.assertNotIn("hostsfile.test", f.read(), "the bind mount leaked to the host")

    def test_name_from_hosts_file_resolves(self):
        before = self.echo.count
        s, status = px.connect_tunnel(self.proxy, "hostsfile.test", self.echo.port)
        try:
            self.assertEqual(status, 200, self.proxy.stderr())
            data = os.urandom(4096)
            self.assertEqual(px.echo_roundtrip(s, data, timeout=10), data)
        finally:
            s.close()
        self.assertEqual(rf.wait_count(lambda: self.echo.count, before + 1), before + 1)
        allow = [e for e in self.proxy.events()
                 if e["action"] == "allow" and e.get("host") == "hostsfile.test"]
        self.assertTrue(allow and allow[-1]["address"] == "127.0.0.1", self.proxy.events())

    def test_name_not_in_hosts_file_is_502(self):
        before = self.echo.count
        resp = self.proxy.raw(connect_req("nothosts.test", self.echo.port), timeout=15)
        self.assertEqual(px.status_of(resp), 502, resp)
        j = px.json_body(resp)
        self.assertEqual((j["host"], j["port"]), ("nothosts.test", self.echo.port))
        self.assertIn("cannot resolve nothosts.test", j["reason"])
        self.assertEqual(self.echo.count, before, "the proxy connected anyway")

if __name__ == "__main__":
    unittest.main()
