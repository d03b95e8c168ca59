"""Logins through mailroom-authd's auth socket with the passwd-file backend:
every password scheme checked against hashes made by independent tools
(doveadm pw, slappasswd, mkpasswd, Python's crypt), `mailroom pw` hashes
checked by doveadm, and the plaintext settings of the auth protocol."""
import os
import shutil
import subprocess
import sys
import unittest
import warnings

import authdtest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # deprecated, still an independent crypt(3) front end

PASSWORD = "Tr0ub4dor&3 x"
DOVEADM_SCHEMES = ["SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "ARGON2I", "ARGON2ID",
                   "SSHA", "SSHA512", "PLAIN"]
TOOL_TIMEOUT = 30


def tool(*argv):
    """stdout of an independent tool, stripped; SkipTest when it is missing."""
    exe = shutil.which(argv[0], path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if exe is None:
        raise unittest.SkipTest(f"{argv[0]} is not installed (scripts/setup)")
    res = subprocess.run([exe, *argv[1:]], capture_output=True, text=True,
                         timeout=TOOL_TIMEOUT)
    if res.returncode != 0:
        raise AssertionError(f"{argv}: {res.stderr}")
    return res.stdout.strip()


def independent_hashes():
    """(name, stored password) pairs, each made by a tool that is not ours."""
    out = []
    for scheme in DOVEADM_SCHEMES:
        out.append((f"doveadm-{scheme}", tool("doveadm", "pw", "-s", scheme, "-p", PASSWORD)))
    out.append(("slappasswd-ssha", tool("slappasswd", "-h", "{SSHA}", "-s", PASSWORD)))
    out.append(("slappasswd-crypt", tool("slappasswd", "-c", "$6$%.16s", "-s", PASSWORD)))
    for method, scheme in (("sha-512", "SHA512-CRYPT"), ("sha-256", "SHA256-CRYPT"),
                           ("bcrypt", "BLF-CRYPT")):
        out.append((f"mkpasswd-{method}",
                    "{%s}%s" % (scheme, tool("mkpasswd", "-m", method, PASSWORD))))
    # crypt(3) decides from the hash itself under {CRYPT}: yescrypt too.
    out.append(("mkpasswd-yescrypt", "{CRYPT}" + tool("mkpasswd", "-m", "yescrypt", PASSWORD)))
    # No prefix: default_pass_scheme (SHA512-CRYPT) applies.
    out.append(("mkpasswd-bare", tool("mkpasswd", "-m", "sha-512", PASSWORD)))
    for method, scheme in ((crypt.METHOD_SHA512, "SHA512-CRYPT"),
                           (crypt.METHOD_SHA256, "SHA256-CRYPT"),
                           (crypt.METHOD_MD5, "MD5-CRYPT")):
        out.append((f"python-{scheme}", "{%s}%s" % (scheme, crypt.crypt(PASSWORD,
                                                                         crypt.mksalt(method)))))
    return out


class Schemes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hashes = independent_hashes()
        cls.users = {f"{name.lower()}@example.test": stored for name, stored in cls.hashes}
        users = os.path.join("/tmp", f"mr-e2e-users-{os.getpid()}")
        with open(users, "w") as f:
            for user, stored in cls.users.items():
                f.write(f"{user}:{stored}\n")
        cls.addClassCleanup(os.unlink, users)
        cls.authd = authdtest.Authd(f"backend = passwd-file\npasswd_file = {users}\n",
                                    name="schemes")
        cls.addClassCleanup(cls.authd.stop)

    def test_every_scheme_right_and_wrong(self):
        self.assertEqual(len(self.users), len(self.hashes), "names collide")
        c = self.authd.auth_client()
        self.addCleanup(c.close)
        for user, stored in self.users.items():
            with self.subTest(user=user, stored=stored[:40]):
                self.assertEqual(c.login(user, PASSWORD), f"OK\t1\tuser={user}")
                self.assertEqual(c.login(user, PASSWORD + "x"), "FAIL\t1")
                self.assertEqual(c.login(user, PASSWORD[:-1]), "FAIL\t1")
                self.assertEqual(c.login(user, ""), "FAIL\t1")

    def test_mailroom_auth_test(self):
        user = "doveadm-sha512-crypt@example.test"
        r = self.authd.mailroom("auth", "test", user, PASSWORD)
        self.assertEqual((r.returncode, r.stdout), (0, "OK user=" + user + "\n"), r.stderr)
        r = self.authd.mailroom("auth", "test", "--service", "smtp", user, stdin="wrong\n")
        self.assertEqual((r.returncode, r.stdout), (1, "FAIL\n"), r.stderr)
        r = self.authd.mailroom("auth", "test", "nobody@example.test", "x")
        self.assertEqual((r.returncode, r.stdout), (1, "FAIL\n"), r.stderr)

    def test_our_hashes_verify_in_doveadm(self):
        """The other direction: `mailroom pw` output checked by doveadm pw -t."""
        for scheme in DOVEADM_SCHEMES:
            with self.subTest(scheme=scheme):
                r = self.authd.mailroom("pw", "-s", scheme, PASSWORD)
                self.assertEqual(r.returncode, 0, r.stderr)
                stored = r.stdout.strip()
                self.assertTrue(stored.startswith("{%s}" % scheme), stored)
                self.assertIn("(verified)", tool("doveadm", "pw", "-t", stored, "-p", PASSWORD))
                res = subprocess.run(["doveadm", "pw", "-t", stored, "-p", "wrong"],
                                     capture_output=True, text=True, timeout=TOOL_TIMEOUT)
                self.assertNotEqual(res.returncode, 0, res.stdout)


USERS = "demo@example.test:{PLAIN}demo\n"


class Plaintext(unittest.TestCase):
    """auth_allow_plaintext and auth_plaintext_networks: PLAIN and LOGIN on
    requests not marked secured."""

    @classmethod
    def setUpClass(cls):
        cls.users = os.path.join("/tmp", f"mr-e2e-plain-{os.getpid()}")
        with open(cls.users, "w") as f:
            f.write(USERS)
        cls.addClassCleanup(os.unlink, cls.users)

    def daemon(self, extra=""):
        d = authdtest.Authd(f"backend = passwd-file\npasswd_file = {self.users}\n{extra}",
                            name="plaintext")
        self.addCleanup(d.stop)
        c = d.auth_client()
        self.addCleanup(c.close)
        return d, c

    def unsecured(self, c, rip=None, password="demo"):
        return c.login("demo@example.test", password, secured=False, rip=rip)

    def login_mech_unsecured(self, c, rid):
        c.auth(rid, "LOGIN", service="imap", secured=False)
        first = c.line()
        if not first.startswith("CONT"):
            return first
        c.send(f"CONT\t{rid}\t" + authdtest.b64(b"demo@example.test"))
        c.line()
        c.send(f"CONT\t{rid}\t" + authdtest.b64(b"demo"))
        return c.line()

    def test_default_refuses(self):
        d, c = self.daemon()
        refused = "FAIL\t1\treason=Plaintext authentication disallowed on non-secure " \
                  "(SSL/TLS) connections"
        self.assertEqual(self.unsecured(c), refused)
        self.assertEqual(self.unsecured(c, rip="127.0.0.1"), refused)
        self.assertTrue(self.login_mech_unsecured(c, 50).startswith("FAIL\t50\treason="))
        self.assertEqual(c.login("demo@example.test", "demo"), "OK\t1\tuser=demo@example.test")

    def test_allow_plaintext(self):
        d, c = self.daemon("auth_allow_plaintext = yes\n")
        self.assertEqual(self.unsecured(c), "OK\t1\tuser=demo@example.test")
        self.assertEqual(self.unsecured(c, rip="192.0.2.9"), "OK\t1\tuser=demo@example.test")
        self.assertEqual(self.login_mech_unsecured(c, 51), "OK\t51\tuser=demo@example.test")
        # Still a password check.
        self.assertEqual(self.unsecured(c, password="wrong"), "FAIL\t1")

    def test_plaintext_networks(self):
        d, c = self.daemon("auth_plaintext_networks = 127.0.0.0/8, ::1\n")
        self.assertEqual(self.unsecured(c, rip="127.0.0.1"), "OK\t1\tuser=demo@example.test")
        self.assertEqual(self.unsecured(c, rip="::1"), "OK\t1\tuser=demo@example.test")
        for rip in ("192.0.2.9", "::2", None):
            line = self.unsecured(c, rip=rip)
            self.assertTrue(line.startswith("FAIL\t1\treason=Plaintext"), (rip, line))
        self.assertEqual(self.unsecured(c, rip="127.0.0.2", password="wrong"), "FAIL\t1")

    def test_bad_network_stops_start_up(self):
        conf = os.path.join("/tmp", f"mr-e2e-badnet-{os.getpid()}.conf")
        with open(conf, "w") as f:
            f.write("auth_plaintext_networks = 127.0.0.0/33\n")
        self.addCleanup(os.unlink, conf)
        r = subprocess.run([authdtest.AUTHD, "--config", conf, "--check-config"],
                           capture_output=True, text=True, timeout=TOOL_TIMEOUT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("auth_plaintext_networks", r.stderr)

    def test_keys_in_print_defaults(self):
        r = subprocess.run([authdtest.AUTHD, "--print-defaults"], capture_output=True,
                           text=True, timeout=TOOL_TIMEOUT, check=True)
        self.assertIn("\nauth_allow_plaintext = no\n", r.stdout)
        self.assertIn("\nauth_plaintext_networks =\n", r.stdout)


if __name__ == "__main__":
    sys.exit(unittest.main())
