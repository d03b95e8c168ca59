"""mailroom-mbs's IMAP session: greeting, CAPABILITY, STARTTLS, LOGIN and
AUTHENTICATE through a real mailroom-authd, the command reader (literals,
limits, bad input), states, LOGOUT, timeouts and shutdown. Clients are
Python's imaplib and a raw socket for what imaplib will not send."""
import atexit
import base64
import os
import re
import socket
import ssl
import time
import unittest

from mbstest import Authd, MbsDaemon, user_maildir
from mtatest import wait_log

TIMEOUT = 10
ENV = None
MAX_BAD = 5


class Env:
    def __init__(self):
        self.authd = Authd()
        self.mbs = MbsDaemon(self.authd, extra=f"imap_max_bad_commands = {MAX_BAD}\n"
                             "imap_max_line = 2k\nimap_max_literal = 4k\n"
                             "imap_append_limit = 10k\n")

    def stop(self):
        self.mbs.stop()
        self.authd.stop()


def env():
    global ENV
    if ENV is None:
        ENV = Env()
        atexit.register(ENV.stop)
    return ENV


class Raw:
    """IMAP by hand over a socket (plain, or TLS when tls=True)."""

    def __init__(self, port, tls=False, mbs=None):
        self.mbs = mbs or env().mbs
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        if tls:
            sock = self.mbs.ssl_context().wrap_socket(sock)
        self.sock = sock
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def cmd(self, tag, text):
        """Send `tag text`, return (untagged lines, tagged line)."""
        self.send(f"{tag} {text}\r\n")
        return self.until(tag)

    def until(self, tag):
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return untagged, line
            untagged.append(line)

    def starttls(self):
        _, tagged = self.cmd("tls", "STARTTLS")
        assert tagged.startswith("tls OK"), tagged
        self.sock = self.mbs.ssl_context().wrap_socket(self.sock)

    def login(self, user="demo@example.test", password="demo"):
        return self.cmd("L", f'LOGIN "{user}" "{password}"')[1]

    def closed(self):
        """True when the server closes the connection (within TIMEOUT)."""
        try:
            self.sock.settimeout(TIMEOUT)
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def caps(line):
    m = re.search(r"CAPABILITY ([^\]]*)", line)
    return set(m.group(1).split()) if m else set()


class Greeting(unittest.TestCase):
    def test_greeting_has_capability(self):
        r = Raw(env().mbs.imap_port)
        self.assertTrue(r.greeting.startswith("* OK [CAPABILITY IMAP4rev1 "), r.greeting)
        c = caps(r.greeting)
        self.assertIn("STARTTLS", c)
        self.assertIn("LOGINDISABLED", c)
        self.assertNotIn("AUTH=PLAIN", c)
        self.assertIn("imap.example.test", r.greeting)
        r.close()

    def test_imaps_greeting_offers_auth(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        c = caps(r.greeting)
        self.assertIn("AUTH=PLAIN", c)
        self.assertIn("AUTH=LOGIN", c)
        self.assertIn("SASL-IR", c)
        self.assertNotIn("STARTTLS", c)
        self.assertNotIn("LOGINDISABLED", c)
        r.close()

    def test_capability_before_and_after_tls(self):
        r = Raw(env().mbs.imap_port)
        untagged, tagged = r.cmd("a", "CAPABILITY")
        self.assertEqual(tagged, "a OK Capability completed.")
        self.assertEqual(len(untagged), 1)
        before = caps(untagged[0])
        self.assertIn("LOGINDISABLED", before)
        self.assertIn("LITERAL+", before)
        r.starttls()
        untagged, tagged = r.cmd("b", "CAPABILITY")
        after = caps(untagged[0])
        self.assertNotIn("STARTTLS", after)
        self.assertNotIn("LOGINDISABLED", after)
        self.assertIn("AUTH=PLAIN", after)
        r.close()

    def test_capability_after_login(self):
        c = env().mbs.login()
        typ, data = c.capability()
        self.assertEqual(typ, "OK")
        after = set(data[0].decode().split())
        self.assertIn("IMAP4rev1", after)
        self.assertNotIn("AUTH=PLAIN", after)
        self.assertNotIn("SASL-IR", after)
        c.logout()

    def test_capability_with_arguments_is_bad(self):
        r = Raw(env().mbs.imap_port)
        self.assertTrue(r.cmd("a", "CAPABILITY x")[1].startswith("a BAD"))
        r.close()


class StartTls(unittest.TestCase):
    def test_imaplib_starttls_login(self):
        c = env().mbs.imap(starttls=True)
        typ, _ = c.login("demo@example.test", "demo")
        self.assertEqual(typ, "OK")
        c.logout()

    def test_login_refused_without_tls(self):
        r = Raw(env().mbs.imap_port)
        tagged = r.login()
        self.assertTrue(tagged.startswith("L NO [PRIVACYREQUIRED]"), tagged)
        _, tagged = r.cmd("b", "AUTHENTICATE PLAIN")
        self.assertTrue(tagged.startswith("b NO [PRIVACYREQUIRED]"), tagged)
        r.close()

    def test_pipelined_after_starttls_discarded(self):
        r = Raw(env().mbs.imap_port)
        # the injected command must never run over TLS
        r.send("tls STARTTLS\r\ninj CAPABILITY\r\n")
        self.assertEqual(r.line(), "tls OK Begin TLS negotiation now.")
        self.assertEqual(r.buf, b"")
        r.sock = r.mbs.ssl_context().wrap_socket(r.sock)
        _, tagged = r.cmd("n", "NOOP")
        self.assertEqual(tagged, "n OK NOOP completed.")
        r.close()

    def test_starttls_twice(self):
        r = Raw(env().mbs.imap_port)
        r.starttls()
        self.assertTrue(r.cmd("t2", "STARTTLS")[1].startswith("t2 BAD"))
        r.close()

    def test_starttls_on_imaps(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        self.assertTrue(r.cmd("t", "STARTTLS")[1].startswith("t BAD"))
        r.close()


class Login(unittest.TestCase):
    def test_login_good(self):
        c = env().mbs.login()
        self.assertEqual(c.state, "AUTH")
        c.logout()
        self.assertIn("imap-login: user=<demo@example.test> rip=127.0.0.1 method=cmd-login",
                      env().mbs.logtext())

    def test_login_creates_special_use_folders(self):
        c = env().mbs.login()
        c.logout()
        root = user_maildir(env().mbs.mail_root, "demo@example.test")
        for folder in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
            self.assertTrue(os.path.isdir(os.path.join(root, "." + folder, "cur")), folder)
        with open(os.path.join(root, "subscriptions")) as f:
            self.assertIn("Sent", f.read())

    def test_login_bad_password(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        tagged = r.login(password="wrong")
        self.assertEqual(tagged, "L NO [AUTHENTICATIONFAILED] Authentication failed.")
        # the session goes on
        self.assertTrue(r.login().startswith("L OK"))
        r.close()
        self.assertRegex(env().mbs.logtext(),
                         r"imap-login: failed user=<demo@example.test> rip=127.0.0.1 "
                         r"method=cmd-login")

    def test_login_unknown_and_inactive_user(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        self.assertTrue(r.login("nobody@example.test", "x").startswith(
            "L NO [AUTHENTICATIONFAILED]"))
        self.assertTrue(r.login("off@example.test", "off").startswith("L NO ["))
        r.close()

    def test_login_syntax(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        self.assertTrue(r.cmd("a", "LOGIN onlyuser")[1].startswith("a BAD"))
        self.assertTrue(r.cmd("b", "LOGIN")[1].startswith("b BAD"))
        self.assertTrue(r.cmd("c", "LOGIN (a) b")[1].startswith("c BAD"))
        r.close()

    def test_login_with_literals(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.send("a LOGIN {17}\r\n")
        self.assertTrue(r.line().startswith("+ "))
        r.send("demo@example.test {4+}\r\ndemo\r\n")
        _, tagged = r.until("a")
        self.assertTrue(tagged.startswith("a OK"), tagged)
        r.close()

    def test_login_twice(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        self.assertTrue(r.login().startswith("L OK"))
        _, tagged = r.cmd("b", 'LOGIN "demo@example.test" "demo"')
        self.assertTrue(tagged.startswith("b BAD"), tagged)
        _, tagged = r.cmd("c", "AUTHENTICATE PLAIN")
        self.assertTrue(tagged.startswith("c BAD"), tagged)
        r.close()


class Authenticate(unittest.TestCase):
    def test_plain_with_continuation(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.send("a AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.send(base64.b64encode(b"\0demo@example.test\0demo") + b"\r\n")
        _, tagged = r.until("a")
        self.assertTrue(tagged.startswith("a OK [CAPABILITY "), tagged)
        r.close()

    def test_plain_sasl_ir(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        ir = base64.b64encode(b"\0demo@example.test\0demo").decode()
        _, tagged = r.cmd("a", f"AUTHENTICATE PLAIN {ir}")
        self.assertTrue(tagged.startswith("a OK"), tagged)
        r.close()

    def test_plain_bad_password(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        ir = base64.b64encode(b"\0demo@example.test\0nope").decode()
        _, tagged = r.cmd("a", f"AUTHENTICATE PLAIN {ir}")
        self.assertEqual(tagged, "a NO [AUTHENTICATIONFAILED] Authentication failed.")
        r.close()

    def test_login_mechanism(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.send("a AUTHENTICATE LOGIN\r\n")
        line = r.line()
        self.assertTrue(line.startswith("+ "), line)
        r.send(base64.b64encode(b"demo@example.test") + b"\r\n")
        self.assertTrue(r.line().startswith("+ "))
        r.send(base64.b64encode(b"demo") + b"\r\n")
        _, tagged = r.until("a")
        self.assertTrue(tagged.startswith("a OK"), tagged)
        r.close()

    def test_imaplib_authenticate(self):
        c = env().mbs.imaps()
        typ, _ = c.authenticate("PLAIN", lambda _: b"\0demo@example.test\0demo")
        self.assertEqual(typ, "OK")
        c.logout()

    def test_cancel(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.send("a AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.send("*\r\n")
        _, tagged = r.until("a")
        self.assertTrue(tagged.startswith("a BAD"), tagged)
        self.assertTrue(r.cmd("n", "NOOP")[1].startswith("n OK"))
        r.close()

    def test_bad_base64_and_mechanism(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.send("a AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.send("not\tbase64!\r\n")
        self.assertTrue(r.until("a")[1].startswith("a BAD"))
        self.assertTrue(r.cmd("b", "AUTHENTICATE CRAM-MD5")[1].startswith("b NO"))
        self.assertTrue(r.cmd("c", "AUTHENTICATE PLAIN !!!")[1].startswith("c BAD"))
        self.assertTrue(r.cmd("d", "AUTHENTICATE")[1].startswith("d BAD"))
        r.close()


class Reader(unittest.TestCase):
    def test_unknown_command(self):
        r = Raw(env().mbs.imap_port)
        self.assertEqual(r.cmd("a", "FROBNICATE")[1], "a BAD Unknown command")
        self.assertTrue(r.cmd("b", "NOOP")[1].startswith("b OK"))
        r.close()

    def test_syntax_errors(self):
        r = Raw(env().mbs.imap_port)
        r.send("\r\n")
        self.assertTrue(r.line().startswith("* BAD"))
        self.assertTrue(r.cmd("a", 'NOOP "unterminated')[1].startswith("a BAD"))
        self.assertTrue(r.cmd("b", "UID NOOP")[1].startswith("b BAD"))
        self.assertTrue(r.cmd("c", "NOOP")[1].startswith("c OK"))
        r.close()

    def test_wrong_state(self):
        r = Raw(env().mbs.imap_port)
        self.assertEqual(r.cmd("a", "SELECT INBOX")[1], "a BAD Log in first")
        self.assertEqual(r.cmd("b", "FETCH 1 FLAGS")[1], "b BAD Log in first")
        r.close()
        r = Raw(env().mbs.imaps_port, tls=True)
        r.login()
        self.assertEqual(r.cmd("c", "FETCH 1 FLAGS")[1], "c BAD No mailbox selected")
        self.assertEqual(r.cmd("d", "UID FETCH 1 FLAGS")[1], "d BAD No mailbox selected")
        r.close()

    def test_sync_literal(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.send("a LOGIN {17}\r\n")
        self.assertEqual(r.line(), "+ OK")
        r.send("demo@example.test {4}\r\n")
        self.assertEqual(r.line(), "+ OK")
        r.send("demo\r\n")
        self.assertTrue(r.until("a")[1].startswith("a OK"))
        r.close()

    def test_literal_too_big_sync(self):
        r = Raw(env().mbs.imap_port)
        # a synchronising literal over the limit: refused before it is sent
        r.send("a LOGIN {100000}\r\n")
        line = r.line()
        self.assertTrue(line.startswith("a NO [TOOBIG]"), line)
        self.assertTrue(r.cmd("b", "NOOP")[1].startswith("b OK"))
        r.close()

    def test_literal_too_big_nonsync_skipped(self):
        r = Raw(env().mbs.imap_port)
        # LITERAL+: the bytes come anyway; they are skipped, never run
        payload = b"x NOOP\r\n" * 1000
        r.send(b"a LOGIN {%d+}\r\n" % len(payload) + payload + b" pass\r\n")
        line = r.line()
        self.assertTrue(line.startswith("a NO [TOOBIG]"), line)
        _, tagged = r.cmd("b", "NOOP")
        self.assertTrue(tagged.startswith("b OK"), tagged)
        self.assertNotIn("x OK", r.buf.decode())
        r.close()

    def test_long_line(self):
        r = Raw(env().mbs.imap_port)
        # over imap_max_line (2k) and over the reader's hard limit (1M)
        r.send("a NOOP " + "x" * 5000 + "\r\n")
        self.assertTrue(r.line().startswith("* BAD"))
        self.assertTrue(r.cmd("b", "NOOP")[1].startswith("b OK"))
        r.send(b"c NOOP " + b"y" * (1100 * 1024) + b"\r\n")
        self.assertTrue(r.line().startswith("* BAD"))
        self.assertTrue(r.cmd("d", "NOOP")[1].startswith("d OK"))
        r.close()

    def test_too_many_bad_commands(self):
        r = Raw(env().mbs.imap_port)
        for i in range(MAX_BAD - 1):
            self.assertTrue(r.cmd(f"a{i}", "BOGUS")[1].startswith(f"a{i} BAD"))
        r.send("z BOGUS\r\n")
        self.assertTrue(r.line().startswith("z BAD"))
        self.assertTrue(r.line().startswith("* BYE"))
        self.assertTrue(r.closed())

    def test_pipelined_commands_in_order(self):
        r = Raw(env().mbs.imap_port)
        r.send("a NOOP\r\nb CAPABILITY\r\nc NOOP\r\n")
        self.assertTrue(r.line().startswith("a OK"))
        self.assertTrue(r.line().startswith("* CAPABILITY"))
        self.assertTrue(r.line().startswith("b OK"))
        self.assertTrue(r.line().startswith("c OK"))
        r.close()

    def test_pending_command_says_cannot_or_works(self):
        c = env().mbs.login()
        typ, data = c.list()
        # until the folder commands land: NO [CANNOT]
        if typ != "OK":
            self.assertIn(b"[CANNOT]", data[0])
        c.logout()


class Logout(unittest.TestCase):
    def test_logout(self):
        r = Raw(env().mbs.imap_port)
        untagged, tagged = r.cmd("a", "LOGOUT")
        self.assertEqual(untagged, ["* BYE Logging out"])
        self.assertEqual(tagged, "a OK Logout completed.")
        self.assertTrue(r.closed())

    def test_imaplib_logout(self):
        c = env().mbs.login()
        typ, _ = c.logout()
        self.assertEqual(typ, "BYE")


class Outage(unittest.TestCase):
    """Stops authd for a moment: a module-level test of its own daemons."""

    def test_authd_down_is_unavailable(self):
        authd = Authd()
        mbs = MbsDaemon(authd, name="mbs-outage")
        try:
            authd.kill()
            r = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            tagged = r.login()
            self.assertTrue(tagged.startswith("L NO [UNAVAILABLE]"), tagged)
            r.close()
        finally:
            mbs.stop()
            authd.stop()


class Timeouts(unittest.TestCase):
    def test_idle_timeout_and_sigterm(self):
        authd = Authd()
        mbs = MbsDaemon(authd, name="mbs-timeout",
                        extra="idle_timeout = 1s\nimap_idle_timeout = 2s\n")
        try:
            r = Raw(mbs.imap_port, mbs=mbs)
            start = time.monotonic()
            self.assertTrue(r.line().startswith("* BYE"))
            self.assertTrue(r.closed())
            self.assertLess(time.monotonic() - start, 5)
            # logged in: imap_idle_timeout
            r = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            r.login()
            start = time.monotonic()
            self.assertTrue(r.line().startswith("* BYE"))
            self.assertGreater(time.monotonic() - start, 1.5)
            # SIGTERM with clients connected: BYE and a prompt exit
            r1 = Raw(mbs.imap_port, mbs=mbs)
            r2 = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            r2.login()
            start = time.monotonic()
            mbs.proc.terminate()
            self.assertEqual(r1.line(), "* BYE Server shutting down")
            self.assertEqual(r2.line(), "* BYE Server shutting down")
            mbs.proc.wait(timeout=TIMEOUT)
            self.assertLess(time.monotonic() - start, 3)
            self.assertEqual(mbs.proc.returncode, 0)
        finally:
            mbs.stop()
            authd.stop()


if __name__ == "__main__":
    unittest.main()
