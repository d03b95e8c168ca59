"""mailroom-mbs's POP3 (RFC 1939, 2449, 2595, 5034) and POP2 (RFC 937)
sessions, driven by Python's poplib and by raw sockets (for malformed
input, pipelining and POP2) against a real mailroom-authd on a
passwd-file backend. Messages are put into the Maildir as a delivery
agent does (mbstest.deliver); what QUIT removes is checked on disk. UIDL
is compared with what Debian's Dovecot pop3 says for the same Maildir."""
import atexit
import base64
import os
import poplib
import re
import select
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import doveadm
from mbstest import Authd, MbsDaemon, deliver, user_maildir
from mrtest import LineClient
from mtatest import MtaDaemon

TIMEOUT = 10
USER = "demo@example.test"
PASSWORD = "demo"
MAX_BAD = 5
ENV = None

class Env:
    """One authd; mbs: the default policy (plain text only over TLS), on
    pop3, pop3s and pop2; open: clear text allowed, a short idle timeout."""

    def __init__(self):
        self.authd = Authd()
        # a mailbox without POP3: its password is right, the service is off
        with open(os.path.join(self.authd.tmp, "users"), "a") as f:
            f.write("nopop@example.test:{PLAIN}nopop::::::services=smtp,imap,deliver\n"
                    "spaced@example.test:{PLAIN}a pass  phrase\n")
        self.authd.kill()
        self.authd.start()
        self.mbs = MbsDaemon(self.authd, services=("pop3", "pop3s", "pop2"),
                             extra="pop3_lock_timeout = 1s\n")
        self.open = MbsDaemon(self.authd, services=("pop3", "pop2"), name="mbs-open",
                              extra="auth_allow_plaintext = yes\npop2_allow_plaintext = yes\n"
                                    "pop3_idle_timeout = 2s\npop3_lock_timeout = 1s\n"
                                    f"pop3_max_bad_commands = {MAX_BAD}\n")

    def stop(self):
        self.open.stop()
        self.mbs.stop()
        self.authd.stop()


def env():
    global ENV
    if ENV is None:
        ENV = Env()
        atexit.register(ENV.stop)
    return ENV


def maildir():
    return user_maildir(env().authd.mail_root, USER)


def clear_maildir():
    """Empty the demo user's Maildir (and any session lock)."""
    shutil.rmtree(maildir(), ignore_errors=True)


def message_files():
    """Names of the message files in new/ and cur/."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir(), sub)
        out += sorted(os.listdir(d)) if os.path.isdir(d) else []
    return out


def size(text):
    """A message's size in POP3: with CRLF line ends."""
    b = text.encode()
    return len(b) + b.count(b"\n") - b.count(b"\r\n")


def ctx(daemon=None):
    c = ssl.create_default_context(cafile=(daemon or env().mbs).ca_cert)
    c.check_hostname = False
    return c


def pop3s():
    return poplib.POP3_SSL("127.0.0.1", env().mbs.pop3s_port, context=ctx(), timeout=TIMEOUT)


def pop3_stls():
    p = poplib.POP3("127.0.0.1", env().mbs.pop3_port, timeout=TIMEOUT)
    p.stls(context=ctx())
    return p


def login():
    p = pop3s()
    p.user(USER)
    p.pass_(PASSWORD)
    return p


class Raw(LineClient):
    """A line-level client on a raw socket (optionally TLS)."""

    def __init__(self, port, tls=False, daemon=None):
        self.daemon = daemon
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        super().__init__(ctx(daemon).wrap_socket(sock) if tls else sock)

    def starttls(self):
        self.sock = ctx(self.daemon).wrap_socket(self.sock)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        """Lines of a multi-line reply up to its "." (dot-unstuffed)."""
        out = []
        while True:
            line = self.line()
            if line == ".":
                return out
            out.append(line[1:] if line.startswith(".") else line)

    def read_exact(self, n):
        parts, have = [self.buf], len(self.buf)
        while have < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("closed")
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        data, self.buf = data[:n], data[n:]
        return data

    def closed(self):
        """True when the server closed the connection (after any buffered
        bytes)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def raw_login(port=None, tls=True):
    r = Raw(port or env().mbs.pop3s_port, tls=tls)
    assert r.line().startswith("+OK")
    assert r.cmd(f"USER {USER}").startswith("+OK")
    reply = r.cmd(f"PASS {PASSWORD}")
    assert reply.startswith("+OK"), reply
    return r


def plain(user=USER, password=PASSWORD):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


class Pop3Case(unittest.TestCase):
    def setUp(self):
        env()
        clear_maildir()


class TestGreetingCapa(Pop3Case):
    def test_greeting(self):
        p = poplib.POP3("127.0.0.1", env().mbs.pop3_port, timeout=TIMEOUT)
        self.assertRegex(p.getwelcome(), rb"^\+OK imap\.example\.test ")
        p.quit()

    def test_capa_before_tls_offers_stls_not_plaintext(self):
        p = poplib.POP3("127.0.0.1", env().mbs.pop3_port, timeout=TIMEOUT)
        caps = p.capa()
        for c in ("TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS"):
            self.assertIn(c, caps)
        self.assertNotIn("USER", caps)
        self.assertNotIn("SASL", caps)
        p.quit()

    def test_capa_after_stls(self):
        p = pop3_stls()
        caps = p.capa()
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        self.assertEqual(caps["SASL"], ["PLAIN", "LOGIN"])
        p.user(USER)
        p.pass_(PASSWORD)
        # after login: no login mechanisms any more (RFC 2449 5)
        caps = p.capa()
        self.assertIn("UIDL", caps)
        self.assertNotIn("USER", caps)
        self.assertNotIn("SASL", caps)
        p.quit()

    def test_capa_on_pop3s(self):
        p = pop3s()
        caps = p.capa()
        self.assertIn("USER", caps)
        self.assertNotIn("STLS", caps)
        p.quit()

    def test_capa_with_argument(self):
        r = Raw(env().mbs.pop3_port)
        r.line()
        self.assertTrue(r.cmd("CAPA X").startswith("-ERR"))
        self.assertEqual(r.cmd("CAPA"), "+OK")
        self.assertIn("TOP", r.multi())
        r.close()


class TestStls(Pop3Case):
    def test_stls_twice_and_with_argument(self):
        r = Raw(env().mbs.pop3_port)
        r.line()
        self.assertTrue(r.cmd("STLS now").startswith("-ERR"))
        self.assertEqual(r.cmd("STLS"), "+OK Begin TLS negotiation now.")
        r.starttls()
        self.assertTrue(r.cmd("STLS").startswith("-ERR"))
        self.assertTrue(r.cmd(f"USER {USER}").startswith("+OK"))
        r.close()

    def test_stls_drops_pipelined_commands(self):
        # Bytes sent after STLS before the handshake are never commands
        # (RFC 2595 4; the CVE-2011-0411 class).
        r = Raw(env().mbs.pop3_port)
        r.line()
        r.send("STLS\r\nUSER injected@example.test\r\n")
        self.assertEqual(r.line(), "+OK Begin TLS negotiation now.")
        r.starttls()
        # a USER from before TLS would make PASS work without USER now
        self.assertEqual(r.cmd(f"PASS {PASSWORD}"), "-ERR No username given.")
        r.close()

    def test_stls_not_after_login(self):
        r = raw_login(env().mbs.pop3s_port)
        self.assertTrue(r.cmd("STLS").startswith("-ERR"))
        r.close()

    def test_stls_forgets_user(self):
        r = Raw(env().open.pop3_port, daemon=env().open)
        r.line()
        self.assertTrue(r.cmd(f"USER {USER}").startswith("+OK"))
        self.assertEqual(r.cmd("STLS"), "+OK Begin TLS negotiation now.")
        r.starttls()
        self.assertEqual(r.cmd(f"PASS {PASSWORD}"), "-ERR No username given.")
        r.close()


class TestUserPass(Pop3Case):
    def test_user_pass_over_pop3s(self):
        p = login()
        self.assertEqual(p.stat(), (0, 0))
        self.assertTrue(p.quit().startswith(b"+OK"))

    def test_user_pass_after_stls(self):
        p = pop3_stls()
        p.user(USER)
        self.assertTrue(p.pass_(PASSWORD).startswith(b"+OK Logged in"))
        p.quit()

    def test_plaintext_refused_before_tls(self):
        r = Raw(env().mbs.pop3_port)
        r.line()
        self.assertRegex(r.cmd(f"USER {USER}"), r"^-ERR \[AUTH\] Plaintext authentication")
        self.assertEqual(r.cmd(f"PASS {PASSWORD}"), "-ERR No username given.")
        self.assertRegex(r.cmd(f"AUTH PLAIN {plain()}"), r"^-ERR \[AUTH\] Plaintext")
        self.assertEqual(r.cmd("AUTH"), "+OK")
        self.assertEqual(r.multi(), [])
        r.close()

    def test_plaintext_allowed_when_configured(self):
        p = poplib.POP3("127.0.0.1", env().open.pop3_port, timeout=TIMEOUT)
        self.assertIn("USER", p.capa())
        p.user(USER)
        p.pass_(PASSWORD)
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_wrong_password(self):
        p = pop3s()
        p.user(USER)
        with self.assertRaisesRegex(poplib.error_proto, r"-ERR \[AUTH\] Authentication failed"):
            p.pass_("wrong")
        # the session goes on: a second try works
        p.user(USER)
        p.pass_(PASSWORD)
        p.quit()
        self.assertRegex(env().mbs.logtext(), r"pop3s-login: auth failed rip=\S+ method=USER "
                         r"user=<demo@example\.test>")

    def test_unknown_user_and_disabled_account(self):
        # a wrong password says nothing about the account
        for user, password in (("nobody@example.test", "x"), ("off@example.test", "wrong"),
                               ("nopop@example.test", "wrong")):
            p = pop3s()
            p.user(user)
            with self.assertRaisesRegex(poplib.error_proto, r"\[AUTH\]"):
                p.pass_(password)
            p.quit()

    def test_pop3_disabled(self):
        # the right password for an account that may not use POP3
        for user, password in (("off@example.test", "off"), ("nopop@example.test", "nopop")):
            p = pop3s()
            p.user(user)
            with self.assertRaisesRegex(poplib.error_proto,
                                        r"^b'-ERR \[SYS/PERM\] POP3 access is disabled"):
                p.pass_(password)
            p.quit()
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd(f"AUTH PLAIN {plain('nopop@example.test', 'nopop')}"),
                         "-ERR [SYS/PERM] POP3 access is disabled for this account.")
        r.close()
        self.assertIn("pop3s-login: refused (disabled) rip=127.0.0.1 method=USER "
                      "user=<nopop@example.test>", env().mbs.logtext())

    def test_malformed(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertTrue(r.cmd("USER").startswith("-ERR"))
        self.assertTrue(r.cmd("USER a b").startswith("-ERR"))
        self.assertEqual(r.cmd("PASS x"), "-ERR No username given.")
        self.assertTrue(r.cmd(f"USER {USER}").startswith("+OK"))
        self.assertTrue(r.cmd("PASS").startswith("-ERR"))
        # a password with spaces reaches authd whole (RFC 1939 7): wrong here
        self.assertRegex(r.cmd("PASS de mo"), r"^-ERR \[AUTH\]")
        self.assertTrue(r.cmd(f"USER {USER}").startswith("+OK"))
        self.assertTrue(r.cmd(f"PASS {PASSWORD}").startswith("+OK"))
        r.close()

    def test_password_with_spaces(self):
        # PASS takes the rest of the line, spaces included (RFC 1939 7)
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd("USER spaced@example.test"), "+OK")
        self.assertEqual(r.cmd("PASS a pass  phrase"), "+OK Logged in.")
        r.close()

    def test_commands_before_login(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        for c in ("STAT", "LIST", "RETR 1", "DELE 1", "RSET", "TOP 1 1", "UIDL", "NOOP"):
            self.assertEqual(r.cmd(c), "-ERR Log in first.", c)
        r.close()

    def test_login_commands_after_login(self):
        r = raw_login()
        for c in (f"USER {USER}", f"PASS {PASSWORD}", "AUTH PLAIN", "STLS"):
            self.assertTrue(r.cmd(c).startswith("-ERR"), c)
        self.assertTrue(r.cmd("NOOP").startswith("+OK"))
        r.close()


class TestAuth(Pop3Case):
    def test_plain_initial_response(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd(f"AUTH PLAIN {plain()}"), "+OK Logged in.")
        self.assertEqual(r.cmd("STAT"), "+OK 0 0")
        r.close()

    def test_plain_lowercase_with_continuation(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd("AUTH plain"), "+ ")
        self.assertEqual(r.cmd(plain()), "+OK Logged in.")
        r.close()

    def test_login(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(base64.b64decode(r.cmd("AUTH LOGIN")[2:]), b"Username:")
        self.assertEqual(base64.b64decode(r.cmd(base64.b64encode(USER.encode()).decode())[2:]),
                         b"Password:")
        self.assertEqual(r.cmd(base64.b64encode(PASSWORD.encode()).decode()), "+OK Logged in.")
        r.close()

    def test_login_initial_response(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        reply = r.cmd("AUTH LOGIN " + base64.b64encode(USER.encode()).decode())
        self.assertEqual(base64.b64decode(reply[2:]), b"Password:")
        self.assertEqual(r.cmd(base64.b64encode(PASSWORD.encode()).decode()), "+OK Logged in.")
        r.close()

    def test_poplib_auth_helpers(self):
        p = pop3s()
        # poplib has no AUTH: the RFC 5034 exchange by hand through it
        self.assertTrue(p._shortcmd(f"AUTH PLAIN {plain()}").startswith(b"+OK"))
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_wrong_password(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd(f"AUTH PLAIN {plain(password='bad')}"),
                         "-ERR [AUTH] Authentication failed.")
        self.assertEqual(r.cmd(f"AUTH PLAIN {plain()}"), "+OK Logged in.")
        r.close()

    def test_cancel_and_bad_base64(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd("AUTH PLAIN"), "+ ")
        self.assertEqual(r.cmd("*"), "-ERR Authentication aborted.")
        self.assertEqual(r.cmd("AUTH PLAIN"), "+ ")
        self.assertTrue(r.cmd("!!notbase64!!").startswith("-ERR"))
        self.assertTrue(r.cmd("AUTH PLAIN !!").startswith("-ERR"))
        self.assertEqual(r.cmd(f"AUTH PLAIN {plain()}"), "+OK Logged in.")
        r.close()

    def test_long_response_ends_the_exchange(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd("AUTH PLAIN"), "+ ")
        self.assertEqual(r.cmd("A" * 9000), "-ERR Input line too long.")
        self.assertEqual(r.cmd("CAPA"), "+OK")
        r.multi()
        self.assertEqual(r.cmd(f"AUTH PLAIN {plain()}"), "+OK Logged in.")
        r.close()

    def test_mechanisms(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd("AUTH"), "+OK")
        self.assertEqual(r.multi(), ["PLAIN", "LOGIN"])
        self.assertEqual(r.cmd("AUTH CRAM-MD5"), "-ERR Unsupported authentication mechanism.")
        self.assertEqual(r.cmd("AUTH PLAIN a b"), "-ERR Invalid AUTH arguments.")
        self.assertEqual(r.cmd("AUTH PLAIN "), "-ERR Invalid AUTH arguments.")
        # "=" is an empty initial response (RFC 5034 4): it fails, cleanly
        self.assertTrue(r.cmd("AUTH PLAIN =").startswith("-ERR [AUTH]"))
        r.close()

    def test_long_initial_response(self):
        # longer than a command line's arguments may be (RFC 5034 4)
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertRegex(r.cmd(f"AUTH PLAIN {plain(password='x' * 300)}"), r"^-ERR \[AUTH\]")
        r.close()

    def test_authd_down(self):
        authd = Authd()
        mbs = MbsDaemon(authd, services=("pop3s",), name="mbs-outage")
        try:
            authd.kill()
            p = poplib.POP3_SSL("127.0.0.1", mbs.pop3s_port, context=ssl._create_unverified_context(),
                                timeout=TIMEOUT)
            p.user(USER)
            with self.assertRaisesRegex(poplib.error_proto, r"\[SYS/TEMP\]"):
                p.pass_(PASSWORD)
            p.quit()
        finally:
            mbs.stop()
            authd.stop()


class TestTransaction(Pop3Case):
    MSGS = ("Subject: one\n\nfirst\n", "Subject: two\r\n\r\n.dot\r\n..two\r\n",
            "Subject: three\n\n1\n2\n3\n4\nlast")
    S1, S2, S3 = 23, 29, 34

    def deliver3(self):
        self.assertEqual((size(self.MSGS[0]), size(self.MSGS[1]), size(self.MSGS[2])),
                         (self.S1, self.S2, self.S3))
        for m in self.MSGS:
            deliver(env().authd.mail_root, USER, m)

    def test_stat_list(self):
        self.deliver3()
        p = login()
        self.assertEqual(p.stat(), (3, self.S1 + self.S2 + self.S3))
        resp, lines, _ = p.list()
        self.assertEqual(resp, b"+OK 3 messages:")
        self.assertEqual(lines, [b"1 23", b"2 29", b"3 34"])
        self.assertEqual(p.list(2), b"+OK 2 29")
        p.quit()

    def test_retr_crlf_and_dot_stuffing(self):
        self.deliver3()
        r = raw_login()
        self.assertEqual(r.cmd("RETR 1"), "+OK 23 octets")
        self.assertEqual(r.multi(), ["Subject: one", "", "first"])
        r.send("RETR 2\r\n")
        self.assertEqual(r.line(), "+OK 29 octets")
        raw = r.read_exact(29 + 2 + 3)   # stuffed dots and ".\r\n"
        self.assertEqual(raw, b"Subject: two\r\n\r\n..dot\r\n...two\r\n.\r\n")
        # a last line without line end is ended before the "."
        self.assertEqual(r.cmd("RETR 3"), "+OK 34 octets")
        self.assertEqual(r.multi(), ["Subject: three", "", "1", "2", "3", "4", "last"])
        r.close()

    def test_poplib_retr(self):
        self.deliver3()
        p = login()
        resp, lines, octets = p.retr(2)
        self.assertEqual(resp, b"+OK 29 octets")
        self.assertEqual(lines, [b"Subject: two", b"", b".dot", b"..two"])
        p.quit()

    def test_top(self):
        self.deliver3()
        p = login()
        self.assertEqual(p.top(3, 0)[1], [b"Subject: three", b""])
        self.assertEqual(p.top(3, 2)[1], [b"Subject: three", b"", b"1", b"2"])
        self.assertEqual(p.top(3, 100)[1], [b"Subject: three", b"", b"1", b"2", b"3", b"4",
                                            b"last"])
        self.assertEqual(p.top(2, 1)[1], [b"Subject: two", b"", b".dot"])
        p.quit()

    def test_top_malformed(self):
        self.deliver3()
        r = raw_login()
        for c in ("TOP", "TOP 1", "TOP 1 x", "TOP x 1", "TOP 1 -1", "TOP 1 1 1", "TOP 0 1",
                  "TOP 4 1", "TOP 1  1"):
            self.assertTrue(r.cmd(c).startswith("-ERR"), c)
        self.assertEqual(r.cmd("TOP 1 0"), "+OK")
        self.assertEqual(r.multi(), ["Subject: one", ""])
        r.close()

    def test_uidl(self):
        self.deliver3()
        p = login()
        resp, lines, _ = p.uidl()
        self.assertEqual(len(lines), 3)
        ids = [line.split()[1] for line in lines]
        for i, uid in enumerate(ids):
            self.assertRegex(uid, rb"^[0-9a-f]{16}$")
            self.assertEqual(int(uid[:8], 16), i + 1)
        self.assertEqual(len(set(uid[8:] for uid in ids)), 1)
        self.assertEqual(p.uidl(2), b"+OK 2 " + ids[1])
        p.quit()
        # the same ids in the next session
        p = login()
        self.assertEqual([line.split()[1] for line in p.uidl()[1]], ids)
        p.quit()

    def test_message_numbers_malformed(self):
        self.deliver3()
        r = raw_login()
        for c in ("RETR", "RETR x", "RETR 0", "RETR -1", "RETR 01", "RETR 1 2", "LIST x",
                  "LIST 1 2", "UIDL 0", "UIDL 1 2", "DELE", "DELE x", "STAT 1", "NOOP 1",
                  "RSET 1", "RETR 99999999999999999999"):
            self.assertTrue(r.cmd(c).startswith("-ERR"), c)
        self.assertEqual(r.cmd("RETR 4"), "-ERR There's no message 4.")
        self.assertEqual(r.cmd("LIST 4"), "-ERR There's no message 4.")
        self.assertEqual(r.cmd("NOOP"), "+OK")
        r.close()

    def test_unknown_command(self):
        r = raw_login()
        self.assertEqual(r.cmd("XYZZ"), "-ERR Unknown command: XYZZ")
        self.assertEqual(r.cmd("LAST"), "-ERR Unknown command: LAST")
        self.assertEqual(r.cmd("APOP a b"), "-ERR Unknown command: APOP")
        self.assertTrue(r.cmd("").startswith("-ERR"))
        self.assertEqual(r.cmd("NOOP"), "+OK")
        r.close()

    def test_dele_rset_quit(self):
        self.deliver3()
        p = login()
        self.assertTrue(p.dele(1).startswith(b"+OK"))
        with self.assertRaisesRegex(poplib.error_proto, "deleted"):
            p.dele(1)
        with self.assertRaisesRegex(poplib.error_proto, "deleted"):
            p.retr(1)
        self.assertEqual(p.stat(), (2, self.S2 + self.S3))
        self.assertEqual([line.split()[0] for line in p.list()[1]], [b"2", b"3"])
        self.assertEqual([line.split()[0] for line in p.uidl()[1]], [b"2", b"3"])
        p.rset()
        self.assertEqual(p.stat(), (3, self.S1 + self.S2 + self.S3))
        p.dele(1)
        p.dele(3)
        # nothing is removed before QUIT
        self.assertEqual(len(message_files()), 3)
        self.assertEqual(p.quit(), b"+OK Logging out, messages deleted.")
        files = message_files()
        self.assertEqual(len(files), 1)
        p = login()
        self.assertEqual(p.stat(), (1, self.S2))
        self.assertEqual(p.retr(1)[1][0], b"Subject: two")
        p.quit()

    def test_no_quit_no_delete(self):
        # RFC 1939 6: a session that ends without QUIT removes nothing
        self.deliver3()
        r = raw_login()
        self.assertTrue(r.cmd("DELE 1").startswith("+OK"))
        self.assertTrue(r.cmd("DELE 2").startswith("+OK"))
        r.close()
        time.sleep(0.3)
        self.assertEqual(len(message_files()), 3)
        p = login()
        self.assertEqual(p.stat()[0], 3)
        p.quit()

    def test_seen_after_retr(self):
        self.deliver3()
        p = login()
        p.retr(2)
        p.top(3, 1)
        p.quit()
        flags = sorted(re.sub(r".*:2,", "", f) for f in message_files())
        self.assertEqual(flags, ["", "", "S"])

    def test_new_mail_not_in_session(self):
        # the maildrop is what was there at login (RFC 1939 5)
        self.deliver3()
        p = login()
        deliver(env().authd.mail_root, USER, "Subject: four\n\nx\n")
        self.assertEqual(p.stat()[0], 3)
        p.dele(1)
        p.quit()
        p = login()
        self.assertEqual(p.stat()[0], 3)
        p.quit()

    def test_expunged_by_another_session(self):
        deliver(env().authd.mail_root, USER, "Subject: a\n\nx\n")
        deliver(env().authd.mail_root, USER, "Subject: b\n\nx\n")
        p = login()
        for name in message_files():
            sub = "cur" if os.path.exists(os.path.join(maildir(), "cur", name)) else "new"
            if "M" in name:
                os.unlink(os.path.join(maildir(), sub, name))
                break
        with self.assertRaisesRegex(poplib.error_proto, "deleted by another session"):
            p.retr(1)
        self.assertEqual(p.retr(2)[1][0], b"Subject: b")
        p.quit()

    def test_unreadable_message_errs_before_the_reply(self):
        # The file opens but cannot be read (a directory took its name):
        # nothing of the reply has gone out, so the client gets an error
        # instead of a cut connection, and the session goes on.
        deliver(env().authd.mail_root, USER, "Subject: a\n\nx\n")
        r = raw_login()
        (name,) = message_files()
        sub = "cur" if os.path.exists(os.path.join(maildir(), "cur", name)) else "new"
        os.unlink(os.path.join(maildir(), sub, name))
        os.mkdir(os.path.join(maildir(), sub, name))
        self.assertEqual(r.cmd("RETR 1"), "-ERR [SYS/TEMP] Couldn't read message 1.")
        self.assertEqual(r.cmd("TOP 1 0"), "-ERR [SYS/TEMP] Couldn't read message 1.")
        self.assertEqual(r.cmd("NOOP"), "+OK")
        self.assertEqual(r.cmd("LIST 1"), "+OK 1 17")
        self.assertEqual(r.cmd("QUIT"), "+OK Logging out.")
        r.close()

    @staticmethod
    def stuffed(data, body_lines=None):
        """What RETR (or TOP with body_lines) sends for data: CRLF line
        ends, dot-stuffed, the last line ended, then "."."""
        out, in_body, left = [], False, body_lines
        parts = data.split(b"\n")
        if parts[-1] == b"":
            parts.pop()
        for line in parts:
            if in_body and left is not None:
                if left == 0:
                    break
                left -= 1
            line = line[:-1] if line.endswith(b"\r") else line
            if not in_body and line == b"":
                in_body = True
            out.append((b"." + line if line.startswith(b".") else line) + b"\r\n")
        return b"".join(out) + b".\r\n"

    def test_retr_and_top_across_read_boundaries(self):
        # The file is read 64 KiB at a time and sent in chunks of about
        # 128 KiB: a CRLF split between two reads, a dot at the start of
        # a read, LF and CRLF lines mixed, TOP ending deep in the file.
        rnd = __import__("random").Random(1939)
        data = bytearray(b"Subject: chunks\r\n\n")

        def pad_to(offset, ending):
            # a line whose content ends exactly at offset, then ending
            data.extend(b"y" * (offset - len(data)) + ending)

        def lines_until(limit):
            while len(data) < limit - 200:
                text = bytes(rnd.choice(b"abc .") for _ in range(rnd.randrange(0, 90)))
                data.extend(text + rnd.choice((b"\n", b"\r\n")))

        lines_until(65536)
        pad_to(65535, b"\r\n")              # CR last in a read, LF first in the next
        lines_until(131072)
        pad_to(131071, b"\n")                # the next read begins with "."
        data.extend(b".dot at a read boundary\n")
        lines_until(196608)
        pad_to(196607, b"\r")                # a bare CR, then the next line's LF
        data.extend(b"\n..two dots\n")
        lines_until(400000)
        data.extend(b"no line end at the end")
        data = bytes(data)
        deliver(env().authd.mail_root, USER, data)
        want = self.stuffed(data)
        r = raw_login()
        octets = len(data) + data.count(b"\n") - data.count(b"\r\n")
        self.assertEqual(r.cmd("LIST 1"), f"+OK 1 {octets}")
        self.assertEqual(r.cmd("RETR 1"), f"+OK {octets} octets")
        self.assertEqual(r.read_exact(len(want)), want)
        body_lines = data.split(b"\n\n", 1)[1].count(b"\n")
        for n in (0, 1, 800, 2000, body_lines - 1, body_lines + 5):
            top = self.stuffed(data, n)
            self.assertEqual(r.cmd(f"TOP 1 {n}"), "+OK")
            self.assertEqual(r.read_exact(len(top)), top, f"TOP 1 {n}")
        self.assertEqual(r.cmd("NOOP"), "+OK")
        r.close()

    def test_noop_quit_malformed(self):
        r = raw_login()
        self.assertTrue(r.cmd("QUIT now").startswith("-ERR"))
        self.assertEqual(r.cmd("noop"), "+OK")
        self.assertEqual(r.cmd("quit"), "+OK Logging out.")
        self.assertTrue(r.closed())

    def test_quit_before_login(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd("QUIT"), "+OK Logging out.")
        self.assertTrue(r.closed())


class TestLock(Pop3Case):
    def test_in_use(self):
        deliver(env().authd.mail_root, USER, "Subject: a\n\nx\n")
        first = login()
        lock = os.path.join(maildir(), "dovecot-pop3-session.lock")
        self.assertTrue(os.path.exists(lock))
        with open(lock) as f:
            self.assertRegex(f.read(), r"^\d+:\S+$")
        second = pop3s()
        second.user(USER)
        with self.assertRaisesRegex(poplib.error_proto, r"^b'-ERR \[IN-USE\]"):
            second.pass_(PASSWORD)
        # the first session is unaffected and can delete
        first.dele(1)
        first.quit()
        self.assertFalse(os.path.exists(lock))
        # the refused session may try again (RFC 1939 4)
        second.user(USER)
        second.pass_(PASSWORD)
        self.assertEqual(second.stat(), (0, 0))
        second.quit()

    def test_waiting_logins_do_not_hold_the_workers(self):
        # Clients waiting for a locked maildrop wait on the loop: another
        # user's login (which needs a worker) goes through meanwhile.
        first = login()
        waiters = []
        for i in range(8):
            r = Raw(env().mbs.pop3s_port, tls=True)
            r.line()
            r.cmd(f"USER {USER}")
            r.send(f"PASS {PASSWORD}\r\n")
            waiters.append(r)
        time.sleep(0.2)
        start = time.monotonic()
        p = pop3s()
        p.user("other@other.test")
        p.pass_("other")
        self.assertEqual(p.stat(), (0, 0))
        p.quit()
        self.assertLess(time.monotonic() - start, 0.5)
        for r in waiters:
            self.assertEqual(r.line(), "-ERR [IN-USE] Mailbox is locked by another POP3 session.")
            r.close()
        first.quit()

    def test_lock_released_when_client_vanishes(self):
        r = raw_login()
        r.close()
        deadline = time.monotonic() + TIMEOUT
        lock = os.path.join(maildir(), "dovecot-pop3-session.lock")
        while os.path.exists(lock) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(lock))
        p = login()
        p.quit()

    def test_stale_lock_of_dead_process(self):
        os.makedirs(maildir(), exist_ok=True)
        proc = subprocess.Popen(["true"])
        proc.wait()
        with open(os.path.join(maildir(), "dovecot-pop3-session.lock"), "w") as f:
            f.write(f"{proc.pid}:{socket.gethostname()}")
        p = login()
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_lock_of_another_host(self):
        os.makedirs(maildir(), exist_ok=True)
        lock = os.path.join(maildir(), "dovecot-pop3-session.lock")
        with open(lock, "w") as f:
            f.write("4711:other-host.example.test")
        p = pop3s()
        p.user(USER)
        with self.assertRaisesRegex(poplib.error_proto, r"\[IN-USE\]"):
            p.pass_(PASSWORD)
        # old enough (Dovecot's 5 minutes), it is taken over
        old = time.time() - 400
        os.utime(lock, (old, old))
        p.user(USER)
        p.pass_(PASSWORD)
        p.quit()


class TestBigAndPipelining(Pop3Case):
    def test_big_message_streams(self):
        # 40 MB of LF-only lines: the reply is CRLF and stuffed, read
        # slowly; the server must not hold the whole message in memory.
        line = b"x" * 77 + b"\n"
        n = 40 * 1024 * 1024 // len(line)
        body = b"Subject: big\n\n" + b".dot\n" + line * n
        os.makedirs(os.path.join(maildir(), "new"), exist_ok=True)
        os.makedirs(os.path.join(maildir(), "cur"), exist_ok=True)
        os.makedirs(os.path.join(maildir(), "tmp"), exist_ok=True)
        with open(os.path.join(maildir(), "new", "1700000000.M1P1.big"), "wb") as f:
            f.write(body)
        want = len(body) + body.count(b"\n")
        r = raw_login()
        self.assertEqual(r.cmd("LIST 1"), f"+OK 1 {want}")
        before = self.rss_kb(env().mbs.proc.pid)
        r.send("RETR 1\r\n")
        self.assertEqual(r.line(), f"+OK {want} octets")
        time.sleep(1.0)   # let the server fill the socket and stop
        grown = self.rss_kb(env().mbs.proc.pid) - before
        # (a sanitizer build keeps freed memory in quarantine: not measured)
        if not self.sanitized(env().mbs.proc.pid):
            self.assertLess(grown, 16 * 1024,
                            "RSS growth while a 40 MB RETR waits for the client")
        got = r.read_exact(want + 1 + 3)
        self.assertTrue(got.startswith(b"Subject: big\r\n\r\n..dot\r\n"))
        self.assertTrue(got.endswith(line.replace(b"\n", b"\r\n") + b".\r\n"))
        self.assertEqual(r.cmd("NOOP"), "+OK")
        r.close()

    @staticmethod
    def sanitized(pid):
        with open(f"/proc/{pid}/maps") as f:
            return "libasan" in f.read()

    @staticmethod
    def rss_kb(pid):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def test_pipelining(self):
        for i in range(5):
            deliver(env().authd.mail_root, USER, f"Subject: {i}\n\nbody {i}\n")
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        r.send(f"USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nLIST\r\n"
               "TOP 2 0\r\nUIDL 3\r\nXYZW\r\nRETR 5\r\nNOOP\r\nQUIT\r\n")
        self.assertEqual(r.line(), "+OK")
        self.assertEqual(r.line(), "+OK Logged in.")
        self.assertRegex(r.line(), r"^\+OK 5 \d+$")
        self.assertRegex(r.line(), r"^\+OK \d+ octets$")
        self.assertEqual(r.multi(), ["Subject: 0", "", "body 0"])
        self.assertEqual(r.line(), "+OK Marked to be deleted.")
        self.assertEqual(r.line(), "+OK 4 messages:")
        self.assertEqual([x.split()[0] for x in r.multi()], ["2", "3", "4", "5"])
        self.assertEqual(r.line(), "+OK")
        self.assertEqual(r.multi(), ["Subject: 1", ""])
        self.assertRegex(r.line(), r"^\+OK 3 [0-9a-f]{16}$")
        self.assertEqual(r.line(), "-ERR Unknown command: XYZW")
        self.assertRegex(r.line(), r"^\+OK \d+ octets$")
        self.assertEqual(r.multi(), ["Subject: 4", "", "body 4"])
        self.assertEqual(r.line(), "+OK")
        self.assertEqual(r.line(), "+OK Logging out, messages deleted.")
        self.assertTrue(r.closed())
        self.assertEqual(len(message_files()), 4)


class TestLimits(Pop3Case):
    def test_too_many_bad_commands(self):
        r = Raw(env().open.pop3_port)
        r.line()
        # in a row: a good command starts the count again
        for i in range(MAX_BAD - 1):
            self.assertTrue(r.cmd("BOGUS").startswith("-ERR"))
        self.assertEqual(r.cmd("CAPA"), "+OK")
        r.multi()
        for i in range(MAX_BAD - 1):
            self.assertTrue(r.cmd("XYZW 1").startswith("-ERR"))
        self.assertTrue(r.cmd("LIST").startswith("-ERR"))
        self.assertEqual(r.line(), "-ERR Too many bad commands.")
        self.assertTrue(r.closed())

    def test_long_line(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        self.assertEqual(r.cmd("NOOP " + "x" * 20000), "-ERR Input line too long.")
        self.assertTrue(r.cmd(f"USER {USER}").startswith("+OK"))
        r.close()

    def test_control_characters(self):
        r = Raw(env().mbs.pop3s_port, tls=True)
        r.line()
        r.send(b"USER a\x00b\r\n")
        self.assertTrue(r.line().startswith("-ERR"))
        r.send(b"USER a\rb\r\n")
        self.assertTrue(r.line().startswith("-ERR"))
        # a bare LF ends a command too
        r.send(f"USER {USER}\n".encode())
        self.assertEqual(r.line(), "+OK")
        r.close()

    def test_idle_timeout(self):
        r = Raw(env().open.pop3_port)
        r.line()
        r.sock.settimeout(TIMEOUT)
        start = time.monotonic()
        self.assertEqual(r.line(), "-ERR Disconnected for inactivity.")
        self.assertTrue(r.closed())
        self.assertGreater(time.monotonic() - start, 1.5)


class TestMtaDelivery(Pop3Case):
    def test_retr_what_the_mta_delivered(self):
        # the real mta writes with ,S= and ,W= in the name: LIST must be
        # what RETR sends
        mta = MtaDaemon(env().authd, services=("smtp",))
        try:
            body = "Subject: via-mta\r\n\r\n" + "".join(f".line {i}\r\n" for i in range(50))
            with smtplib.SMTP("127.0.0.1", mta.ports["smtp"], timeout=TIMEOUT) as s:
                s.sendmail("a@remote.test", [USER], body)
            deadline = time.monotonic() + TIMEOUT
            while not message_files():
                self.assertLess(time.monotonic(), deadline, "not delivered")
                time.sleep(0.05)
            p = login()
            self.assertEqual(p.stat()[0], 1)
            listed = int(p.list(1).split()[2])
            resp, lines, octets = p.retr(1)
            self.assertEqual(resp, f"+OK {listed} octets".encode())
            self.assertIn(b".line 49", lines)
            # poplib counts the octets of the unstuffed lines and CRLFs
            self.assertEqual(octets, listed)
            p.quit()
        finally:
            mta.stop()


class TestFailedLogins(Pop3Case):
    def test_failed_logins_close(self):
        # failed logins are bad commands too: a guesser is cut off
        r = Raw(env().open.pop3_port)
        r.line()
        for i in range(MAX_BAD - 1):
            self.assertRegex(r.cmd(f"AUTH PLAIN {plain(password='nope')}"), r"^-ERR \[AUTH\]")
        self.assertRegex(r.cmd(f"AUTH PLAIN {plain(password='nope')}"), r"^-ERR \[AUTH\]")
        self.assertEqual(r.line(), "-ERR Too many bad commands.")
        self.assertTrue(r.closed())


class TestShutdown(Pop3Case):
    def test_sigterm(self):
        deliver(env().authd.mail_root, USER, "Subject: a\n\nx\n")
        mbs = MbsDaemon(env().authd, services=("pop3s", "pop2"), name="mbs-stop",
                        extra="pop2_allow_plaintext = yes\n")
        try:
            r = Raw(mbs.pop3s_port, tls=True, daemon=mbs)
            r.line()
            r.cmd(f"USER {USER}")
            self.assertEqual(r.cmd(f"PASS {PASSWORD}"), "+OK Logged in.")
            self.assertEqual(r.cmd("DELE 1"), "+OK Marked to be deleted.")
            idle = Raw(mbs.pop2_port)
            idle.line()
            start = time.monotonic()
            mbs.proc.terminate()
            self.assertEqual(r.line(), "-ERR [SYS/TEMP] Server shutting down.")
            self.assertTrue(r.closed())
            self.assertEqual(idle.line(), "- Server shutting down")
            mbs.proc.wait(timeout=TIMEOUT)
            self.assertLess(time.monotonic() - start, 3)
            # no QUIT: nothing deleted, the lock is gone
            self.assertEqual(len(message_files()), 1)
            self.assertFalse(os.path.exists(os.path.join(maildir(), "dovecot-pop3-session.lock")))
        finally:
            mbs.stop()


class TestDovecotUidl(Pop3Case):
    """UIDL must be what Dovecot's pop3 gives for the same Maildir, so a
    store can move either way without clients downloading everything
    again."""

    def sandbox(self, md):
        """A Dovecot sandbox whose mail user may use md (chowned to it)."""
        box = doveadm.Sandbox("mr-pop3-dovecot-")
        self.addCleanup(box.remove)
        box.chown_all()
        for d, dirs, files in os.walk(md):
            for n in dirs + files + [""]:
                os.chown(os.path.join(d, n), box.uid, box.gid)
        return box

    def dovecot_session(self, md):
        """Dovecot's pop3 on md, holding its session lock."""
        return self.sandbox(md).pop3(md, ("pop3_lock_session=yes",))

    def dovecot_uidl(self, md):
        proc = self.sandbox(md).pop3(md)
        out, _ = proc.communicate(b"UIDL\r\nLIST\r\nQUIT\r\n", timeout=TIMEOUT)
        return out.decode()

    @staticmethod
    def listing(text, first):
        """The lines of the multi-line reply that starts at line `first`."""
        lines = text.split("\r\n")
        out = []
        for line in lines[first + 1:]:
            if line == ".":
                break
            out.append(line)
        return out

    def test_dovecot_session_lock_excludes_us(self):
        # Dovecot with pop3_lock_session = yes holds the same lock file
        deliver(env().authd.mail_root, USER, "Subject: a\n\nx\n")
        # Dovecot runs as nobody when we are root: let it reach the Maildir
        d = os.path.dirname(maildir())
        while d != "/":
            os.chmod(d, os.stat(d).st_mode | 0o111)
            d = os.path.dirname(d)
        dovecot = self.dovecot_session(maildir())
        try:
            dovecot.stdin.write(b"STAT\r\n")
            dovecot.stdin.flush()
            ready, _, _ = select.select([dovecot.stdout], [], [], TIMEOUT)
            self.assertTrue(ready)
            out = os.read(dovecot.stdout.fileno(), 1000)
            self.assertTrue(out.startswith(b"+OK 1 "), out)
            with open(os.path.join(maildir(), "dovecot-pop3-session.lock")) as f:
                self.assertRegex(f.read(), rf"^{dovecot.pid}:")
            p = pop3s()
            p.user(USER)
            with self.assertRaisesRegex(poplib.error_proto, r"\[IN-USE\]"):
                p.pass_(PASSWORD)
            dovecot.stdin.write(b"QUIT\r\n")
            dovecot.stdin.close()
            dovecot.wait(timeout=TIMEOUT)
            p.user(USER)
            p.pass_(PASSWORD)
            self.assertEqual(p.stat()[0], 1)
            p.quit()
        finally:
            if dovecot.poll() is None:
                dovecot.kill()
                dovecot.wait()

    def test_uidl_and_list_match_dovecot_on_a_mailroom_maildir(self):
        deliver(env().authd.mail_root, USER, "Subject: a\n\nx\n")
        deliver(env().authd.mail_root, USER, "Subject: b\r\n\r\ny\r\n")
        deliver(env().authd.mail_root, USER, "Subject: c\n\n.z\nlast")
        p = login()
        ours_uidl = [line.decode() for line in p.uidl()[1]]
        ours_list = [line.decode() for line in p.list()[1]]
        p.quit()
        copy = tempfile.mkdtemp(prefix="mr-pop3-copy-")
        os.chmod(copy, 0o755)
        try:
            md = os.path.join(copy, "md")
            shutil.copytree(maildir(), md)
            out = self.dovecot_uidl(md)
            self.assertTrue(out.startswith("+OK"), out)
            lines = out.split("\r\n")
            list_at = next(i for i, x in enumerate(lines) if x.startswith("+OK") and "messages" in x)
            self.assertEqual(self.listing(out, 0), ours_uidl)
            self.assertEqual(self.listing(out, list_at), ours_list)
        finally:
            shutil.rmtree(copy, ignore_errors=True)

    def test_uidl_matches_dovecot_on_a_dovecot_maildir(self):
        # Dovecot assigns the UIDs first; we must serve the same ids.
        for i in range(3):
            deliver(env().authd.mail_root, USER, f"Subject: {i}\n\nbody\n")
        copy = tempfile.mkdtemp(prefix="mr-pop3-copy-")
        os.chmod(copy, 0o755)
        try:
            md = os.path.join(copy, "md")
            shutil.copytree(maildir(), md)
            out = self.dovecot_uidl(md)
            theirs = self.listing(out, 0)
            self.assertEqual(len(theirs), 3)
            clear_maildir()
            shutil.copytree(md, maildir())
            if os.getuid() == 0:
                for d, dirs, files in os.walk(maildir()):
                    for n in dirs + files + [""]:
                        os.chown(os.path.join(d, n), 0, 0)
            p = login()
            self.assertEqual([line.decode() for line in p.uidl()[1]], theirs)
            p.quit()
        finally:
            shutil.rmtree(copy, ignore_errors=True)


class TestPop2(Pop3Case):
    def pop2(self, port=None):
        r = Raw(port or env().open.pop2_port)
        self.assertRegex(r.line(), r"^\+ POP2 imap\.example\.test ")
        return r

    def test_session(self):
        deliver(env().authd.mail_root, USER, "Subject: a\n\n.one\n")
        deliver(env().authd.mail_root, USER, "Subject: b\n\ntwo\n")
        r = self.pop2()
        self.assertEqual(r.cmd(f"HELO {USER} {PASSWORD}"), "#2 messages in your mailbox")
        self.assertEqual(r.cmd("FOLD INBOX"), "#2 messages in INBOX")
        self.assertEqual(r.cmd("READ"), "=20 characters in message 1")
        r.send("RETR\r\n")
        self.assertEqual(r.read_exact(20), b"Subject: a\r\n\r\n.one\r\n")
        self.assertEqual(r.cmd("ACKD"), "=19 characters in message 2")
        r.send("RETR\r\n")
        self.assertEqual(r.read_exact(19), b"Subject: b\r\n\r\ntwo\r\n")
        self.assertEqual(r.cmd("NACK"), "=19 characters in message 2")
        self.assertEqual(r.cmd("RETR"), "Subject: b")
        r.read_exact(19 - 12)
        self.assertEqual(r.cmd("ACKS"), "=0 No message 3")
        self.assertEqual(r.cmd("READ 1"), "=0 No message 1")   # deleted
        self.assertEqual(r.cmd("QUIT"), "+ OK, bye")
        self.assertTrue(r.closed())
        self.assertEqual(len(message_files()), 1)

    def test_malformed(self):
        r = self.pop2()
        self.assertTrue(r.cmd("READ").startswith("- "))
        self.assertTrue(r.cmd("HELO onlyuser").startswith("- "))
        self.assertTrue(r.cmd(f"HELO {USER} wrong").startswith("- "))
        self.assertTrue(r.cmd(f"HELO {USER} {PASSWORD}").startswith("#"))
        for c in ("RETR", "ACKS", "ACKD", "NACK", "READ x", "READ 0", "FOLD", "BOGUS",
                  f"HELO {USER} {PASSWORD}", "READ 1 2"):
            self.assertTrue(r.cmd(c).startswith("- "), c)
            self.assertTrue(r.cmd("FOLD INBOX").startswith("#0"))
        self.assertEqual(r.cmd("FOLD Sent"), "- Only INBOX is available")
        for i in range(MAX_BAD - 1):
            self.assertTrue(r.cmd("RETR").startswith("- "))
        self.assertEqual(r.cmd("RETR"), "- READ a message first")
        self.assertEqual(r.line(), "- Too many bad commands")
        self.assertTrue(r.closed())

    def test_quit_before_helo(self):
        r = self.pop2()
        self.assertEqual(r.cmd("QUIT"), "+ OK, bye")
        self.assertTrue(r.closed())

    def test_plaintext_refused_by_default(self):
        r = self.pop2(env().mbs.pop2_port)
        self.assertEqual(r.cmd(f"HELO {USER} {PASSWORD}"),
                         "- Clear-text passwords are not accepted here")
        self.assertEqual(r.cmd("QUIT"), "+ OK, bye")

    def test_shares_the_pop3_lock(self):
        p = login()
        r = self.pop2()
        self.assertEqual(r.cmd(f"HELO {USER} {PASSWORD}"), "- Mailbox is locked by another session")
        p.quit()
        self.assertTrue(r.cmd(f"HELO {USER} {PASSWORD}").startswith("#0"))
        r.close()


if __name__ == "__main__":
    unittest.main()
