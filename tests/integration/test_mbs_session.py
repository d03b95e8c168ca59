"""mailroom-mbs's IMAP session: greeting, CAPABILITY, STARTTLS, LOGIN and
AUTHENTICATE through a real mailroom-authd, the command reader (literals,
limits, bad input), states, LOGOUT, timeouts and shutdown. Clients are
Python's imaplib and a raw socket for what imaplib will not send."""
import atexit
import base64
import os
import re
import signal
import socket
import ssl
import time
import unittest

import smtplib

from mbstest import Authd, MbsDaemon, deliver, user_maildir
from mrtest import LineClient
from mtatest import MtaDaemon, wait_log

TIMEOUT = 10
ENV = None
MAX_BAD = 5


class Env:
    def __init__(self):
        self.authd = Authd()
        # a mailbox without IMAP: its password is right, the service is off
        with open(os.path.join(self.authd.tmp, "users"), "a") as f:
            f.write("noimap@example.test:{PLAIN}noimap::::::services=smtp,pop3,deliver\n")
        self.authd.kill()
        self.authd.start()
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


class Raw(LineClient):
    """IMAP by hand over a socket (plain, or TLS when tls=True)."""

    def __init__(self, port, tls=False, mbs=None):
        self.mbs = mbs or env().mbs
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        if tls:
            sock = self.mbs.ssl_context().wrap_socket(sock)
        super().__init__(sock)
        self.greeting = self.line()

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
        except socket.timeout:
            return False   # still open after TIMEOUT
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
        self.assertTrue(r.login("off@example.test", "off").startswith(
            "L NO [AUTHORIZATIONFAILED]"))
        self.assertTrue(r.login("off@example.test", "wrong").startswith(
            "L NO [AUTHENTICATIONFAILED]"))
        r.close()

    def test_imap_disabled(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        self.assertEqual(r.login("noimap@example.test", "noimap"),
                         "L NO [AUTHORIZATIONFAILED] IMAP access is disabled for this account.")
        self.assertTrue(r.login("noimap@example.test", "bad").startswith(
            "L NO [AUTHENTICATIONFAILED]"))
        ir = base64.b64encode(b"\0noimap@example.test\0noimap").decode()
        self.assertTrue(r.cmd("a", f"AUTHENTICATE PLAIN {ir}")[1].startswith(
            "a NO [AUTHORIZATIONFAILED]"))
        r.close()
        self.assertIn("imap-login: refused (disabled) user=<noimap@example.test>",
                      env().mbs.logtext())

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

    def test_long_response_line(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.send("a AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.send("QUFB" * 3000 + "\r\n")
        self.assertTrue(r.until("a")[1].startswith("a BAD"))
        r.send("b AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.send(b"x" * (1100 * 1024) + b"\r\n")
        self.assertTrue(r.until("b")[1].startswith("b BAD"))
        self.assertTrue(r.cmd("n", "NOOP")[1].startswith("n OK"))
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

    def test_append_literals(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.login()
        # over imap_append_limit (10k): refused before a byte is sent
        r.send("a APPEND INBOX {20000}\r\n")
        line = r.line()
        self.assertTrue(line.startswith("a NO [TOOBIG]"), line)
        # LITERAL+: read and dropped, never run as commands
        body = b"x NOOP\r\n" * 2500
        r.send(b"b APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
        line = r.line()
        self.assertTrue(line.startswith("b NO [TOOBIG]"), line)
        self.assertTrue(r.cmd("n", "NOOP")[1].startswith("n OK"))
        # over imap_max_literal (4k) but within the APPEND limit: accepted
        # and handed to APPEND
        msg = b"Subject: big\r\n\r\n" + b"y" * 6000 + b"\r\n"
        r.send(b"c APPEND INBOX {%d}\r\n" % len(msg))
        self.assertEqual(r.line(), "+ OK")
        r.send(msg + b"\r\n")
        _, tagged = r.until("c")
        self.assertNotIn("TOOBIG", tagged)
        self.assertTrue(r.cmd("m", "NOOP")[1].startswith("m OK"))
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

    def test_every_command_is_implemented(self):
        # a command of the table answered "not implemented" would say [CANNOT]
        r = Raw(env().mbs.imaps_port, tls=True)
        r.login()
        for i, cmd in enumerate(("LIST \"\" *", "LSUB \"\" *", "STATUS INBOX (MESSAGES)",
                                 "GETQUOTAROOT INBOX", "EXAMINE INBOX", "CHECK",
                                 "FETCH 1:* FLAGS", "SEARCH ALL", "UNSELECT")):
            _, tagged = r.cmd(f"t{i}", cmd)
            self.assertTrue(tagged.startswith(f"t{i} OK"), (cmd, tagged))
        r.close()


class Extensions(unittest.TestCase):
    def test_id(self):
        r = Raw(env().mbs.imap_port)
        untagged, tagged = r.cmd("a", 'ID ("name" "TestClient" "version" "1.0")')
        self.assertEqual(tagged, "a OK ID completed.")
        self.assertTrue(untagged[0].startswith('* ID ("name" "Mailroom"'), untagged)
        self.assertTrue(r.cmd("b", "ID NIL")[1].startswith("b OK"))
        self.assertTrue(r.cmd("c", 'ID ("name")')[1].startswith("c BAD"))
        self.assertTrue(r.cmd("d", "ID")[1].startswith("d BAD"))
        self.assertTrue(r.cmd("e", 'ID ("%s" "x")' % ("k" * 31))[1].startswith("e BAD"))
        self.assertTrue(r.cmd("f", 'ID (name "x")')[1].startswith("f BAD"))
        r.close()
        wait_log(env().mbs.log, "imap: id name=TestClient version=1.0")

    def test_namespace(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        self.assertEqual(r.cmd("a", "NAMESPACE")[1], "a BAD Log in first")
        r.login()
        untagged, tagged = r.cmd("b", "NAMESPACE")
        self.assertEqual(untagged, ['* NAMESPACE (("" ".")) NIL NIL'])
        self.assertEqual(tagged, "b OK Namespace completed.")
        self.assertTrue(r.cmd("c", "NAMESPACE x")[1].startswith("c BAD"))
        r.close()

    def test_enable(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        self.assertEqual(r.cmd("a", "ENABLE UTF8=ACCEPT")[1], "a BAD Log in first")
        r.login()
        # 8-bit in a quoted string is refused before UTF8=ACCEPT
        self.assertTrue(r.cmd("b", 'ID ("name" "Ünïcode")')[1].startswith("b BAD"))
        untagged, tagged = r.cmd("c", "ENABLE UTF8=ACCEPT X-UNKNOWN")
        self.assertEqual(untagged, ["* ENABLED UTF8=ACCEPT"])
        self.assertEqual(tagged, "c OK Enabled.")
        # enabling again reports nothing new
        self.assertEqual(r.cmd("d", "ENABLE UTF8=ACCEPT")[0], ["* ENABLED"])
        self.assertTrue(r.cmd("e", 'ID ("name" "Ünïcode")')[1].startswith("e OK"))
        self.assertTrue(r.cmd("f", "ENABLE")[1].startswith("f BAD"))
        r.close()

    def test_capabilities_after_login(self):
        c = env().mbs.login()
        cap = set(c.capability()[1][0].decode().split())
        for name in ("IMAP4rev1", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT",
                     "MOVE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
                     "CREATE-SPECIAL-USE", "QUOTA", "STATUS=SIZE", "UIDPLUS", "UTF8=ACCEPT",
                     "APPENDLIMIT=10240"):
            self.assertIn(name, cap)
        c.logout()


class DovecotCompare(unittest.TestCase):
    """The same commands to Debian's Dovecot imap process on a Maildir++
    store (tests/lib/doveadm.py; skipped without dovecot-imapd): the
    untagged replies that carry data must match."""

    def test_namespace_and_id_shape(self):
        import doveadm
        box = doveadm.Sandbox("mr-mbs-dc-", ("mail/cur", "mail/new", "mail/tmp"))
        try:
            box.chown_all()
            s = box.imap(box.path("mail"), {"TZ": "UTC"})
            dovecot_ns = s.command("a", b"NAMESPACE").split(b"\r\n")[0].decode()
            dovecot_id = s.command("b", b"ID NIL").split(b"\r\n")[0].decode()
            s.close()
        finally:
            box.remove()
        r = Raw(env().mbs.imaps_port, tls=True)
        r.login()
        self.assertEqual(r.cmd("a", "NAMESPACE")[0], [dovecot_ns])
        ours = r.cmd("b", "ID NIL")[0][0]
        self.assertTrue(ours.startswith('* ID ("name" "') and dovecot_id.startswith('* ID ("name" "'),
                        (ours, dovecot_id))
        r.close()


class Idle(unittest.TestCase):
    def test_idle_done_authenticated(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.login()
        r.send("i IDLE\r\n")
        self.assertEqual(r.line(), "+ idling")
        r.send("DONE\r\n")
        self.assertEqual(r.until("i")[1], "i OK Idle completed.")
        self.assertTrue(r.cmd("n", "NOOP")[1].startswith("n OK"))
        r.close()

    def test_idle_not_done(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.login()
        r.send("i IDLE\r\n")
        self.assertEqual(r.line(), "+ idling")
        r.send("NOOP\r\n")
        self.assertEqual(r.until("i")[1], "i BAD Expected DONE.")
        self.assertTrue(r.cmd("n", "NOOP")[1].startswith("n OK"))
        self.assertTrue(r.cmd("x", "IDLE now")[1].startswith("x BAD"))
        r.close()

    def test_idle_long_line(self):
        r = Raw(env().mbs.imaps_port, tls=True)
        r.login()
        r.send("i IDLE\r\n")
        self.assertEqual(r.line(), "+ idling")
        r.send(b"D" * (1100 * 1024) + b"\r\n")
        self.assertEqual(r.until("i")[1], "i BAD Expected DONE.")
        self.assertTrue(r.cmd("n", "NOOP")[1].startswith("n OK"))
        r.close()

    def test_idle_before_login(self):
        r = Raw(env().mbs.imap_port)
        self.assertEqual(r.cmd("i", "IDLE")[1], "i BAD Log in first")
        r.close()


MESSAGE = "From: a@remote.test\r\nTo: demo@example.test\r\nSubject: {}\r\n\r\nbody\r\n"


class Updates(unittest.TestCase):
    """Untagged updates in the selected state: while IDLE (RFC 2177) and
    before a tagged OK."""

    @classmethod
    def setUpClass(cls):
        cls.authd = Authd()
        cls.mbs = MbsDaemon(cls.authd, name="mbs-updates",
                            extra="mailbox_revalidate_interval = 1h\n")

    @classmethod
    def tearDownClass(cls):
        cls.mbs.stop()
        cls.authd.stop()

    def selected(self):
        r = Raw(self.mbs.imaps_port, tls=True, mbs=self.mbs)
        self.assertTrue(r.login().startswith("L OK"))
        untagged, tagged = r.cmd("s", "SELECT INBOX")
        self.assertTrue(tagged.startswith("s OK"), tagged)
        exists = [int(x.split()[1]) for x in untagged if x.endswith(" EXISTS")]
        return r, exists[-1]

    def wait_untagged(self, r, want, timeout=5):
        """Lines until one holds want (bounded in time)."""
        r.sock.settimeout(timeout)
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = r.line()
            seen.append(line)
            if want in line:
                return seen
        self.fail(f"{want!r} not seen in {seen}")

    def test_idle_sees_deliver(self):
        r, n = self.selected()
        r.send("i IDLE\r\n")
        self.assertEqual(r.line(), "+ idling")
        deliver(self.mbs.mail_root, "demo@example.test", MESSAGE.format("idle-1"))
        self.wait_untagged(r, f"* {n + 1} EXISTS")
        deliver(self.mbs.mail_root, "demo@example.test", MESSAGE.format("idle-2"))
        self.wait_untagged(r, f"* {n + 2} EXISTS")
        r.send("DONE\r\n")
        self.assertEqual(r.until("i")[1], "i OK Idle completed.")
        r.close()

    def test_idle_sees_mta_delivery(self):
        mta = MtaDaemon(self.authd)
        try:
            r, n = self.selected()
            r.send("i IDLE\r\n")
            self.assertEqual(r.line(), "+ idling")
            with smtplib.SMTP("127.0.0.1", mta.ports["smtp"], timeout=TIMEOUT) as s:
                s.sendmail("a@remote.test", ["demo@example.test"], MESSAGE.format("via-mta"))
            self.wait_untagged(r, f"* {n + 1} EXISTS", timeout=10)
            r.send("DONE\r\n")
            self.assertEqual(r.until("i")[1], "i OK Idle completed.")
            r.close()
        finally:
            mta.stop()

    def test_idle_sees_expunge_and_flags_from_elsewhere(self):
        deliver(self.mbs.mail_root, "demo@example.test", MESSAGE.format("to-go"))
        r, n = self.selected()
        cur = os.path.join(user_maildir(self.mbs.mail_root, "demo@example.test"), "cur")
        r.send("i IDLE\r\n")
        self.assertEqual(r.line(), "+ idling")
        # another writer flags the last message, then removes it
        names = sorted(os.listdir(cur), key=lambda x: os.stat(os.path.join(cur, x)).st_mtime)
        last = [x for x in names if "to-go" in open(os.path.join(cur, x)).read()][-1]
        flagged = last.split(":2,")[0] + ":2,F"
        os.rename(os.path.join(cur, last), os.path.join(cur, flagged))
        line = self.wait_untagged(r, " FETCH (FLAGS (")[-1]
        self.assertIn("\\Flagged", line)
        os.unlink(os.path.join(cur, flagged))
        self.wait_untagged(r, " EXPUNGE")
        r.send("DONE\r\n")
        self.assertEqual(r.until("i")[1], "i OK Idle completed.")
        r.close()

    def test_noop_reports_changes(self):
        r, n = self.selected()
        deliver(self.mbs.mail_root, "demo@example.test", MESSAGE.format("noop"))
        untagged, tagged = r.cmd("n", "NOOP")
        self.assertEqual(tagged, "n OK NOOP completed.")
        self.assertIn(f"* {n + 1} EXISTS", untagged)
        r.close()

    def test_noop_reports_flags_and_expunge_from_elsewhere(self):
        # the sync before OK is skipped only when the folder's watch saw
        # nothing: every change from another writer must still show
        deliver(self.mbs.mail_root, "demo@example.test", MESSAGE.format("elsewhere"))
        r, n = self.selected()
        self.assertTrue(r.cmd("a", "NOOP")[1].startswith("a OK"))
        cur = os.path.join(user_maildir(self.mbs.mail_root, "demo@example.test"), "cur")
        name = [x for x in os.listdir(cur)
                if "elsewhere" in open(os.path.join(cur, x)).read()][-1]
        flagged = name.split(":2,")[0] + ":2,FS"
        os.rename(os.path.join(cur, name), os.path.join(cur, flagged))
        untagged, tagged = r.cmd("b", "NOOP")
        self.assertTrue(any(" FETCH (FLAGS (" in x and "\\Flagged" in x for x in untagged),
                        untagged)
        # nothing changed: nothing reported
        self.assertEqual(r.cmd("c", "NOOP")[0], [])
        os.unlink(os.path.join(cur, flagged))
        # FETCH may not report it (RFC 3501 7.4.1) ...
        untagged, tagged = r.cmd("d", f"FETCH 1:{n} (FLAGS)")
        self.assertTrue(tagged.startswith("d OK"), tagged)
        self.assertFalse(any(x.endswith(" EXPUNGE") for x in untagged), untagged)
        # ... the next NOOP must, though the folder saw no change since
        untagged, tagged = r.cmd("e", "NOOP")
        self.assertTrue(any(x.endswith(" EXPUNGE") for x in untagged), untagged)
        self.assertEqual(r.cmd("f", "NOOP")[0], [])
        r.close()

    def test_expunge_by_another_session(self):
        deliver(self.mbs.mail_root, "demo@example.test", MESSAGE.format("other-session"))
        a, n = self.selected()
        b, n2 = self.selected()
        self.assertEqual(n, n2)
        self.assertTrue(a.cmd("s", f"STORE {n} +FLAGS.SILENT (\\Deleted)")[1].startswith("s OK"))
        untagged, _ = b.cmd("n", "NOOP")
        self.assertIn(f"* {n} FETCH (FLAGS (\\Deleted))", untagged)
        self.assertTrue(a.cmd("x", "EXPUNGE")[1].startswith("x OK"))
        untagged, _ = b.cmd("m", "NOOP")
        self.assertIn(f"* {n} EXPUNGE", untagged)
        a.close()
        b.close()

    def test_idle_two_sessions_share_a_watch(self):
        a, n = self.selected()
        b, _ = self.selected()
        for r in (a, b):
            r.send("i IDLE\r\n")
            self.assertEqual(r.line(), "+ idling")
        deliver(self.mbs.mail_root, "demo@example.test", MESSAGE.format("both"))
        for r in (a, b):
            self.wait_untagged(r, "EXISTS")
            r.send("DONE\r\n")
            self.assertEqual(r.until("i")[1], "i OK Idle completed.")
            r.close()


def inotify_watches(pid):
    """(inotify instances, watches in them) of a process, from /proc."""
    instances = watches = 0
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                watches += sum(1 for line in f if line.startswith("inotify wd:"))
            instances += 1
        except OSError:
            continue
    return instances, watches


class SharedWatches(unittest.TestCase):
    """One inotify instance per process, one pair of watches (new/, cur/)
    per selected folder however many sessions have it (the per-user
    inotify limits), and every idler hears of a delivery."""

    SESSIONS = 40

    def test_many_idlers_share_watches(self):
        authd = Authd()
        mbs = MbsDaemon(authd, name="mbs-shared", services=("imap",),
                        extra="auth_allow_plaintext = yes\n")
        clients = []
        try:
            deliver(mbs.mail_root, "demo@example.test", MESSAGE.format("first"), folder="Work")
            for i in range(self.SESSIONS):
                r = Raw(mbs.imap_port, mbs=mbs)
                # auth_allow_plaintext = yes: logins before TLS are offered
                self.assertIn("AUTH=PLAIN", caps(r.greeting))
                self.assertNotIn("LOGINDISABLED", caps(r.greeting))
                self.assertTrue(r.login().startswith("L OK"))
                folder = "Work" if i % 4 == 0 else "INBOX"
                untagged, tagged = r.cmd("s", f"SELECT {folder}")
                self.assertTrue(tagged.startswith("s OK"), tagged)
                r.exists = [int(x.split()[1]) for x in untagged if x.endswith(" EXISTS")][-1]
                r.folder = folder
                r.send("i IDLE\r\n")
                self.assertEqual(r.line(), "+ idling")
                clients.append(r)
            # the watches are added on a worker: wait for them (bounded)
            deadline = time.monotonic() + 5
            while inotify_watches(mbs.proc.pid) != (1, 4) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(inotify_watches(mbs.proc.pid), (1, 4))
            deliver(mbs.mail_root, "demo@example.test", MESSAGE.format("to-all"))
            deliver(mbs.mail_root, "demo@example.test", MESSAGE.format("to-work"), folder="Work")
            for r in clients:
                r.sock.settimeout(10)
                want = f"* {r.exists + 1} EXISTS"
                line = r.line()
                while line != want:
                    self.assertFalse(line.startswith("i "), line)
                    line = r.line()
            for r in clients:
                r.send("DONE\r\n")
                self.assertTrue(r.until("i")[1].startswith("i OK"))
            # selected folders stay watched (the sync before OK uses it)
            self.assertEqual(inotify_watches(mbs.proc.pid), (1, 4))
            for r in clients:
                self.assertTrue(r.cmd("u", "UNSELECT")[1].startswith("u OK"))
            deadline = time.monotonic() + 5
            while inotify_watches(mbs.proc.pid) != (1, 0) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(inotify_watches(mbs.proc.pid), (1, 0))
        finally:
            for r in clients:
                r.close()
            mbs.stop()
            authd.stop()


class PollAndRevalidate(unittest.TestCase):
    """mailbox_notify = poll, and revalidation alone (as on NFS, where no
    inotify event comes): IDLE still sees a delivery."""

    def run_idle(self, extra):
        authd = Authd()
        mbs = MbsDaemon(authd, name="mbs-poll", extra=extra)
        try:
            r = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            r.login()
            untagged, tagged = r.cmd("s", "SELECT INBOX")
            self.assertTrue(tagged.startswith("s OK"), tagged)
            n = [int(x.split()[1]) for x in untagged if x.endswith(" EXISTS")][-1]
            r.send("i IDLE\r\n")
            self.assertEqual(r.line(), "+ idling")
            time.sleep(0.3)
            deliver(mbs.mail_root, "demo@example.test", MESSAGE.format("poll"))
            r.sock.settimeout(5)
            self.assertEqual(r.line(), f"* {n + 1} EXISTS")
            r.send("DONE\r\n")
            self.assertTrue(r.until("i")[1].startswith("i OK"))
            r.close()
        finally:
            mbs.stop()
            authd.stop()

    def test_poll(self):
        self.run_idle("mailbox_notify = poll\nmailbox_poll_interval = 1s\n")

    def test_revalidate_only(self):
        # polling every hour, inotify off: only revalidation can see it
        self.run_idle("mailbox_notify = poll\nmailbox_poll_interval = 1h\n"
                      "mailbox_revalidate_interval = 1s\n")


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


class Proxy(unittest.TestCase):
    """PROXY protocol (HAProxy v1) on both listeners from a trusted network:
    the client address in the log and in authd's request is the one the
    header names."""

    def test_proxy_v1_both_listeners(self):
        authd = Authd()
        mbs = MbsDaemon(authd, name="mbs-proxy", proxy=True)
        try:
            for port, tls in ((mbs.imap_port, False), (mbs.imaps_port, True)):
                sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                sock.sendall(b"PROXY TCP4 192.0.2.99 192.0.2.1 40000 %d\r\n" % port)
                if tls:
                    sock = mbs.ssl_context().wrap_socket(sock)
                r = Raw.__new__(Raw)
                r.mbs, r.sock, r.buf = mbs, sock, b""
                self.assertTrue(r.line().startswith("* OK [CAPABILITY"))
                if not tls:
                    r.starttls()
                # authd is told the address too (its failure log shows it)
                self.assertTrue(r.login(password="bad").startswith("L NO"))
                self.assertTrue(r.login().startswith("L OK"))
                r.close()
            log = mbs.logtext()
            self.assertIn("imap-login: user=<demo@example.test> rip=192.0.2.99", log)
            self.assertNotIn("rip=127.0.0.1 method", log)
            wait_log(authd.log, "192.0.2.99")
        finally:
            mbs.stop()
            authd.stop()

    def test_proxy_header_required(self):
        authd = Authd()
        mbs = MbsDaemon(authd, name="mbs-proxy2", proxy=True)
        try:
            sock = socket.create_connection(("127.0.0.1", mbs.imap_port), timeout=TIMEOUT)
            sock.sendall(b"a CAPABILITY\r\n")
            sock.settimeout(TIMEOUT)
            data = b""
            try:
                while True:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            self.assertNotIn(b"a OK", data)
            sock.close()
        finally:
            mbs.stop()
            authd.stop()


class Reload(unittest.TestCase):
    def test_sighup_changes_hostname_and_keeps_sessions(self):
        authd = Authd()
        mbs = MbsDaemon(authd, name="mbs-reload", services=("imaps",))
        try:
            r = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            self.assertTrue(r.login().startswith("L OK"))
            with open(mbs.config) as f:
                text = f.read()
            with open(mbs.config, "w") as f:
                f.write(text.replace("hostname = imap.example.test",
                                     "hostname = imap2.example.test") +
                        "mailbox_revalidate_interval = 5s\n")
            offset = os.path.getsize(mbs.log)
            mbs.proc.send_signal(signal.SIGHUP)
            wait_log(mbs.log, "reloaded config=", mbs.proc, offset=offset)
            r2 = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            self.assertIn("imap2.example.test", r2.greeting)
            # the session from before goes on
            self.assertTrue(r.cmd("n", "NOOP")[1].startswith("n OK"))
            r.close()
            r2.close()
        finally:
            mbs.stop()
            authd.stop()


class LookupOutage(unittest.TestCase):
    def test_lookup_unreachable_after_auth(self):
        # the password checks out, the user lookup cannot be made
        authd = Authd()
        mbs = MbsDaemon(authd, name="mbs-lookup", services=("imaps",),
                        lookup=os.path.join(authd.tmp, "no-such-socket"))
        try:
            r = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            self.assertTrue(r.login().startswith("L NO [UNAVAILABLE]"))
            self.assertTrue(r.cmd("n", "NOOP")[1].startswith("n OK"))
            self.assertEqual(r.cmd("x", "NAMESPACE")[1], "x BAD Log in first")
            r.close()
            self.assertIn("imap-login: lookup tempfail user=<demo@example.test>", mbs.logtext())
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
            r3 = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            r3.login()
            r3.send("i IDLE\r\n")
            self.assertEqual(r3.line(), "+ idling")
            start = time.monotonic()
            mbs.proc.terminate()
            for r in (r1, r2, r3):
                self.assertEqual(r.line(), "* BYE Server shutting down")
                self.assertTrue(r.closed())
            mbs.proc.wait(timeout=TIMEOUT)
            self.assertLess(time.monotonic() - start, 3)
            self.assertEqual(mbs.proc.returncode, 0)
        finally:
            mbs.stop()
            authd.stop()

    def test_session_timeout_before_login_only(self):
        """session_timeout ends a connection that never logs in; after login
        imap_session_timeout (counted from the login) takes over."""
        authd = Authd()
        mbs = MbsDaemon(authd, name="mbs-session-timeout",
                        extra="session_timeout = 2s\nimap_session_timeout = 5s\n")
        try:
            anon = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            logged = Raw(mbs.imaps_port, tls=True, mbs=mbs)
            start = time.monotonic()
            self.assertTrue(logged.login().startswith("L OK"))
            logged.send("i IDLE\r\n")
            self.assertEqual(logged.line(), "+ idling")
            self.assertEqual(anon.line(), "* BYE Session time limit reached, please reconnect")
            self.assertTrue(anon.closed())
            # past the daemon's 2 s, the logged-in session still answers
            time.sleep(max(0.0, 3.0 - (time.monotonic() - start)))
            logged.send("DONE\r\n")
            self.assertTrue(logged.until("i")[1].startswith("i OK"))
            self.assertEqual(logged.line(), "* BYE Session time limit reached, please reconnect")
            self.assertGreater(time.monotonic() - start, 4.5)
            self.assertTrue(logged.closed())
        finally:
            mbs.stop()
            authd.stop()


if __name__ == "__main__":
    unittest.main()
