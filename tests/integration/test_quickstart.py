"""scripts/quickstart with each backend: starts, answers, is safe to run
twice, and stop leaves no process behind.

The demo login is checked with Cyrus SASL's own testsaslauthd against the
saslauthd socket and with a plain socket on the lookup socket; mail goes
in with Python's smtplib (port 25 role, and submission with STARTTLS, the
certificate checked against CA_CERT, and AUTH) and must land in the demo
Maildir; Python's imaplib logs in on IMAPS_PORT (certificate checked) and
reads it from INBOX, and poplib reads it on POP3S_PORT.
"""
import imaplib
import os
import poplib
import random
import shlex
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
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
    """A base whose every quickstart port is free and below the kernel's
    ephemeral range (where any outgoing connection may take a port)."""
    top = mrtest.ephemeral_low() - 3400
    for _ in range(50):
        base = random.randrange(20000, max(top, 20001))
        if all(port_free(base + off)
               for off in (24, 25, 110, 143, 389, 465, 587, 993, 995, 3306)):
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

    def send_mail(self, env):
        msg = "From: someone@remote.test\r\nTo: {to}\r\nSubject: {tag}\r\n\r\nhello\r\n"
        with smtplib.SMTP("127.0.0.1", int(env["SMTP_PORT"]), timeout=30) as s:
            s.sendmail("someone@remote.test", [env["DEMO_USER"]],
                       msg.format(to=env["DEMO_USER"], tag="qs-mx"))
        ctx = ssl.create_default_context(cafile=env["CA_CERT"])
        # "localhost": the name smtplib checks the certificate against.
        with smtplib.SMTP("localhost", int(env["SUBMISSION_PORT"]), timeout=30) as s:
            s.starttls(context=ctx)
            s.login(env["DEMO_USER"], env["DEMO_PASSWORD"])
            s.sendmail(env["DEMO_USER"], [env["DEMO_USER"]],
                       msg.format(to=env["DEMO_USER"], tag="qs-submission").replace(
                           "someone@remote.test", env["DEMO_USER"]))
        new = os.path.join(env["MAIL_ROOT"], "example.test", "demo", "new")
        deadline = time.monotonic() + 30
        while True:
            texts = []
            for name in os.listdir(new) if os.path.isdir(new) else ():
                with open(os.path.join(new, name), errors="replace") as f:
                    texts.append(f.read())
            tags = {t for t in ("qs-mx", "qs-submission") if any(t in x for x in texts)}
            if tags == {"qs-mx", "qs-submission"}:
                break
            self.assertLess(time.monotonic(), deadline, f"delivered so far: {tags}")
            time.sleep(0.1)

    def read_mail(self, env):
        """The two messages, read with imaplib over IMAPS; STARTTLS on the
        IMAP port logs in too."""
        ctx = ssl.create_default_context(cafile=env["CA_CERT"])
        with imaplib.IMAP4("localhost", int(env["IMAP_PORT"]), timeout=30) as c:
            c.starttls(ssl_context=ctx)
            self.assertEqual(c.login(env["DEMO_USER"], env["DEMO_PASSWORD"])[0], "OK")
        with imaplib.IMAP4_SSL("localhost", int(env["IMAPS_PORT"]), ssl_context=ctx,
                               timeout=30) as c:
            self.assertEqual(c.login(env["DEMO_USER"], env["DEMO_PASSWORD"])[0], "OK")
            typ, data = c.select("INBOX")
            self.assertEqual(typ, "OK", data)
            typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertEqual(typ, "OK", data)
            subjects = b" ".join(part[1] for part in data if isinstance(part, tuple))
            self.assertIn(b"qs-mx", subjects)
            self.assertIn(b"qs-submission", subjects)
            c.logout()

    def read_mail_pop3(self, env):
        """The two messages again, over POP3S (TOP: nothing is marked
        read, nothing deleted); STLS on the POP3 port logs in too."""
        ctx = ssl.create_default_context(cafile=env["CA_CERT"])
        c = poplib.POP3("localhost", int(env["POP3_PORT"]), timeout=30)
        c.stls(context=ctx)
        c.user(env["DEMO_USER"])
        self.assertTrue(c.pass_(env["DEMO_PASSWORD"]).startswith(b"+OK"))
        c.quit()
        c = poplib.POP3_SSL("localhost", int(env["POP3S_PORT"]), context=ctx, timeout=30)
        c.user(env["DEMO_USER"])
        c.pass_(env["DEMO_PASSWORD"])
        count = c.stat()[0]
        headers = b"\n".join(b"\n".join(c.top(i, 0)[1]) for i in range(1, count + 1))
        self.assertIn(b"qs-mx", headers)
        self.assertIn(b"qs-submission", headers)
        c.quit()

    def run_backend(self, backend):
        with tempfile.TemporaryDirectory(prefix="mr-qs-", dir="/tmp") as d:
            args = ["--dir", d, "--port-base", str(pick_port_base()), "--backend", backend]
            res = self.quickstart(*args)
            try:
                self.assertEqual(res.returncode, 0, res.stderr)
                env = read_env(os.path.join(d, "quickstart.env"))
                for key in ("BACKEND", "AUTH_SOCKET", "DEMO_USER", "DEMO_PASSWORD", "MAIL_ROOT",
                            "SMTP_PORT", "SUBMISSION_PORT", "SUBMISSIONS_PORT", "LMTP_PORT",
                            "CA_CERT", "IMAP_PORT", "IMAPS_PORT", "POP3_PORT", "POP3S_PORT"):
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
                self.send_mail(env)
                self.read_mail(env)
                self.read_mail_pop3(env)
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
