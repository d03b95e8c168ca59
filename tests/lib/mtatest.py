"""A mailroom-authd on a passwd-file backend in a temp dir, for the tests of
the authd client and of mailroom-mta: users, aliases, domains, a lookup and
an auth socket."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from mrtest import BUILDDIR, wait_path

AUTHD = os.path.join(BUILDDIR, "authd", "mailroom-authd")
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
relay.test relay
"""


def wait_log(path, text, proc=None, timeout=TIMEOUT):
    """Wait until text appears in the log file at path."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, errors="replace") as f:
            if text in f.read():
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
