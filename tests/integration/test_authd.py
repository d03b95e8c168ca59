"""mailroom-authd with its passwd-file backend, driven over the lookup
socket by Python's own socket module, and the mailroom admin command."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import warnings

from mrtest import BUILDDIR, wait_path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # deprecated, still the independent SHA512-CRYPT reference here

AUTHD = os.path.join(BUILDDIR, "authd", "mailroom-authd")
MAILROOM = os.path.join(BUILDDIR, "mailroom")
TIMEOUT = 10
DEMO_PASSWORD = "correct horse"

USERS = """\
demo@example.test:{hash}::::::quota_bytes=1048576 quota_messages=500 services=imap,pop3,smtp,deliver
off@example.test:{{PLAIN}}x::::::active=no
pfa@example.test:{{PLAIN}}x
other@other.test:{{PLAIN}}x
postmaster@catch.test:{{PLAIN}}x
real@catch.test:{{PLAIN}}x
"""
ALIASES = """\
info@example.test: demo@example.test
team@example.test: demo@example.test, other@other.test, friend@remote.test
pfa@example.test: pfa@example.test, friend@remote.test
chain1@example.test: chain2@example.test
chain2@example.test: demo@example.test
loop1@example.test: loop2@example.test
loop2@example.test: loop1@example.test
deep1@example.test: deep2@example.test
deep2@example.test: deep3@example.test
deep3@example.test: deep4@example.test
deep4@example.test: demo@example.test
@catch.test: postmaster@catch.test
"""
DOMAINS = """\
example.test
other.test
catch.test
alias.test alias-of=example.test
offalias.test alias-of=example.test inactive
relay.test relay
"""


class Lookup:
    """One connection to the lookup socket; replies gathered by id."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("authd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def ask(self, *fields):
        self.send("\t".join(fields) + "\n")
        return self.line().split("\t")

    def close(self):
        self.sock.close()


class AuthdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mr-authd-")
        cls.demo_hash = crypt.crypt(DEMO_PASSWORD, crypt.mksalt(crypt.METHOD_SHA512))
        cls.users = os.path.join(cls.tmp, "users")
        cls.write(cls.users, USERS.format(hash="{SHA512-CRYPT}" + cls.demo_hash))
        cls.write(os.path.join(cls.tmp, "aliases"), ALIASES)
        cls.write(os.path.join(cls.tmp, "domains"), DOMAINS)
        cls.sock = os.path.join(cls.tmp, "lookup")
        cls.config = os.path.join(cls.tmp, "authd.conf")
        cls.write_config()
        cls.log = os.path.join(cls.tmp, "log")
        with open(cls.log, "ab") as log:
            cls.proc = subprocess.Popen([AUTHD, "--foreground", "--config", cls.config],
                                        stdout=log, stderr=log)
        wait_path(cls.sock)
        cls.wait_log("started listeners=")

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        try:
            cls.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write(cls, path, text):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    @classmethod
    def write_config(cls, extra=""):
        cls.write(cls.config, f"""\
listen = {cls.sock} service=lookup
user =
log_dest = stderr
log_level = debug
passwd_file = {cls.users}
passwd_file_aliases = {cls.tmp}/aliases
passwd_file_domains = {cls.tmp}/domains
mail_root = /srv/mail
cache_ttl = 1s
cache_negative_ttl = 1s
alias_max_depth = 3
relay_domains = configured-relay.test
{extra}""")

    @classmethod
    def wait_log(cls, text, after=0):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with open(cls.log, encoding="utf-8", errors="replace") as f:
                if text in f.read()[after:]:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{text!r} not logged")

    def setUp(self):
        self.c = Lookup(self.sock)

    def tearDown(self):
        self.c.close()

    def assertAnswer(self, request, *want):
        got = self.c.ask(*request)
        self.assertEqual(got, [request[0], *want], request)

    # ------------------------------------------------------------ USER
    def test_user(self):
        self.assertAnswer(("1", "USER", "demo@example.test"), "OK",
                          "user=demo@example.test", "maildir=/srv/mail/example.test/demo/",
                          "quota_bytes=1048576", "quota_messages=500",
                          "services=smtp,imap,pop3,deliver", "status=active")
        # domain part of the name is case-folded, spaces trimmed
        got = self.c.ask("2", "USER", " demo@EXAMPLE.Test ")
        self.assertEqual(got[:3], ["2", "OK", "user=demo@example.test"])
        self.assertAnswer(("3", "USER", "nobody@example.test"), "NOTFOUND")
        got = self.c.ask("4", "USER", "off@example.test")
        self.assertEqual(got[1], "OK")
        self.assertIn("status=disabled", got)

    def test_injection_shaped_names(self):
        for i, name in enumerate(["' OR 1=1 --", "*)(uid=*", "*)(uid=*)@example.test",
                                  "demo@example.test' OR '1'='1", "*"]):
            self.assertAnswer((f"i{i}", "USER", name), "NOTFOUND")
            self.assertAnswer((f"r{i}", "RCPT", name), "NOTFOUND")
        self.assertAnswer(("d", "DOMAIN", "*)(dc=*"), "NOTFOUND")

    # ------------------------------------------------------------ RCPT
    def test_rcpt(self):
        demo = ["local=demo@example.test", "maildir=/srv/mail/example.test/demo/"]
        self.assertAnswer(("1", "RCPT", "demo@example.test"), "OK", "kind=mailbox", *demo)
        self.assertAnswer(("2", "RCPT", "info@example.test"), "OK", "kind=alias", *demo)
        self.assertAnswer(("3", "RCPT", "team@example.test"), "OK", "kind=alias", *demo,
                          "local=other@other.test", "maildir=/srv/mail/other.test/other/",
                          "remote=friend@remote.test")
        self.assertAnswer(("4", "RCPT", "pfa@example.test"), "OK", "kind=alias",
                          "local=pfa@example.test", "maildir=/srv/mail/example.test/pfa/",
                          "remote=friend@remote.test")
        self.assertAnswer(("5", "RCPT", "anyone@catch.test"), "OK", "kind=alias",
                          "local=postmaster@catch.test",
                          "maildir=/srv/mail/catch.test/postmaster/")
        self.assertAnswer(("6", "RCPT", "real@catch.test"), "OK", "kind=mailbox",
                          "local=real@catch.test", "maildir=/srv/mail/catch.test/real/")
        self.assertAnswer(("7", "RCPT", "info@alias.test"), "OK", "kind=alias", *demo)
        self.assertAnswer(("8", "RCPT", "chain1@example.test"), "OK", "kind=alias", *demo)
        self.assertAnswer(("9", "RCPT", "loop1@example.test"), "FAIL",
                          "alias loop at loop1@example.test")
        self.assertAnswer(("10", "RCPT", "deep1@example.test"), "FAIL",
                          "alias chain too deep at demo@example.test")
        self.assertAnswer(("11", "RCPT", "demo+lists@example.test"), "OK", "kind=mailbox",
                          "detail=lists", *demo)
        self.assertAnswer(("12", "RCPT", "x@nowhere.test"), "NOTFOUND")
        self.assertAnswer(("13", "RCPT", "demo@offalias.test"), "NOTFOUND")
        self.assertAnswer(("14", "RCPT", "off@example.test"), "NOTFOUND")
        self.assertAnswer(("15", "RCPT", "x@relay.test"), "OK", "kind=relay",
                          "remote=x@relay.test")
        self.assertAnswer(("16", "RCPT", "x@configured-relay.test"), "OK", "kind=relay",
                          "remote=x@configured-relay.test")

    # ----------------------------------------------------- DOMAIN, SENDER
    def test_domain(self):
        self.assertAnswer(("1", "DOMAIN", "example.test"), "OK", "type=hosted", "status=active")
        self.assertAnswer(("2", "DOMAIN", "Alias.TEST"), "OK", "type=alias", "status=active",
                          "target=example.test")
        self.assertAnswer(("3", "DOMAIN", "offalias.test"), "OK", "type=alias",
                          "status=inactive", "target=example.test")
        self.assertAnswer(("4", "DOMAIN", "relay.test"), "OK", "type=relay", "status=active")
        self.assertAnswer(("5", "DOMAIN", "configured-relay.test"), "OK", "type=relay",
                          "status=active")
        self.assertAnswer(("6", "DOMAIN", "nowhere.test"), "NOTFOUND")

    def test_sender(self):
        login = "demo@example.test"
        for i, sender in enumerate([login, "info@example.test", "team@example.test",
                                    "demo@alias.test", "demo+x@example.test",
                                    "chain1@example.test"]):
            self.assertAnswer((f"y{i}", "SENDER", login, sender), "OK")
        for i, sender in enumerate(["other@other.test", "pfa@example.test",
                                    "x@catch.test", "demo@offalias.test", "' OR 1=1 --"]):
            self.assertAnswer((f"n{i}", "SENDER", login, sender), "NOTFOUND")

    # ----------------------------------------------------- protocol edges
    def test_pipelining(self):
        names = ["demo@example.test", "nobody@example.test", "other@other.test"] * 30
        self.c.send("".join(f"q{i}\tUSER\t{n}\n" for i, n in enumerate(names)) + "p\tPING\n")
        replies = {}
        for _ in range(len(names) + 1):
            fields = self.c.line().split("\t")
            self.assertNotIn(fields[0], replies)
            replies[fields[0]] = fields
        self.assertEqual(replies["p"], ["p", "OK"])
        for i, n in enumerate(names):
            got = replies[f"q{i}"]
            if n.startswith("nobody"):
                self.assertEqual(got[1:], ["NOTFOUND"])
            else:
                self.assertEqual(got[1:3], ["OK", "user=" + n])

    def test_malformed_lines(self):
        self.assertEqual(self.c.ask("bad id", "USER", "x"), ["*", "ERROR", "bad request id"])
        self.assertEqual(self.c.ask("1", "NOPE"), ["1", "ERROR", "unknown command"])
        self.assertEqual(self.c.ask("2", "USER"), ["2", "ERROR", "wrong number of fields"])
        self.assertEqual(self.c.ask("3", "SENDER", "a@b"), ["3", "ERROR", "wrong number of fields"])
        self.assertEqual(self.c.ask("4", "USER", "a\\qb"),
                         ["4", "ERROR", "bad escape or NUL byte in a field"])
        self.assertEqual(self.c.ask(""), ["*", "ERROR", "bad request id"])
        self.c.send("5\tUSER\t" + "x" * 10000 + "\n")
        self.assertEqual(self.c.line().split("\t"), ["*", "ERROR", "line too long"])
        self.assertEqual(self.c.ask("6", "PING"), ["6", "OK"])
        self.assertEqual(self.c.ask("7", "USER", "demo@example.test")[1], "OK")

    def test_escaped_values(self):
        # a tab inside an address is escaped on the way in; no such user
        self.assertAnswer(("1", "USER", "de\\tmo@example.test"), "NOTFOUND")
        self.assertAnswer(("2", "USER", "demo@example.test\\n"), "NOTFOUND")

    # ----------------------------------------------------- changes live
    def test_new_user_without_restart(self):
        addr = "late@example.test"
        self.assertAnswer(("1", "USER", addr), "NOTFOUND")
        with open(self.users, "a", encoding="utf-8") as f:
            f.write(f"{addr}:{{PLAIN}}x\n")
        deadline = time.monotonic() + TIMEOUT
        while self.c.ask("2", "USER", addr)[1] != "OK":
            self.assertLess(time.monotonic(), deadline, "new user never found")
            time.sleep(0.2)
        # the cache flush is also there for the impatient
        self.assertEqual(self.c.ask("3", "FLUSH", addr)[:2], ["3", "OK"])

    def test_reload(self):
        other = os.path.join(self.tmp, "users2")
        self.write(other, "reloaded@example.test:{PLAIN}x\n")
        self.assertAnswer(("1", "USER", "reloaded@example.test"), "NOTFOUND")
        size = os.path.getsize(self.log)
        self.write_config(f"recipient_delimiter = -\n")
        with open(self.config, encoding="utf-8") as f:
            text = f.read().replace(self.users, other)
        self.write(self.config, text)
        try:
            self.proc.send_signal(signal.SIGHUP)
            self.wait_log("reload: backend=passwd-file cache flushed", size)
            self.assertEqual(self.c.ask("2", "USER", "reloaded@example.test")[1], "OK")
            self.assertAnswer(("3", "USER", "demo@example.test"), "NOTFOUND")
        finally:
            self.write_config()
            size = os.path.getsize(self.log)
            self.proc.send_signal(signal.SIGHUP)
            self.wait_log("reload: backend=passwd-file cache flushed", size)
        self.assertEqual(self.c.ask("4", "USER", "demo@example.test")[1], "OK")

    # ----------------------------------------------------- mailroom command
    def mailroom(self, *args, stdin=None):
        return subprocess.run([MAILROOM, *args], input=stdin, capture_output=True, text=True,
                              timeout=TIMEOUT)

    def test_mailroom_pw(self):
        out = self.mailroom("pw", "s3cret pass")
        self.assertEqual(out.returncode, 0, out.stderr)
        value = out.stdout.strip()
        self.assertTrue(value.startswith("{SHA512-CRYPT}$6$"), value)
        hashed = value[len("{SHA512-CRYPT}"):]
        self.assertEqual(crypt.crypt("s3cret pass", hashed), hashed)
        self.assertNotEqual(crypt.crypt("s3cret pasS", hashed), hashed)
        out = self.mailroom("pw", "-s", "SHA256-CRYPT", stdin="from stdin\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        hashed = out.stdout.strip()[len("{SHA256-CRYPT}"):]
        self.assertTrue(hashed.startswith("$5$"))
        self.assertEqual(crypt.crypt("from stdin", hashed), hashed)
        self.assertEqual(self.mailroom("pw", "-s", "NOPE", "x").returncode, 2)

    def test_mailroom_lookups(self):
        out = self.mailroom("--socket", self.sock, "user", "lookup", "demo@example.test")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("maildir=/srv/mail/example.test/demo/", out.stdout.splitlines())
        out = self.mailroom("-c", self.config, "user", "lookup", "nobody@example.test")
        self.assertEqual(out.returncode, 1, out.stderr)
        out = self.mailroom("-c", self.config, "rcpt", "lookup", "team@example.test")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("remote=friend@remote.test", out.stdout.splitlines())
        out = self.mailroom("-c", self.config, "rcpt", "lookup", "x@nowhere.test")
        self.assertEqual(out.returncode, 1)
        out = self.mailroom("-c", self.config, "cache", "flush")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith("OK\nflushed="), out.stdout)
        out = self.mailroom("--socket", os.path.join(self.tmp, "absent"), "user", "lookup",
                            "demo@example.test")
        self.assertEqual(out.returncode, 75)
        self.assertEqual(self.mailroom("user", "lookup").returncode, 2)
        self.assertEqual(self.mailroom("frobnicate").returncode, 2)


if __name__ == "__main__":
    unittest.main()
