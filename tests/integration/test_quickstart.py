"""scripts/quickstart with each backend: starts, answers, is safe to run
twice, and stop leaves no process behind.

The demo login is checked with Cyrus SASL's own testsaslauthd against the
saslauthd socket and with a plain socket on the lookup socket.
"""
import os
import random
import shlex
import socket
import subprocess
import sys
import tempfile
import unittest

import mrtest

QUICKSTART = os.path.join(mrtest.SRCDIR, "scripts", "quickstart")
TIMEOUT = 120


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pick_port_base():
    for _ in range(50):
        base = random.randrange(20000, 50000)
        if all(port_free(base + off) for off in (389, 3306)):
            return base
    raise RuntimeError("no free port base")


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


class QuickstartTest(unittest.TestCase):
    def quickstart(self, *args):
        return subprocess.run([sys.executable, QUICKSTART, *args], capture_output=True,
                              text=True, timeout=TIMEOUT,
                              env=dict(os.environ, MR_BUILD=mrtest.BUILDDIR, MR_NO_SETUP="1"))

    def lookup(self, sock_path, line):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(sock_path)
            s.sendall(line.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.decode().rstrip("\n").split("\t")

    def run_backend(self, backend):
        with tempfile.TemporaryDirectory(prefix="mr-qs-", dir="/tmp") as d:
            args = ["--dir", d, "--port-base", str(pick_port_base()), "--backend", backend]
            res = self.quickstart(*args)
            try:
                self.assertEqual(res.returncode, 0, res.stderr)
                env = read_env(os.path.join(d, "quickstart.env"))
                for key in ("BACKEND", "AUTH_SOCKET", "DEMO_USER", "DEMO_PASSWORD", "MAIL_ROOT"):
                    self.assertTrue(env.get(key), key)
                self.assertEqual(env["BACKEND"], backend)
                self.assertEqual(env["DEMO_USER"], "demo@example.test")
                if backend == "mysql":
                    for key in ("MYSQL_SOCKET", "MYSQL_DB", "MYSQL_USER", "MYSQL_PASSWORD"):
                        self.assertTrue(env.get(key), key)
                if backend == "ldap":
                    for key in ("LDAP_URI", "LDAP_BASE_DN", "LDAP_BIND_DN", "LDAP_BIND_PW"):
                        self.assertTrue(env.get(key), key)
                sasl = env["SASLAUTHD_SOCKET"]
                good = subprocess.run(["testsaslauthd", "-f", sasl, "-u", env["DEMO_USER"],
                                       "-p", env["DEMO_PASSWORD"], "-s", "smtp"],
                                      capture_output=True, text=True, timeout=30)
                self.assertIn('OK "Success."', good.stdout)
                bad = subprocess.run(["testsaslauthd", "-f", sasl, "-u", env["DEMO_USER"],
                                      "-p", env["DEMO_PASSWORD"] + "x", "-s", "smtp"],
                                     capture_output=True, text=True, timeout=30)
                self.assertIn("NO", bad.stdout)
                answer = self.lookup(env["LOOKUP_SOCKET"], "1\tUSER\tdemo@example.test")
                self.assertEqual(answer[:2], ["1", "OK"], answer)
                self.assertIn("maildir=" + env["MAIL_ROOT"] + "/example.test/demo/", answer)
                # Twice is safe: the running platform is left as it is.
                again = self.quickstart(*args)
                self.assertEqual(again.returncode, 0, again.stderr)
                self.assertIn("already running", again.stderr)
                self.assertEqual(read_env(os.path.join(d, "quickstart.env"))["DEMO_PASSWORD"],
                                 env["DEMO_PASSWORD"])
            finally:
                stopped = self.quickstart("stop", "--dir", d)
            self.assertEqual(stopped.returncode, 0, stopped.stderr)
            left = subprocess.run(["pgrep", "-af", d], capture_output=True, text=True)
            self.assertEqual(left.stdout, "", "processes left behind")
            self.assertFalse(os.path.exists(os.path.join(d, "authd.pid")))

    def test_file_backend(self):
        self.run_backend("file")

    def test_mysql_backend(self):
        self.run_backend("mysql")

    def test_ldap_backend(self):
        self.run_backend("ldap")

    def test_bad_arguments(self):
        res = self.quickstart("--port-base", "80")
        self.assertEqual(res.returncode, 2)
        self.assertIn("--port-base", res.stderr)


if __name__ == "__main__":
    unittest.main()
