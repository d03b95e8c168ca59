"""lib/authd-client.c against a real mailroom-authd (passwd-file backend),
driven through tests/unit/authd-client-tool: pipelined lookups matched by
id, AUTH with and without initial response and with CONT rounds, cancel,
timeouts and an unreachable authd giving TEMPFAIL, reconnect."""
import atexit
import base64
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from mrtest import BUILDDIR
from mtatest import Authd

TOOL = os.path.join(BUILDDIR, "tests", "unit", "authd-client-tool")
AUTHD = None


def authd():
    global AUTHD
    if AUTHD is None:
        AUTHD = Authd()
        atexit.register(AUTHD.stop)
    return AUTHD


def b64(data):
    return base64.b64encode(data).decode()


def run(*requests, timeout_ms=None, lookup=None, auth=None):
    """Answers as {request index: text}, and their order."""
    a = authd() if lookup is None or auth is None else None
    args = [TOOL]
    if timeout_ms is not None:
        args += ["-t", str(timeout_ms)]
    args += [lookup or a.lookup, auth or a.auth] + list(requests)
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    answers, order = {}, []
    for line in out.splitlines():
        n, text = line.split(": ", 1)
        answers.setdefault(int(n), []).append(text)
        order.append(int(n))
    return answers, order


class Lookups(unittest.TestCase):
    def test_user(self):
        a, _ = run("user demo@example.test")
        self.assertEqual(a[0], ["OK user=demo@example.test maildir=%s/example.test/demo/ "
                                "quota_bytes=1048576 services=smtp,imap,pop3,deliver state=active"
                                % authd().mail_root])

    def test_user_unknown_and_disabled(self):
        a, _ = run("user nobody@example.test", "user off@example.test")
        self.assertEqual(a[0], ["NOTFOUND"])
        self.assertTrue(a[1][0].startswith("OK user=off@example.test"), a)
        self.assertTrue(a[1][0].endswith("state=disabled"), a)

    def test_rcpt_kinds(self):
        a, _ = run("rcpt demo@example.test", "rcpt team@example.test", "rcpt demo+news@example.test",
                   "rcpt x@catch.test", "rcpt demo@alias.test", "rcpt a@relay.test",
                   "rcpt nobody@example.test", "rcpt loop1@example.test", "rcpt x@nowhere.test")
        md = authd().mail_root + "/example.test/demo/"
        self.assertEqual(a[0], [f"OK kind=mailbox local=demo@example.test maildir={md}"])
        self.assertIn(f"local=demo@example.test maildir={md}", a[1][0])
        self.assertIn("remote=friend@remote.test", a[1][0])
        self.assertTrue(a[1][0].startswith("OK kind=alias"), a[1])
        self.assertEqual(a[2], [f"OK kind=mailbox detail=news local=demo@example.test maildir={md}"])
        self.assertTrue(a[3][0].startswith("OK kind=alias local=postmaster@catch.test"), a[3])
        self.assertTrue(a[4][0].startswith("OK kind=alias local=demo@example.test"), a[4])
        self.assertEqual(a[5], ["OK kind=relay remote=a@relay.test"])
        self.assertEqual(a[6], ["NOTFOUND"])
        self.assertTrue(a[7][0].startswith("FAIL reason="), a[7])
        self.assertEqual(a[8], ["NOTFOUND"])

    def test_domain_and_sender(self):
        a, _ = run("domain example.test", "domain alias.test", "domain relay.test",
                   "domain nowhere.test", "sender demo@example.test info@example.test",
                   "sender demo@example.test other@other.test")
        self.assertEqual(a[0], ["OK type=hosted active=yes target=-"])
        self.assertEqual(a[1], ["OK type=alias active=yes target=example.test"])
        self.assertEqual(a[2], ["OK type=relay active=yes target=-"])
        self.assertEqual(a[3], ["NOTFOUND"])
        self.assertEqual(a[4], ["OK"])
        self.assertEqual(a[5], ["NOTFOUND"])

    def test_many_pipelined(self):
        """More requests than authd keeps in flight per connection: each
        answer reaches the request that asked, by id."""
        reqs = [f"rcpt {'demo' if i % 2 else 'nobody'}@example.test" for i in range(300)]
        a, _ = run(*reqs)
        self.assertEqual(len(a), 300)
        for i in range(300):
            self.assertEqual(a[i][0].split()[0], "OK" if i % 2 else "NOTFOUND", i)

    def test_escaped_values(self):
        """A tab or backslash in an address reaches authd escaped and is no address."""
        a, _ = run("rcpt a\\b@example.test", "user a\tb@example.test")
        self.assertEqual(a[0], ["NOTFOUND"])
        self.assertEqual(a[1], ["NOTFOUND"])

    def test_cancel(self):
        a, order = run("cancel demo@example.test", "user demo@example.test")
        self.assertEqual(a[0], ["cancelled"])
        self.assertEqual(order.count(0), 1)
        self.assertTrue(a[1][0].startswith("OK"))


class Auth(unittest.TestCase):
    def test_plain_initial(self):
        a, _ = run("auth PLAIN " + b64(b"\0demo@example.test\0demo"))
        self.assertEqual(a[0], ["OK demo@example.test"])

    def test_plain_wrong_password(self):
        a, _ = run("auth PLAIN " + b64(b"\0demo@example.test\0nope"))
        self.assertEqual(a[0], ["FAIL -"])

    def test_plain_via_continue(self):
        a, _ = run("auth PLAIN - " + b64(b"\0demo@example.test\0demo"))
        self.assertEqual(a[0], ["CONTINUE ", "OK demo@example.test"])

    def test_login_two_rounds(self):
        a, _ = run("auth LOGIN - %s %s" % (b64(b"demo@example.test"), b64(b"demo")))
        self.assertEqual(a[0], ["CONTINUE " + b64(b"Username:"),
                                "CONTINUE " + b64(b"Password:"), "OK demo@example.test"])

    def test_client_abort(self):
        a, _ = run("auth LOGIN -")   # the tool answers '*' when out of answers
        self.assertEqual(a[0][-1], "FAIL -")

    def test_unknown_mechanism(self):
        a, _ = run("auth CRAM-MD5 -")
        self.assertEqual(a[0], ["FAIL -"])

    def test_auth_and_lookups_together(self):
        a, _ = run("auth PLAIN " + b64(b"\0demo@example.test\0demo"), "user demo@example.test",
                   "auth PLAIN " + b64(b"\0other@other.test\0other"))
        self.assertEqual(a[0], ["OK demo@example.test"])
        self.assertTrue(a[1][0].startswith("OK"))
        self.assertEqual(a[2], ["OK other@other.test"])

    def test_no_auth_socket(self):
        a, _ = run("auth PLAIN " + b64(b"\0demo@example.test\0demo"), auth="-",
                   lookup=authd().lookup)
        self.assertEqual(a[0][0].split()[0], "TEMPFAIL")


class Outages(unittest.TestCase):
    """Nothing listening, or a server that never answers: TEMPFAIL, never
    NOTFOUND."""

    def test_unreachable(self):
        path = os.path.join(tempfile.mkdtemp(prefix="mr-ac-"), "none")
        a, _ = run("rcpt demo@example.test", "user demo@example.test",
                   "sender a@b.test a@b.test", "domain example.test",
                   "auth PLAIN " + b64(b"\0a\0b"), lookup=path, auth=path)
        for i in range(5):
            self.assertTrue(a[i][0].startswith("TEMPFAIL"), a)

    def silent_server(self, close_after=None):
        tmp = tempfile.mkdtemp(prefix="mr-ac-")
        path = os.path.join(tmp, "silent")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(8)
        got = []

        def serve():
            srv.settimeout(15)
            try:
                conn, _ = srv.accept()
                conn.settimeout(15)
                data = conn.recv(4096)
                got.append(data)
                if close_after is not None:
                    time.sleep(close_after)
                    conn.close()
                else:
                    time.sleep(3)
            except OSError:
                pass
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        return path, got, t

    def test_timeout(self):
        path, got, t = self.silent_server()
        start = time.monotonic()
        a, _ = run("rcpt demo@example.test", timeout_ms=500, lookup=path, auth=path)
        self.assertLess(time.monotonic() - start, 2.5)
        self.assertEqual(a[0][0], "TEMPFAIL reason=authd timed out")
        t.join()
        self.assertRegex(got[0], rb"^\d+\tRCPT\tdemo@example.test\n$")

    def test_connection_lost(self):
        path, got, t = self.silent_server(close_after=0.2)
        a, _ = run("user demo@example.test", lookup=path, auth=path)
        self.assertTrue(a[0][0].startswith("TEMPFAIL"), a)
        t.join()


if __name__ == "__main__":
    unittest.main()
