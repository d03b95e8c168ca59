"""A private mailroom-authd for end-to-end tests, and independent clients
for its sockets: the Dovecot auth protocol and the lookup protocol spoken
by hand over Python sockets, and the `mailroom` admin command.

    with authdtest.Authd("backend = passwd-file\\npasswd_file = ...") as d:
        c = d.auth_client()
        c.login("demo@example.test", "demo")     # "OK\\t1\\tuser=..."
        d.mailroom("user", "lookup", "demo@example.test")

Every wait is bounded: TIMEOUT for one answer, wait_until() for a state
that takes a cache TTL to show.
"""
import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import mrtest

AUTHD = os.path.join(mrtest.BUILDDIR, "authd", "mailroom-authd")
MAILROOM = os.path.join(mrtest.BUILDDIR, "mailroom")
TIMEOUT = 15
# Small enough that failures cost little time, large enough to be seen.
PENALTY = "penalty_base = 20\npenalty_max = 100\n"


def b64(data):
    return base64.b64encode(data).decode()


def plain(user, password):
    """The resp= parameter of a PLAIN initial response."""
    return "resp=" + b64(b"\0" + user.encode() + b"\0" + password.encode())


def wait_until(what, check, timeout):
    """Call check() until it returns a true value (returned); AssertionError
    naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


class LineSocket:
    """A UNIX stream socket read a line at a time, with a timeout."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buf = b""

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"authd closed the connection ({self.buf!r} unread)")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def close(self):
        self.sock.close()


class AuthClient(LineSocket):
    """The Dovecot auth client protocol: handshake, then AUTH / CONT."""

    def __init__(self, path, handshake=True):
        super().__init__(path)
        self.next_id = 1
        self.server_handshake = None
        if handshake:
            self.send("VERSION\t1\t2\nCPID\t%d" % os.getpid())
            self.server_handshake = self.read_handshake()

    def read_handshake(self):
        lines = []
        for _ in range(100):
            lines.append(self.line())
            if lines[-1] == "DONE":
                return lines
        raise AssertionError(f"no DONE in the handshake: {lines}")

    def auth(self, rid, mech, *params, service="smtp", secured=True):
        fields = ["AUTH", str(rid), mech, "service=" + service]
        if secured:
            fields.append("secured")
        self.send("\t".join(fields + list(params)))

    def login(self, user, password, service="imap", secured=True, rip=None):
        """One PLAIN login; the answer line with its id replaced by "1"
        ("OK\\t1\\tuser=...", "FAIL\\t1", "FAIL\\t1\\ttemp")."""
        rid = self.next_id
        self.next_id += 1
        params = [plain(user, password)] + ([f"rip={rip}"] if rip else [])
        self.auth(rid, "PLAIN", *params, service=service, secured=secured)
        fields = self.line().split("\t")
        if len(fields) < 2 or fields[1] != str(rid):
            raise AssertionError(f"answer for another id: {fields}")
        fields[1] = "1"
        return "\t".join(fields)


class Lookup(LineSocket):
    """The lookup protocol: one request, its answer's fields after the id."""

    def ask(self, *fields):
        self.send("\t".join(("q",) + fields))
        got = self.line().split("\t")
        if got[0] != "q":
            raise AssertionError(f"answer for another id: {got}")
        return got[1:]


class Authd:
    """mailroom-authd in the foreground with an auth and a lookup socket in
    a temporary directory, configured with `keys` (authd.conf text) on top
    of quiet defaults. stop() (or leaving the with block) ends it."""

    def __init__(self, keys, name="authd"):
        self.tmp = tempfile.mkdtemp(prefix=f"mr-{name}-", dir="/tmp")
        self.auth = self.path("auth")
        self.lookup = self.path("lookup")
        self.log = self.path("authd.log")
        self.config = self.path("authd.conf")
        with open(self.config, "w") as f:
            f.write(f"listen = {self.auth} service=auth\n"
                    f"listen = {self.lookup} service=lookup\n"
                    "user =\nlog_dest = stderr\nlog_level = debug\nshutdown_timeout = 1s\n"
                    f"mail_root = /srv/mail\n{PENALTY}{keys}\n")
        self.proc = None
        try:
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen([AUTHD, "--foreground", "--config", self.config],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            self.wait_log("started listeners=")
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def path(self, name):
        return os.path.join(self.tmp, name)

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=TIMEOUT):
        def seen():
            if self.proc.poll() is not None:
                raise RuntimeError(f"mailroom-authd exited:\n{self.read_log()[-3000:]}")
            return text in self.read_log()
        wait_until(f"{text!r} in {self.log}", seen, timeout)

    def auth_client(self):
        return AuthClient(self.auth)

    def lookup_client(self):
        return Lookup(self.lookup)

    def mailroom(self, *args, stdin=None):
        """The admin command with this daemon's configuration."""
        return subprocess.run([MAILROOM, "-c", self.config, *args], input=stdin,
                              capture_output=True, text=True, timeout=TIMEOUT)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=TIMEOUT)
        if os.environ.get("MR_KEEP_AUTHD"):
            print(f"# authd dir kept: {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
