"""A mailroom-authd on a passwd-file backend in a temp dir, for the tests of
the authd client and of mailroom-mta: users, aliases, domains, a lookup and
an auth socket."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from mrtest import BUILDDIR, free_port, make_cert, wait_path, wait_port

AUTHD = os.path.join(BUILDDIR, "authd", "mailroom-authd")
MTA = os.path.join(BUILDDIR, "mta", "mailroom-mta")
TIMEOUT = 10

USERS = """\
demo@example.test:{PLAIN}demo::::::quota_bytes=1048576 services=imap,pop3,smtp,deliver
other@other.test:{PLAIN}other
off@example.test:{PLAIN}off::::::active=no
postmaster@catch.test:{PLAIN}pm
"""
ALIASES = """\
info@example.test: demo@example.test
team@example.test: demo@example.test, other@other.test, friend@remote.test
loop1@example.test: loop2@example.test
loop2@example.test: loop1@example.test
@catch.test: postmaster@catch.test
"""
DOMAINS = """\
example.test
other.test
catch.test
alias.test alias-of=example.test
host.example.test alias-of=example.test
relay.test relay
"""


def wait_log(path, text, proc=None, timeout=TIMEOUT, offset=0):
    """Wait until text appears in the log file at path (after byte offset:
    a restarted daemon appends to the same log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, "rb") as f:
            f.seek(offset)
            if text.encode() in f.read():
                return
        if proc is not None and proc.poll() is not None:
            with open(path, errors="replace") as f:
                raise RuntimeError(f"process exited: {f.read()}")
        time.sleep(0.05)
    raise TimeoutError(f"{text!r} not logged in {path}")


def stop_process(proc):
    """SIGTERM, then SIGKILL when it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Authd:
    """One mailroom-authd in the foreground; stop() removes everything."""

    def __init__(self, extra=""):
        self.tmp = tempfile.mkdtemp(prefix="mr-mta-authd-")
        self.lookup = os.path.join(self.tmp, "lookup")
        self.auth = os.path.join(self.tmp, "auth")
        self.log = os.path.join(self.tmp, "authd.log")
        self.mail_root = os.path.join(self.tmp, "vmail")
        for name, text in (("users", USERS), ("aliases", ALIASES), ("domains", DOMAINS)):
            with open(os.path.join(self.tmp, name), "w") as f:
                f.write(text)
        self.config = os.path.join(self.tmp, "authd.conf")
        with open(self.config, "w") as f:
            f.write(f"listen = {self.lookup} service=lookup\n"
                    f"listen = {self.auth} service=auth\n"
                    "user =\nlog_dest = stderr\nlog_level = debug\n"
                    f"pid_file = {self.tmp}/authd.pid\n"
                    f"mail_root = {self.mail_root}\n"
                    f"backend = passwd-file\npasswd_file = {self.tmp}/users\n"
                    f"passwd_file_aliases = {self.tmp}/aliases\n"
                    f"passwd_file_domains = {self.tmp}/domains\n"
                    "penalty_base = 50\npenalty_max = 200\n" + extra)
        self.start()

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([AUTHD, "--foreground", "--config", self.config],
                                         stdout=log, stderr=log)
        wait_path(self.lookup)
        wait_path(self.auth)
        wait_log(self.log, "started listeners=", self.proc)

    def kill(self):
        stop_process(self.proc)

    def stop(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


class MtaDaemon:
    """A mailroom-mta on 127.0.0.1 (smtp and submission with STARTTLS) in
    front of an Authd, delivering for real. kill9() and start() keep the
    config, queue and log, as a crash and a restart by a supervisor would."""

    # service -> listener options; every service gets its own free port
    LISTENERS = {"smtp": "tls=starttls", "submission": "tls=starttls",
                 "submissions": "tls=implicit", "lmtp": ""}

    def __init__(self, authd, extra="", services=("smtp", "submission"), lookup=None,
                 limits=True):
        """extra: more config lines; lookup: another lookup socket than
        authd's; limits=False leaves the rate and per-IP limits at their
        defaults (else they are off, for load tests)."""
        self.tmp = tempfile.mkdtemp(prefix="mr-mta-")
        self.queue = os.path.join(self.tmp, "queue")
        os.mkdir(self.queue)
        self.cert = os.path.join(self.tmp, "cert.pem")
        key = os.path.join(self.tmp, "key.pem")
        make_cert("mx.example.test", self.cert, key)
        self.ports = {name: free_port() for name in services}
        self.log = os.path.join(self.tmp, "mta.log")
        self.config = os.path.join(self.tmp, "mta.conf")
        listen = "".join(f"listen = 127.0.0.1:{port} {self.LISTENERS[name]} service={name}\n"
                         for name, port in self.ports.items())
        with open(self.config, "w") as f:
            f.write(listen +
                    f"tls_cert = {self.cert}\ntls_key = {key}\n"
                    "user =\nlog_dest = stderr\nlog_level = debug\n"
                    f"pid_file = {self.tmp}/mta.pid\nhostname = mx.example.test\n"
                    f"authd_lookup_socket = {lookup or authd.lookup}\n"
                    f"authd_auth_socket = {authd.auth}\nauthd_timeout = 3s\n"
                    f"queue_directory = {self.queue}\n" +
                    ("rate_limit_per_minute = 0\nmax_connections_per_ip = 0\n" if limits else "") +
                    extra)
        self.proc = None
        self.start()

    def start(self):
        offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([MTA, "--foreground", "--config", self.config],
                                         stdout=log, stderr=log)
        wait_log(self.log, "started listeners=", self.proc, offset=offset)
        wait_log(self.log, "queue: scanned", self.proc, offset=offset)
        # "started listeners=" means every port is bound: one connect is enough
        # (and counts once against rate_limit_per_minute)
        wait_port("127.0.0.1", next(iter(self.ports.values())))

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def queued_files(self):
        """{queue id: bytes} of the queue files in active/ and deferred/ (a
        file may be renamed away between listing and reading: skipped)."""
        out = {}
        for sub in ("active", "deferred"):
            d = os.path.join(self.queue, sub)
            for name in os.listdir(d) if os.path.isdir(d) else ():
                try:
                    with open(os.path.join(d, name), "rb") as f:
                        out[name] = f.read()
                except FileNotFoundError:
                    continue
        return out

    def queued(self):
        """Texts of the queue files in active/ and deferred/."""
        return list(self.queued_files().values())

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*<([^>\r\n]*)>", re.I | re.M)


def maildir_files(root):
    """{path: bytes} of every message file in the new/ and cur/ of every
    Maildir and folder under root."""
    out = {}
    for d, _, names in os.walk(root):
        if os.path.basename(d) not in ("new", "cur"):
            continue
        for n in names:
            try:
                with open(os.path.join(d, n), "rb") as f:
                    out[os.path.join(d, n)] = f.read()
            except FileNotFoundError:  # moved to cur/ meanwhile
                continue
    return out


def message_ids(texts):
    """Every Message-ID (without <>) in texts, as a list (repeats kept)."""
    return [m.decode("utf-8", "replace") for t in texts for m in MESSAGE_ID.findall(t)]
