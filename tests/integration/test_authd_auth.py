"""mailroom-authd's Dovecot-compatible auth protocol and saslauthd protocol,
driven by independent clients: Python sockets speaking the Dovecot protocol
by hand, Debian's Postfix (smtpd_sasl_type = dovecot) with smtplib in front,
and testsaslauthd from sasl2-bin."""
import atexit
import base64
import os
import shutil
import signal
import smtplib
import ssl
import struct
import subprocess
import tempfile
import time
import unittest

import authdtest
from mrtest import BUILDDIR, free_port, make_cert, wait_path, wait_port

AUTHD = os.path.join(BUILDDIR, "authd", "mailroom-authd")
TIMEOUT = 10
PENALTY_BASE_MS = 100
USERS = [
    "demo@example.test:{PLAIN}demo",
    "off@example.test:{PLAIN}off::::::active=no",
    "imaponly@example.test:{PLAIN}imap::::::services=imap",
]
SERVER = None


def b64(data):
    return base64.b64encode(data).decode()


class Authd:
    """One mailroom-authd in the foreground on a passwd-file in a temp dir,
    with an auth socket and a saslauthd socket other users may reach
    (Postfix's smtpd runs as user postfix)."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mr-authd-auth-")
        os.chmod(self.tmp, 0o755)
        self.auth = os.path.join(self.tmp, "auth")
        self.saslauthd = os.path.join(self.tmp, "saslauthd")
        self.log = os.path.join(self.tmp, "log")
        users = os.path.join(self.tmp, "users")
        with open(users, "w") as f:
            f.write("\n".join(USERS) + "\n")
        config = os.path.join(self.tmp, "authd.conf")
        with open(config, "w") as f:
            f.write(f"listen = {self.auth} service=auth mode=0666\n"
                    f"listen = {self.saslauthd} service=saslauthd mode=0666\n"
                    "user =\nlog_dest = stderr\nlog_level = debug\n"
                    f"backend = passwd-file\npasswd_file = {users}\n"
                    f"penalty_base = {PENALTY_BASE_MS}\npenalty_max = 2000\n")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([AUTHD, "--foreground", "--config", config],
                                         stdout=log, stderr=log)
        wait_path(self.auth)
        wait_path(self.saslauthd)
        self.wait_log("started listeners=")

    def wait_log(self, text):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"authd exited: {self.read_log()}")
            if text in self.read_log():
                return
            time.sleep(0.05)
        raise TimeoutError(f"{text!r} not logged in {self.log}")

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def server():
    """The shared daemon (taprun loads the file without module fixtures)."""
    global SERVER
    if SERVER is None:
        SERVER = Authd()
        atexit.register(SERVER.stop)
    return SERVER


class AuthClient(authdtest.AuthClient):
    """The Dovecot auth client protocol by hand, to the shared daemon."""

    def __init__(self, handshake=True):
        super().__init__(server().auth, handshake)

    def closed(self):
        """True when the server closes the connection (any unread data aside)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True


plain = authdtest.plain


class Handshake(unittest.TestCase):
    def test_server_handshake(self):
        c = AuthClient()
        lines = c.server_handshake
        self.assertEqual(lines[0], "VERSION\t1\t2")
        self.assertIn("MECH\tPLAIN\tplaintext", lines)
        self.assertIn("MECH\tLOGIN\tplaintext", lines)
        fields = dict(line.split("\t", 1) for line in lines[1:-1] if not line.startswith("MECH"))
        self.assertTrue(fields["SPID"].isdigit())
        self.assertEqual(fields["SPID"], str(server().proc.pid))
        self.assertTrue(fields["CUID"].isdigit())
        self.assertRegex(fields["COOKIE"], r"^[0-9a-f]{32}$")
        self.assertEqual(lines[-1], "DONE")
        c.close()

    def test_cookies_differ(self):
        a, b = AuthClient(), AuthClient()
        cookie = [next(l for l in c.server_handshake if l.startswith("COOKIE")) for c in (a, b)]
        self.assertNotEqual(cookie[0], cookie[1])
        a.close()
        b.close()

    def test_trickle(self):
        """The whole client side one byte at a time."""
        c = AuthClient(handshake=False)
        data = ("VERSION\t1\t2\nCPID\t1\nAUTH\t5\tPLAIN\tservice=smtp\tsecured\t"
                + plain("demo@example.test", "demo") + "\n").encode()
        for i in range(len(data)):
            c.sock.sendall(data[i:i + 1])
        c.read_handshake()
        self.assertEqual(c.line(), "OK\t5\tuser=demo@example.test")
        c.close()


class Mechanisms(unittest.TestCase):
    def setUp(self):
        self.c = AuthClient()

    def tearDown(self):
        self.c.close()

    def test_plain_initial_response(self):
        self.c.auth(1, "PLAIN", plain("demo@example.test", "demo"), "rip=192.0.2.1", "lip=127.0.0.1")
        self.assertEqual(self.c.line(), "OK\t1\tuser=demo@example.test")

    def test_plain_via_cont(self):
        self.c.auth(2, "PLAIN")
        self.assertEqual(self.c.line(), "CONT\t2\t")
        self.c.send("CONT\t2\t" + b64(b"\0demo@example.test\0demo"))
        self.assertEqual(self.c.line(), "OK\t2\tuser=demo@example.test")

    def test_login_two_rounds(self):
        self.c.auth(3, "LOGIN")
        self.assertEqual(self.c.line(), "CONT\t3\t" + b64(b"Username:"))
        self.c.send("CONT\t3\t" + b64(b"demo@example.test"))
        self.assertEqual(self.c.line(), "CONT\t3\t" + b64(b"Password:"))
        self.c.send("CONT\t3\t" + b64(b"demo"))
        self.assertEqual(self.c.line(), "OK\t3\tuser=demo@example.test")

    def test_mechanism_name_any_case(self):
        self.c.auth(4, "plain", plain("demo@example.test", "demo"))
        self.assertEqual(self.c.line(), "OK\t4\tuser=demo@example.test")

    def test_plaintext_needs_secured(self):
        self.c.auth(5, "PLAIN", plain("demo@example.test", "demo"), secured=False)
        line = self.c.line()
        self.assertTrue(line.startswith("FAIL\t5\treason="), line)

    def test_unsupported_mechanism(self):
        self.c.auth(6, "CRAM-MD5")
        self.assertEqual(self.c.line(), "FAIL\t6\treason=Unsupported authentication mechanism")

    def test_authzid_other_user_refused(self):
        self.c.auth(7, "PLAIN", "resp=" + b64(b"off@example.test\0demo@example.test\0demo"))
        self.assertEqual(self.c.line(), "FAIL\t7")

    def test_client_abort(self):
        self.c.auth(8, "LOGIN")
        self.c.line()
        self.c.send("CONT\t8\t*")
        self.assertTrue(self.c.line().startswith("FAIL\t8\treason="))


class Failures(unittest.TestCase):
    """Failed logins: one answer for every cause, delayed by the penalty
    of the client address (each test its own rip)."""

    def timed_fail(self, c, rid, resp, rip, service="smtp"):
        start = time.monotonic()
        c.auth(rid, "PLAIN", resp, "rip=" + rip, service=service)
        line = c.line()
        return line, time.monotonic() - start

    def test_delay_grows(self):
        c = AuthClient()
        delays = []
        for i in range(3):
            line, took = self.timed_fail(c, 10 + i, plain("demo@example.test", "wrong"), "192.0.2.20")
            self.assertEqual(line, f"FAIL\t{10 + i}")
            delays.append(took)
        base = PENALTY_BASE_MS / 1000
        self.assertGreaterEqual(delays[0], base * 0.9, delays)
        self.assertGreater(delays[1], delays[0] + base * 0.5, delays)
        self.assertGreater(delays[2], delays[1] + base, delays)
        # A success from that address clears the record.
        c.auth(13, "PLAIN", plain("demo@example.test", "demo"), "rip=192.0.2.20")
        self.assertEqual(c.line(), "OK\t13\tuser=demo@example.test")
        line, took = self.timed_fail(c, 14, plain("demo@example.test", "wrong"), "192.0.2.20")
        self.assertLess(took, delays[2])
        c.close()

    def test_unknown_user_same_as_wrong_password(self):
        c = AuthClient()
        wrong, _ = self.timed_fail(c, 20, plain("demo@example.test", "wrong"), "192.0.2.21")
        unknown, _ = self.timed_fail(c, 20, plain("nobody@example.test", "demo"), "192.0.2.22")
        self.assertEqual(wrong, "FAIL\t20")
        self.assertEqual(unknown, wrong)
        c.close()

    def test_disabled_user(self):
        c = AuthClient()
        line, _ = self.timed_fail(c, 30, plain("off@example.test", "off"), "192.0.2.23")
        # the right password: it may know why (Dovecot's code)
        self.assertEqual(line, "FAIL\t30\tcode=user_disabled")
        # a wrong one learns nothing
        line, _ = self.timed_fail(c, 33, plain("off@example.test", "wrong"), "192.0.2.23")
        self.assertEqual(line, "FAIL\t33")
        c.close()

    def test_service_not_enabled(self):
        c = AuthClient()
        line, _ = self.timed_fail(c, 31, plain("imaponly@example.test", "imap"), "192.0.2.24")
        self.assertEqual(line, "FAIL\t31\tcode=user_disabled")
        c.auth(32, "PLAIN", plain("imaponly@example.test", "imap"), service="imap")
        self.assertEqual(c.line(), "OK\t32\tuser=imaponly@example.test")
        c.close()

    def test_failures_logged_for_fail2ban(self):
        c = AuthClient()
        self.timed_fail(c, 40, plain("demo@example.test", "wrong"), "192.0.2.25")
        c.close()
        server().wait_log("rip=192.0.2.25")
        self.assertNotIn("wrong", [w for line in server().read_log().splitlines()
                                   if "192.0.2.25" in line for w in line.split()])


class Pipelining(unittest.TestCase):
    def test_many_ids_at_once(self):
        """Ten requests in one write; the failures (from an address with a
        penalty) are answered late without holding the successes back.
        The successes carry no rip: a success would clear the record."""
        c = AuthClient()
        good = plain("demo@example.test", "demo")
        bad = plain("demo@example.test", "nope") + "\trip=192.0.2.30"
        ids = list(range(100, 110))
        failing = {i for i in ids if i % 3 == 0}
        c.send("\n".join(f"AUTH\t{i}\tPLAIN\tservice=smtp\tsecured\t" + (bad if i in failing else good)
                         for i in ids))
        replies = [c.line() for _ in ids]
        self.assertEqual(sorted(int(r.split("\t")[1]) for r in replies), ids)
        for r in replies:
            i = int(r.split("\t")[1])
            self.assertEqual(r, f"FAIL\t{i}" if i in failing else f"OK\t{i}\tuser=demo@example.test")
        oks = len(ids) - len(failing)
        self.assertTrue(all(r.startswith("OK") for r in replies[:oks]), replies)
        c.close()

    def test_interleaved_cont(self):
        c = AuthClient()
        c.auth(1, "LOGIN")
        c.auth(2, "LOGIN")
        self.assertEqual(sorted([c.line(), c.line()]),
                         ["CONT\t1\t" + b64(b"Username:"), "CONT\t2\t" + b64(b"Username:")])
        c.send("CONT\t2\t" + b64(b"demo@example.test"))
        self.assertEqual(c.line(), "CONT\t2\t" + b64(b"Password:"))
        c.send("CONT\t1\t" + b64(b"demo@example.test"))
        self.assertEqual(c.line(), "CONT\t1\t" + b64(b"Password:"))
        c.send("CONT\t1\t" + b64(b"demo"))
        self.assertEqual(c.line(), "OK\t1\tuser=demo@example.test")
        c.send("CONT\t2\t" + b64(b"demo"))
        self.assertEqual(c.line(), "OK\t2\tuser=demo@example.test")
        c.close()


class Malformed(unittest.TestCase):
    """Answered with FAIL for the id where there is one; otherwise a logged
    protocol error and a disconnect. The daemon keeps serving."""

    def tearDown(self):
        c = AuthClient()
        c.auth(99, "PLAIN", plain("demo@example.test", "demo"))
        self.assertEqual(c.line(), "OK\t99\tuser=demo@example.test")
        c.close()

    def assert_disconnects(self, text, handshake=True):
        c = AuthClient(handshake=handshake)
        c.sock.sendall(text.encode() if isinstance(text, str) else text)
        self.assertTrue(c.closed(), text)
        c.close()

    def test_unknown_command(self):
        self.assert_disconnects("BOGUS\t1\n")

    def test_command_before_version(self):
        self.assert_disconnects("AUTH\t1\tPLAIN\tservice=smtp\n", handshake=False)

    def test_wrong_major_version(self):
        self.assert_disconnects("VERSION\t2\t0\n", handshake=False)

    def test_bad_ids(self):
        for line in ("AUTH\tx\tPLAIN\tservice=smtp\n", "AUTH\t-1\tPLAIN\tservice=smtp\n",
                     "AUTH\t4294967296\tPLAIN\tservice=smtp\n", "CONT\tabc\tAAAA\n",
                     "AUTH\t1\n", "AUTH\t1\tPLAIN\n", "AUTH\t1\tPLAIN\tservice=smtp\trip=nope\n"):
            self.assert_disconnects(line)

    def test_duplicate_id(self):
        self.assert_disconnects("AUTH\t7\tLOGIN\tservice=smtp\tsecured\n"
                                "AUTH\t7\tLOGIN\tservice=smtp\tsecured\n")

    def test_overlong_line(self):
        self.assert_disconnects("AUTH\t1\tPLAIN\tservice=smtp\tresp=" + "A" * 20000 + "\n")

    def test_nul_byte(self):
        self.assert_disconnects(b"AUTH\t1\tPLAIN\tservice=sm\0tp\n")

    def test_bad_base64(self):
        c = AuthClient()
        c.auth(1, "PLAIN", "resp=AGRlbW8=AGRlbW8=")
        self.assertEqual(c.line(), "FAIL\t1\treason=Invalid base64 data in initial response")
        c.auth(2, "PLAIN")
        self.assertEqual(c.line(), "CONT\t2\t")
        c.send("CONT\t2\t!!not base64")
        self.assertEqual(c.line(), "FAIL\t2\treason=Invalid base64 data in continued response")
        # The request is gone afterwards.
        c.send("CONT\t2\t" + b64(b"\0demo@example.test\0demo"))
        self.assertTrue(c.line().startswith("FAIL\t2\treason="))
        c.close()

    def test_cont_for_unknown_id(self):
        c = AuthClient()
        c.send("CONT\t55\tAAAA")
        self.assertTrue(c.line().startswith("FAIL\t55\treason="))
        c.close()

    def test_plain_without_separators(self):
        c = AuthClient()
        c.auth(3, "PLAIN", "resp=" + b64(b"demo@example.test"))
        self.assertEqual(c.line(), "FAIL\t3")
        c.close()


class Saslauthd(unittest.TestCase):
    """testsaslauthd from sasl2-bin, and the wire format by hand."""

    def run_testsaslauthd(self, *args):
        exe = shutil.which("testsaslauthd") or "/usr/sbin/testsaslauthd"
        if not os.path.exists(exe):
            self.skipTest("testsaslauthd (sasl2-bin) is not installed")
        return subprocess.run([exe, "-f", server().saslauthd, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)

    def test_ok(self):
        r = self.run_testsaslauthd("-u", "demo@example.test", "-p", "demo", "-s", "smtp")
        self.assertEqual(r.stdout.strip(), '0: OK "Success."')
        self.assertEqual(r.returncode, 0)

    def test_realm_as_domain(self):
        r = self.run_testsaslauthd("-u", "demo", "-r", "example.test", "-p", "demo", "-s", "imap")
        self.assertEqual(r.stdout.strip(), '0: OK "Success."')

    def test_wrong_password(self):
        r = self.run_testsaslauthd("-u", "demo@example.test", "-p", "wrong", "-s", "smtp")
        self.assertTrue(r.stdout.startswith("0: NO "), r.stdout)

    def test_disabled_and_service(self):
        for user, pw in (("off@example.test", "off"), ("imaponly@example.test", "imap")):
            r = self.run_testsaslauthd("-u", user, "-p", pw, "-s", "smtp")
            self.assertTrue(r.stdout.startswith("0: NO "), r.stdout)

    def raw(self, data, trickle=False):
        import socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT)
            s.connect(server().saslauthd)
            if trickle:
                for i in range(len(data)):
                    s.sendall(data[i:i + 1])
            else:
                s.sendall(data)
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return reply
                reply += chunk

    @staticmethod
    def request(*fields):
        return b"".join(struct.pack(">H", len(f)) + f for f in fields)

    def test_wire_format_whole_and_trickled(self):
        req = self.request(b"demo@example.test", b"demo", b"smtp", b"")
        for trickle in (False, True):
            self.assertEqual(self.raw(req, trickle), b"\x00\x02OK")

    def test_field_too_long(self):
        reply = self.raw(struct.pack(">H", 60000) + b"x" * 100)
        self.assertEqual(reply[2:4], b"NO")
        self.assertEqual(struct.unpack(">H", reply[:2])[0], len(reply) - 2)

    def test_nul_in_field(self):
        reply = self.raw(self.request(b"demo@example.test\0x", b"demo", b"smtp", b""))
        self.assertEqual(reply[2:4], b"NO")


POSTFIX_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
postlog unix-dgram n - n - 1 postlogd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
"""


class Postfix(unittest.TestCase):
    """A private Postfix on loopback, smtpd_sasl_type = dovecot pointed at
    authd's auth socket, smtplib logging in after STARTTLS (Postfix then
    marks the request secured)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = None
        if os.geteuid() != 0:
            raise unittest.SkipTest("running Postfix needs root")
        if shutil.which("postfix") is None and not os.path.exists("/usr/sbin/postfix"):
            raise unittest.SkipTest("postfix is not installed (scripts/setup)")
        srv = server()
        cls.dir = tempfile.mkdtemp(prefix="mr-postfix-")
        os.chmod(cls.dir, 0o755)
        etc, spool, data = (os.path.join(cls.dir, d) for d in ("etc", "spool", "data"))
        for d in (etc, spool, data):
            os.mkdir(d)
        shutil.chown(data, "postfix")
        cert, key = os.path.join(etc, "cert.pem"), os.path.join(etc, "key.pem")
        make_cert("localhost", cert, key)
        cls.port = free_port()
        cls.maillog = os.path.join(cls.dir, "maillog")
        with open(os.path.join(etc, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.example.test
mydestination =
alias_maps =
alias_database =
maillog_file = {cls.maillog}
maillog_file_prefixes = {cls.dir}
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {srv.auth}
smtpd_sasl_security_options = noanonymous
smtpd_tls_auth_only = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject
""")
        with open(os.path.join(etc, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER_CF.format(port=cls.port))
        cls.etc = etc
        r = subprocess.run(["postfix", "-c", etc, "start"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        if r.returncode != 0:
            log = open(cls.maillog).read() if os.path.exists(cls.maillog) else ""
            cls.tearDownClass()
            raise AssertionError(f"postfix start failed: {r.stdout}\n{log}")
        wait_port("127.0.0.1", cls.port, timeout=30)

    @classmethod
    def tearDownClass(cls):
        if cls.dir is None:
            return
        pid_file = os.path.join(cls.dir, "spool", "pid", "master.pid")
        subprocess.run(["postfix", "-c", os.path.join(cls.dir, "etc"), "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        master = None
        try:
            master = int(open(pid_file).read().strip())
        except (OSError, ValueError):
            pass
        deadline = time.monotonic() + TIMEOUT
        while master is not None and time.monotonic() < deadline:
            try:
                os.kill(master, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        if os.environ.get("MR_KEEP_POSTFIX"):
            print(f"# postfix dir kept: {cls.dir}")
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)
        cls.dir = None

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=TIMEOUT)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo()
        self.addCleanup(s.close)
        return s

    def diag(self):
        return open(self.maillog).read()[-3000:] if os.path.exists(self.maillog) else ""

    def test_ehlo_offers_plain_and_login(self):
        s = self.smtp()
        self.assertEqual(sorted(s.esmtp_features.get("auth", "").split()), ["LOGIN", "PLAIN"],
                         self.diag())

    def test_auth_plain(self):
        s = self.smtp()
        code, _ = s.docmd("AUTH", "PLAIN " + b64(b"\0demo@example.test\0demo"))
        self.assertEqual(code, 235, self.diag())

    def test_auth_login(self):
        s = self.smtp()
        self.assertEqual(s.docmd("AUTH", "LOGIN")[0], 334, self.diag())
        self.assertEqual(s.docmd(b64(b"demo@example.test"))[0], 334)
        self.assertEqual(s.docmd(b64(b"demo"))[0], 235, self.diag())

    def test_auth_fails(self):
        s = self.smtp()
        code, _ = s.docmd("AUTH", "PLAIN " + b64(b"\0demo@example.test\0wrong"))
        self.assertEqual(code, 535, self.diag())
        self.assertEqual(s.docmd("AUTH", "LOGIN")[0], 334)
        self.assertEqual(s.docmd(b64(b"nobody@example.test"))[0], 334)
        self.assertEqual(s.docmd(b64(b"demo"))[0], 535, self.diag())

    def test_no_auth_before_tls(self):
        """smtpd_tls_auth_only: no AUTH offered that authd would refuse."""
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=TIMEOUT)
        self.addCleanup(s.close)
        s.ehlo()
        self.assertNotIn("auth", s.esmtp_features)


if __name__ == "__main__":
    unittest.main()
