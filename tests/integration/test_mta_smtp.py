"""mailroom-mta's SMTP, submission and LMTP sessions and their policy,
driven by independent clients (Python smtplib/socket/ssl, swaks) against a
real mailroom-authd on a passwd-file backend. Accepted messages are looked
for in the queue (waiting or deferred) and in the Maildirs the queue
delivered them to, by the queue id in their Received: line."""
import atexit
import base64
import os
import re
import smtplib
import socket
import ssl
import subprocess
import unittest

from mtatest import Authd, MtaDaemon

TIMEOUT = 10
SIZE_LIMIT = 100 * 1024
MAX_RCPT = 3
MAX_ERRORS = 5
ENV = None


def message(queue_file):
    """The message in a queue file: after the envelope, before the trailer."""
    body = queue_file.split("\n\n", 1)[1]
    m = re.search(r"MRQ-END \d+\n\Z", body)
    return body[:m.start()] if m else body


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:  # delivered or moved meanwhile
        return None


class Mta(MtaDaemon):
    """The session tests' mta: every listener, small limits, and
    delivery_hold = yes so that what a session accepted stays in the queue
    where the test reads it (docs/queue.md has the file format)."""

    def __init__(self, authd, extra="", lookup=None):
        super().__init__(authd, services=("smtp", "submission", "submissions", "lmtp"),
                         lookup=lookup, limits=False,
                         extra=f"message_size_limit = {SIZE_LIMIT}\nmax_recipients = {MAX_RCPT}\n"
                               f"max_errors = {MAX_ERRORS}\nmasquerade_domains = example.test\n"
                               "delivery_hold = yes\n" + extra)

    def queued(self):
        """{queue id: queue file text} of every accepted message."""
        return {qid: data.decode("utf-8", "replace")
                for qid, data in self.queued_files().items()}


class Env:
    def __init__(self):
        self.authd = Authd()
        self.mta = Mta(self.authd)

    def stop(self):
        self.mta.stop()
        self.authd.stop()


def env():
    global ENV
    if ENV is None:
        ENV = Env()
        atexit.register(ENV.stop)
    return ENV


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(env().mta.cert)
    ctx.check_hostname = False
    return ctx


class Raw:
    """A plain socket speaking SMTP by hand, for what smtplib will not send."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def reply(self):
        """The whole (possibly multi-line) reply as a list of lines."""
        lines = [self.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.line())
        return lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()[-1]

    def closed(self):
        try:
            self.sock.settimeout(TIMEOUT)
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.sock.close()


def msg(subject="test", frm="demo@example.test", extra=""):
    return (f"From: {frm}\r\nTo: someone\r\nSubject: {subject}\r\n{extra}\r\nbody line\r\n")


class MxSession(unittest.TestCase):
    def setUp(self):
        self.mta = env().mta
        self.port = self.mta.ports["smtp"]

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=TIMEOUT)
        s.ehlo("client.example.net")
        return s

    def test_greeting_and_ehlo(self):
        r = Raw(self.port)
        self.assertTrue(r.greeting[0].startswith("220 mx.example.test ESMTP"), r.greeting)
        r.send("EHLO client.example.net\r\n")
        ext = [line[4:] for line in r.reply()]
        self.assertEqual(ext[0], "mx.example.test")
        for e in ("PIPELINING", f"SIZE {SIZE_LIMIT}", "8BITMIME", "ENHANCEDSTATUSCODES",
                  "SMTPUTF8", "CHUNKING", "DSN", "STARTTLS"):
            self.assertIn(e, ext)
        self.assertFalse(any(e.startswith("AUTH") for e in ext), "no AUTH on port 25")
        self.assertEqual(r.cmd("QUIT"), "221 2.0.0 mx.example.test Bye")
        r.close()

    def deliver(self, rcpt):
        s = self.smtp()
        before = set(self.mta.queued())
        code, text = s.mail("sender@remote.test")
        self.assertEqual((code, text), (250, b"2.1.0 Ok"))
        code, text = s.rcpt(rcpt)
        self.assertEqual((code, text), (250, b"2.1.5 Ok"), rcpt)
        code, text = s.data(msg())
        self.assertEqual(code, 250)
        self.assertRegex(text.decode(), r"^2\.0\.0 Ok: queued as \w+$")
        qid = text.decode().rsplit(" ", 1)[1]
        s.quit()
        queued = self.mta.queued()
        self.assertEqual(set(queued) - before, {qid})
        return queued[qid]

    def test_delivery_targets(self):
        for rcpt in ("demo@example.test", "info@example.test", "anyone@catch.test",
                     "demo@alias.test", "demo+news@example.test", "user@relay.test",
                     "Demo@EXAMPLE.test"):
            with self.subTest(rcpt=rcpt):
                q = self.deliver(rcpt)
                self.assertIn("\nsender sender@remote.test\n", q)
                self.assertIn("\nproto ESMTP\n", q)
                body = message(q)
                self.assertTrue(body.startswith("Received: from client.example.net ([127.0.0.1])\r\n"
                                                "\tby mx.example.test (Mailroom) with ESMTP id "), body)
                self.assertIn("\r\n\r\nbody line\r\n", body)
                self.assertNotIn("Message-ID:", body, "only submission adds Message-ID")

    def test_relay_refused_whatever_helo(self):
        for helo in ("client.example.net", "mx.example.test", "localhost", "[127.0.0.1]"):
            s = smtplib.SMTP("127.0.0.1", self.port, timeout=TIMEOUT)
            s.ehlo(helo)
            s.mail("demo@example.test")
            for rcpt in ("victim@remote.test", "x@[192.0.2.1]", "a@b.c.d"):
                code, text = s.rcpt(rcpt)
                self.assertEqual((code, text), (554, b"5.7.1 Relay access denied"), (helo, rcpt))
            s.quit()

    def test_unknown_user_and_alias_loop(self):
        s = self.smtp()
        s.mail("a@remote.test")
        self.assertEqual(s.rcpt("nobody@example.test")[0], 550)
        self.assertTrue(s.rcpt("nobody@example.test")[1].startswith(b"5.1.1 "))
        code, text = s.rcpt("loop1@example.test")
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.4.6 "), text)
        s.quit()

    def test_rcpt_over_quota(self):
        # demo has a 1 MiB quota (mtatest.USERS); its maildirsize says how
        # much is used. A full mailbox, or one the announced SIZE would
        # overfill, is refused at RCPT; the alias whose only target it is
        # too; room left gets 250.
        box = os.path.join(env().authd.mail_root, "example.test", "demo")
        os.makedirs(box, exist_ok=True)
        path = os.path.join(box, "maildirsize")
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        with open(path, "w") as f:
            f.write("1048576S\n1000000 10\n")
        s = self.smtp()
        s.mail("a@remote.test", ["SIZE=100000"])
        self.assertEqual(s.rcpt("demo@example.test"), (552, b"5.2.2 Mailbox full"))
        self.assertEqual(s.rcpt("info@example.test"), (552, b"5.2.2 Mailbox full"))
        s.rset()
        s.mail("a@remote.test", ["SIZE=1000"])
        self.assertEqual(s.rcpt("demo@example.test")[0], 250)
        s.rset()
        with open(path, "a") as f:
            f.write("48576 1\n")
        s.mail("a@remote.test")
        self.assertEqual(s.rcpt("demo@example.test"), (552, b"5.2.2 Mailbox full"))
        # team also has a remote target: accepted, delivery decides per target
        self.assertEqual(s.rcpt("team@example.test")[0], 250)
        s.quit()

    def test_too_many_recipients(self):
        s = self.smtp()
        s.mail("a@remote.test")
        for _ in range(MAX_RCPT):
            self.assertEqual(s.rcpt("demo@example.test")[0], 250)
        self.assertEqual(s.rcpt("demo@example.test"), (452, b"4.5.3 Too many recipients"))
        s.quit()

    def test_sequence_errors(self):
        r = Raw(self.port)
        self.assertEqual(r.cmd("MAIL FROM:<a@remote.test>"), "503 5.5.1 Bad sequence of commands")
        r.cmd("EHLO x.test")
        self.assertEqual(r.cmd("RCPT TO:<demo@example.test>"), "503 5.5.1 Bad sequence of commands")
        self.assertEqual(r.cmd("DATA"), "503 5.5.1 Bad sequence of commands")
        r.close()
        r = Raw(self.port)
        r.cmd("EHLO x.test")
        self.assertEqual(r.cmd("MAIL FROM:<a@remote.test>"), "250 2.1.0 Ok")
        self.assertEqual(r.cmd("MAIL FROM:<a@remote.test>"), "503 5.5.1 Bad sequence of commands")
        self.assertEqual(r.cmd("DATA"), "503 5.5.1 Bad sequence of commands")
        self.assertEqual(r.cmd("RSET"), "250 2.0.0 Ok")
        self.assertEqual(r.cmd("QUIT"), "221 2.0.0 mx.example.test Bye")
        r.close()

    def test_malformed_commands(self):
        r = Raw(self.port)
        self.assertEqual(r.cmd("EHLO"), "501 5.5.4 Syntax: EHLO hostname")
        self.assertEqual(r.cmd("HELO"), "501 5.5.4 Syntax: HELO hostname")
        r.close()
        r = Raw(self.port)
        r.cmd("EHLO x.test")
        cases = [
            ("FROBNICATE", "500 5.5.1"), ("M@IL FROM:<a@b.test>", "500 5.5.2"),
            ("MAIL TO:<a@b.test>", "501 5.5.4"), ("MAIL FROM:<a@>", "501 5.1.3"),
            ("MAIL FROM:<a b@c.test>", "501 5.1.3"), ("MAIL FROM:<a@b.test> FOO=bar", "555 5.5.4"),
            ("MAIL FROM:<a@b.test> SIZE=abc", "501 5.5.4"),
            ("MAIL FROM:<a@b.test> BODY=9BIT", "501 5.5.4"),
            ("MAIL FROM:<a@b.test>  SIZE=1", "501 5.5.4"),
            ("MAIL FROM:<ü@b.test>", "553 5.6.7"),
        ]
        for i, (line, want) in enumerate(cases):
            if i and i % (MAX_ERRORS - 1) == 0:
                r.close()
                r = Raw(self.port)
                r.cmd("EHLO x.test")
            self.assertTrue(r.cmd(line).startswith(want + " "), line)
        r.close()

    def test_bad_rcpt_params_and_dsn(self):
        s = self.smtp()
        s.mail("a@remote.test", ["RET=HDRS", "ENVID=abc123"])
        self.assertEqual(s.rcpt("demo@example.test", ["NOTIFY=NEVER,SUCCESS"])[0], 501)
        self.assertEqual(s.rcpt("demo@example.test", ["ORCPT=nosemicolon"])[0], 501)
        self.assertEqual(s.rcpt("demo@example.test", ["NOTIFY=SUCCESS,FAILURE",
                                                      "ORCPT=rfc822;demo@example.test"])[0], 250)
        code, text = s.data(msg())
        self.assertEqual(code, 250)
        q = self.mta.queued()[text.decode().rsplit(" ", 1)[1]]
        self.assertIn("\nrcpt pending 6 demo@example.test orcpt=rfc822;demo@example.test\n", q)
        self.assertIn("\nret HDRS\nenvid abc123\n", q)
        s.quit()

    def test_long_line(self):
        r = Raw(self.port)
        self.assertEqual(r.cmd("NOOP " + "x" * 1000), "500 5.5.2 Line too long")
        self.assertEqual(r.cmd("NOOP " + "x" * 70000), "500 5.5.2 Line too long")
        self.assertEqual(r.cmd("NOOP"), "250 2.0.0 Ok")
        r.close()

    def test_too_many_errors(self):
        r = Raw(self.port)
        for _ in range(MAX_ERRORS - 1):
            self.assertEqual(r.cmd("BOGUS"), "500 5.5.1 Command unrecognized")
        r.send("BOGUS\r\n")
        self.assertEqual(r.line(), "500 5.5.1 Command unrecognized")
        self.assertEqual(r.line(), "421 4.7.0 mx.example.test Too many errors, closing connection")
        self.assertTrue(r.closed())

    def test_vrfy_help_noop(self):
        r = Raw(self.port)
        self.assertEqual(r.cmd("VRFY demo@example.test")[:10], "252 2.5.0 ")
        self.assertTrue(r.cmd("HELP").startswith("214 2.0.0 "))
        self.assertEqual(r.cmd("NOOP"), "250 2.0.0 Ok")
        r.close()

    def test_size(self):
        s = self.smtp()
        code, text = s.mail("a@remote.test", [f"SIZE={SIZE_LIMIT + 1}"])
        self.assertEqual((code, text[:6]), (552, b"5.3.4 "))
        self.assertEqual(s.mail("a@remote.test", ["SIZE=1000"])[0], 250)
        s.rcpt("demo@example.test")
        before = set(self.mta.queued())
        code, text = s.data(msg() + ("x" * 998 + "\r\n") * (SIZE_LIMIT // 1000 + 1))
        self.assertEqual((code, text[:6]), (552, b"5.3.4 "))
        self.assertEqual(set(self.mta.queued()), before)
        self.assertEqual(s.noop()[0], 250)
        s.quit()

    def test_dot_unstuffing_and_crlf(self):
        s = self.smtp()
        s.mail("a@remote.test")
        s.rcpt("demo@example.test")
        code, text = s.data("Subject: dots\r\n\r\n.leading\r\n..two\r\nend\r\n")
        self.assertEqual(code, 250)
        q = self.mta.queued()[text.decode().rsplit(" ", 1)[1]]
        self.assertIn("\r\n\r\n.leading\r\n..two\r\nend\r\n", q)   # smtplib stuffed, we unstuffed
        s.quit()

    def test_bdat(self):
        r = Raw(self.port)
        r.cmd("EHLO x.test")
        r.cmd("MAIL FROM:<a@remote.test> BODY=8BITMIME")
        r.cmd("RCPT TO:<demo@example.test>")
        part1 = b"Subject: chunks\r\n\r\nfirst "
        part2 = "caf\u00e9\r\n.\r\nend\r\n".encode()
        r.send(b"BDAT %d\r\n" % len(part1) + part1)
        self.assertEqual(r.reply()[-1], "250 2.0.0 %d octets received" % len(part1))
        r.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        last = r.reply()[-1]
        self.assertRegex(last, r"^250 2\.0\.0 Ok: queued as \w+$")
        q = self.mta.queued()[last.rsplit(" ", 1)[1]]
        self.assertIn("\n8bitmime 1\n", q)
        self.assertTrue(message(q).endswith("\r\n\r\nfirst caf\u00e9\r\n.\r\nend\r\n"), q[-80:])
        # BDAT out of sequence: the chunk is read (never run as commands)
        r.send(b"BDAT 6\r\nNOOP\r\n")
        self.assertEqual(r.reply()[-1], "503 5.5.1 Bad sequence of commands")
        self.assertEqual(r.cmd("QUIT"), "221 2.0.0 mx.example.test Bye")
        r.close()

    def test_bdat_bare_lf_refused(self):
        r = Raw(self.port)
        r.cmd("EHLO x.test")
        r.cmd("MAIL FROM:<a@remote.test>")
        r.cmd("RCPT TO:<demo@example.test>")
        body = b"Subject: x\r\n\r\nbare\nlf\r\n"
        r.send(b"BDAT %d LAST\r\n" % len(body) + body)
        self.assertEqual(r.reply()[-1][:10], "550 5.5.2 ")
        r.close()

    def test_smtputf8(self):
        r = Raw(self.port)
        r.cmd("EHLO x.test")
        self.assertEqual(r.cmd("MAIL FROM:<\u00fc@remote.test> SMTPUTF8"), "250 2.1.0 Ok")
        r.close()

    def test_disk_full(self):
        # More free space demanded than any disk has: the queue is "full".
        mta = Mta(env().authd, extra="queue_min_free_space = 1000000T\n")
        try:
            s = smtplib.SMTP("127.0.0.1", mta.ports["smtp"], timeout=TIMEOUT)
            s.ehlo("x.test")
            s.mail("a@remote.test")
            s.rcpt("demo@example.test")
            self.assertEqual(s.docmd("DATA"), (452, b"4.3.1 Insufficient system storage"))
            s.quit()
        finally:
            mta.stop()

    def test_swaks(self):
        out = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.port),
                              "--from", "x@remote.test", "--to", "demo@example.test",
                              "--helo", "swaks.test"], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertRegex(out.stdout, r"<-  250 2\.0\.0 Ok: queued as \w+")


# Each sends "<before>" "MAIL FROM..." after the body: a server that takes
# the variant as the end of data would run the smuggled transaction.
SMUGGLING = {
    "lf_dot_lf": b"\n.\n",
    "lf_dot_crlf": b"\n.\r\n",
    "crlf_dot_lf": b"\r\n.\n",
    "cr_dot_crlf": b"\r.\r\n",
    "crlf_dot_cr": b"\r\n.\r",
    "cr_dot_cr": b"\r.\r",
    "lf_dot_cr": b"\n.\r",
    "crlf_dot_cr_lf_lf": b"\r\n.\r\r\n",
}


class Smuggling(unittest.TestCase):
    def test_variants(self):
        mta = env().mta
        for name, end in SMUGGLING.items():
            with self.subTest(variant=name):
                r = Raw(mta.ports["smtp"])
                r.cmd("EHLO x.test")
                r.cmd("MAIL FROM:<a@remote.test>")
                r.cmd("RCPT TO:<demo@example.test>")
                self.assertEqual(r.cmd("DATA")[:3], "354")
                before = set(mta.queued())
                r.send(b"Subject: outer\r\n\r\nhello" + end +
                       b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<demo@example.test>\r\n"
                       b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
                reply = r.reply()
                # one reply for the whole thing: the outer message, refused
                self.assertEqual(reply[-1][:10], "550 5.5.2 ", (name, reply))
                self.assertEqual(r.cmd("NOOP"), "250 2.0.0 Ok")
                self.assertEqual(set(mta.queued()), before)
                r.close()

    def test_bare_lf_in_command(self):
        r = Raw(env().mta.ports["smtp"])
        r.send("EHLO x.test\nNOOP\r\n")
        self.assertEqual(r.reply()[-1], "500 5.5.2 Bare <CR> or <LF> in command")
        r.close()


class StartTls(unittest.TestCase):
    def test_pipelined_injection_discarded(self):
        mta = env().mta
        r = Raw(mta.ports["smtp"])
        r.cmd("EHLO x.test")
        r.send("STARTTLS\r\nMAIL FROM:<inject@remote.test>\r\nQUIT\r\n")
        self.assertEqual(r.line(), "220 2.0.0 Ready to start TLS")
        r.sock = client_ctx().wrap_socket(r.sock, server_hostname="mx.example.test")
        # the injected MAIL and QUIT must be gone: state is fresh
        self.assertEqual(r.cmd("MAIL FROM:<a@remote.test>"), "503 5.5.1 Bad sequence of commands")
        r.send("EHLO x.test\r\n")
        ext = [line[4:] for line in r.reply()]
        self.assertNotIn("STARTTLS", ext)
        self.assertEqual(r.cmd("STARTTLS"), "503 5.5.1 TLS already active")
        r.close()

    def test_received_shows_tls(self):
        mta = env().mta
        s = smtplib.SMTP("127.0.0.1", mta.ports["smtp"], timeout=TIMEOUT)
        s.starttls(context=client_ctx())
        s.ehlo("tls.example.net")
        s.mail("a@remote.test")
        s.rcpt("demo@example.test")
        code, text = s.data(msg())
        self.assertEqual(code, 250)
        q = mta.queued()[text.decode().rsplit(" ", 1)[1]]
        self.assertRegex(q, r"with ESMTPS id \w+\r\n\t\(using TLSv1\.[23] with cipher \S+\)")
        s.quit()


def plain_b64(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


class Submission(unittest.TestCase):
    def setUp(self):
        self.mta = env().mta
        self.port = self.mta.ports["submission"]

    def tls_session(self):
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=TIMEOUT)
        s.starttls(context=client_ctx())
        s.ehlo("laptop")
        return s

    def test_before_tls(self):
        r = Raw(self.port)
        r.send("EHLO laptop\r\n")
        ext = [line[4:] for line in r.reply()]
        self.assertIn("STARTTLS", ext)
        self.assertFalse(any(e.startswith("AUTH") for e in ext))
        self.assertEqual(r.cmd("AUTH PLAIN " + plain_b64("demo@example.test", "demo")),
                         "530 5.7.0 Must issue a STARTTLS command first")
        self.assertEqual(r.cmd("MAIL FROM:<demo@example.test>"),
                         "530 5.7.0 Must issue a STARTTLS command first")
        r.close()

    def test_auth_required_after_tls(self):
        s = self.tls_session()
        self.assertIn("PLAIN", s.esmtp_features["auth"])
        self.assertEqual(s.mail("demo@example.test"), (530, b"5.7.0 Authentication required"))
        s.close()

    def send_after_login(self, s, rcpt="friend@remote.test", frm="demo@example.test"):
        self.assertEqual(s.mail(frm), (250, b"2.1.0 Ok"))
        self.assertEqual(s.rcpt(rcpt)[0], 250)
        return s.data(msg(frm=frm))

    def test_plain_and_relay(self):
        s = self.tls_session()
        s.login("demo@example.test", "demo")   # smtplib picks PLAIN first... or LOGIN
        code, text = self.send_after_login(s)
        self.assertEqual(code, 250)
        q = self.mta.queued()[text.decode().rsplit(" ", 1)[1]]
        self.assertIn("\nauth demo@example.test\n", q)
        self.assertIn("(authenticated as demo@example.test)", q)
        self.assertIn("with ESMTPSA id", q)
        self.assertRegex(q, r"\r\nMessage-ID: <[^>]+@mx\.example\.test>\r\n")
        self.assertIn("\r\nDate: ", q)
        s.quit()

    def test_auth_plain_explicit(self):
        s = self.tls_session()
        code, text = s.docmd("AUTH", "PLAIN " + plain_b64("demo@example.test", "demo"))
        self.assertEqual((code, text), (235, b"2.7.0 Authentication successful"))
        self.assertEqual(s.docmd("AUTH", "PLAIN x"), (503, b"5.5.1 Already authenticated"))
        s.quit()

    def test_auth_plain_without_initial_response(self):
        s = self.tls_session()
        self.assertEqual(s.docmd("AUTH", "PLAIN"), (334, b""))
        self.assertEqual(s.docmd(plain_b64("demo@example.test", "demo"))[0], 235)
        s.quit()

    def test_auth_login(self):
        s = self.tls_session()
        code, text = s.docmd("AUTH", "LOGIN")
        self.assertEqual((code, base64.b64decode(text)), (334, b"Username:"))
        code, text = s.docmd(base64.b64encode(b"demo@example.test").decode())
        self.assertEqual((code, base64.b64decode(text)), (334, b"Password:"))
        self.assertEqual(s.docmd(base64.b64encode(b"demo").decode())[0], 235)
        self.assertEqual(self.send_after_login(s, rcpt="demo@example.test")[0], 250)
        s.quit()

    def test_auth_failures(self):
        s = self.tls_session()
        self.assertEqual(s.docmd("AUTH", "PLAIN " + plain_b64("demo@example.test", "wrong")),
                         (535, b"5.7.8 Authentication credentials invalid"))
        self.assertEqual(s.docmd("AUTH", "CRAM-MD5")[0], 504)
        self.assertEqual(s.docmd("AUTH", "LOGIN")[0], 334)
        self.assertEqual(s.docmd("*"), (501, b"5.7.0 Authentication aborted"))
        s.close()

    def test_sender_login_mismatch(self):
        s = self.tls_session()
        s.login("demo@example.test", "demo")
        code, text = s.mail("other@other.test")
        self.assertEqual((code, text[:6]), (553, b"5.7.1 "))
        # an alias of the login is fine
        self.assertEqual(s.mail("info@example.test")[0], 250)
        s.rset()
        # the From: header is checked too
        s.mail("demo@example.test")
        s.rcpt("friend@remote.test")
        before = set(self.mta.queued())
        code, text = s.data(msg(frm="Boss <other@other.test>"))
        self.assertEqual((code, text[:6]), (553, b"5.7.1 "))
        self.assertEqual(set(self.mta.queued()), before)
        s.quit()

    def test_masquerade(self):
        # masquerade_domains = example.test: a sender in a subdomain of it is
        # rewritten, in the envelope and in From:/Sender:/Reply-To:. The
        # ownership checks see what the client gave (host.example.test is
        # an alias domain of example.test, so demo owns the address).
        s = self.tls_session()
        s.login("demo@example.test", "demo")
        s.mail("demo@host.example.test")
        s.rcpt("friend@remote.test")
        before = set(self.mta.queued())
        extra = ("Sender: Demo <demo@Host.Example.Test>\r\n"
                 "Reply-To: a@x.host.example.test,\r\n b@host.example.test.\r\n"
                 "Cc: c@host.example.test\r\n")
        code, text = s.data(msg(frm="\"Demo @host.example.test\" <demo@host.example.test>",
                                extra=extra))
        self.assertEqual(code, 250, text)
        s.quit()
        (qid,) = set(self.mta.queued()) - before
        q = self.mta.queued()[qid]
        self.assertIn("\nsender demo@example.test\n", q)
        self.assertIn('From: "Demo @host.example.test" <demo@example.test>\r\n', q)
        self.assertIn("Sender: Demo <demo@example.test>\r\n", q)
        self.assertIn("Reply-To: a@example.test,\r\n b@example.test.\r\n", q)
        self.assertIn("Cc: c@host.example.test\r\n", q)   # recipients are not rewritten
        self.assertNotIn("demo@host.example.test>", q)

    def test_submissions_465(self):
        s = smtplib.SMTP_SSL("127.0.0.1", self.mta.ports["submissions"], timeout=TIMEOUT,
                             context=client_ctx())
        s.ehlo("phone")
        self.assertNotIn("starttls", s.esmtp_features)
        s.login("demo@example.test", "demo")
        code, text = self.send_after_login(s)
        self.assertEqual(code, 250)
        s.quit()


class Lmtp(unittest.TestCase):
    def test_lmtp_replies_per_recipient_after_delivery(self):
        mta = env().mta
        r = Raw(mta.ports["lmtp"])
        self.assertTrue(r.greeting[0].startswith("220 mx.example.test LMTP"))
        self.assertEqual(r.cmd("EHLO x"), "500 5.5.1 Command unrecognized")
        r.send("LHLO x\r\n")
        self.assertIn("250 DSN", r.reply())
        r.cmd("MAIL FROM:<a@remote.test>")
        self.assertEqual(r.cmd("RCPT TO:<demo@example.test>"), "250 2.1.5 Ok")
        self.assertEqual(r.cmd("RCPT TO:<info@example.test>"), "250 2.1.5 Ok")
        self.assertEqual(r.cmd("RCPT TO:<x@remote.test>"), "554 5.7.1 Relay access denied")
        r.cmd("DATA")
        r.send("Subject: lmtp-per-rcpt\r\n\r\nhi\r\n.\r\n")
        # RFC 2033 4.2: one reply per accepted recipient, in order.
        self.assertRegex(r.line(), r"^250 2\.\d\.\d <demo@example\.test> ")
        self.assertRegex(r.line(), r"^250 2\.\d\.\d <info@example\.test> ")
        self.assertEqual(r.cmd("NOOP"), "250 2.0.0 Ok")
        r.close()
        # Both copies are in the mailbox already: the 250s came after delivery.
        delivered = []
        for root, _d, files in os.walk(env().authd.mail_root):
            for name in files:
                if "lmtp-per-rcpt" in (read_text(os.path.join(root, name)) or ""):
                    delivered.append(root)
        self.assertEqual(len(delivered), 2, delivered)

    def test_lmtp_with_smtplib(self):
        mta = env().mta
        lmtp = smtplib.LMTP("127.0.0.1", mta.ports["lmtp"], timeout=TIMEOUT)
        try:
            refused = lmtp.sendmail("a@remote.test", ["demo@example.test", "nobody@example.test"],
                                    b"Subject: lmtp-smtplib\r\n\r\nbody\r\n")
        except smtplib.SMTPRecipientsRefused as e:
            self.fail(f"all refused: {e.recipients}")
        finally:
            lmtp.quit()
        self.assertEqual(list(refused), ["nobody@example.test"])
        self.assertEqual(refused["nobody@example.test"][0], 550)


class AuthdOutage(unittest.TestCase):
    """authd unreachable: recipients get 451 4.3.0, never 550."""

    def test_tempfail(self):
        e = env()
        mta = Mta(e.authd, lookup=os.path.join(e.authd.tmp, "no-such-socket"))
        try:
            s = smtplib.SMTP("127.0.0.1", mta.ports["smtp"], timeout=TIMEOUT)
            s.ehlo("x.test")
            s.mail("a@remote.test")
            code, text = s.rcpt("demo@example.test")
            self.assertEqual((code, text[:6]), (451, b"4.3.0 "))
            s.quit()
        finally:
            mta.stop()


class RateLimit(unittest.TestCase):
    def test_per_address(self):
        e = env()
        # Mta() itself connects once to see the port open
        mta = Mta(e.authd, extra="rate_limit_per_minute = 4\n")
        try:
            for _ in range(3):
                r = Raw(mta.ports["smtp"])
                self.assertEqual(r.greeting[0][:3], "220")
                r.close()
            r = Raw(mta.ports["smtp"])
            self.assertEqual(r.greeting[0][:10], "421 4.7.0 ")
            self.assertTrue(r.closed())
        finally:
            mta.stop()


if __name__ == "__main__":
    unittest.main()
