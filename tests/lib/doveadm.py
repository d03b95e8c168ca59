"""Debian's doveadm on throwaway Maildirs, with no Dovecot server running.

USER and HOME come from the environment and every setting that matters
from `-o`; as root, mail access runs as "nobody" because Dovecot refuses
it as root. Used by the tests that check Mailroom against Dovecot.
"""
import os
import pwd
import select
import shutil
import subprocess
import tempfile
import time
import unittest

DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
# Dovecot's IMAP server process, which serves one preauthenticated session
# over stdin and stdout when started by hand.
DOVECOT_IMAP = "/usr/lib/dovecot/imap"
# Its pop3 process, likewise (no greeting: the session starts logged in).
DOVECOT_POP3 = "/usr/lib/dovecot/pop3"
TIMEOUT = 60


class Sandbox:
    """A temporary folder with a minimal dovecot.conf, owned by the user
    doveadm will run mail access as (uid, gid)."""

    def __init__(self, prefix, subdirs=()):
        if not os.access(DOVEADM, os.X_OK):
            raise unittest.SkipTest("doveadm is not installed (Debian package dovecot-core)")
        if os.getuid() == 0:
            pw = pwd.getpwnam("nobody")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self.top = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.top, 0o755)
        for sub in ("run", "home") + tuple(subdirs):
            os.makedirs(os.path.join(self.top, sub))
        self.conf = os.path.join(self.top, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"ssl = no\nbase_dir = {self.top}/run\nstate_dir = {self.top}/run\n"
                    f"log_path = {self.top}/dovecot.log\n"
                    f"mail_location = maildir:{self.top}/unused\n")

    def path(self, *parts):
        return os.path.join(self.top, *parts)

    def chown_all(self):
        """Give everything in the sandbox to the mail user."""
        for root, dirs, files in os.walk(self.top):
            for name in dirs + files + [""]:
                os.chown(os.path.join(root, name), self.uid, self.gid)

    def demote(self):
        """preexec_fn: become the mail user (when root)."""
        if os.getuid() == 0:
            os.setgroups([])
            os.setgid(self.gid)
            os.setuid(self.uid)

    def doveadm(self, maildir, args, fmt, stdin=None, text=True, demote=False):
        """Run doveadm -f FMT on maildir; the CompletedProcess, stderr in stdout."""
        env = dict(os.environ, USER="mruser", HOME=self.path("home"))
        cmd = [DOVEADM, "-f", fmt, "-c", self.conf,
               "-o", f"mail_location=maildir:{maildir}",
               "-o", f"mail_uid={self.uid}", "-o", f"mail_gid={self.gid}",
               "-o", f"first_valid_uid={self.uid}", "-o", f"first_valid_gid={self.gid}"] + args
        return subprocess.run(cmd, env=env, input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=text, timeout=TIMEOUT,
                              preexec_fn=self.demote if demote else None)

    def imap(self, maildir, env=None):
        """A preauthenticated Dovecot IMAP session on maildir (an
        ImapSession). Skips the test when the imap binary is missing."""
        if not os.access(DOVECOT_IMAP, os.X_OK):
            raise unittest.SkipTest(f"{DOVECOT_IMAP} is not installed (dovecot-imapd)")
        env = dict(os.environ, USER="mruser", HOME=self.path("home"), **(env or {}))
        cmd = [DOVECOT_IMAP, "-c", self.conf, "-o", f"mail_location=maildir:{maildir}",
               "-o", f"mail_uid={self.uid}", "-o", f"mail_gid={self.gid}",
               "-o", f"first_valid_uid={self.uid}", "-o", f"first_valid_gid={self.gid}"]
        return ImapSession(cmd, env, self.demote)

    def pop3(self, maildir, settings=()):
        """Dovecot's pop3 process serving one preauthenticated session on
        maildir over pipes: a subprocess.Popen with stdin and stdout.
        settings: more "key=value" overrides. Skips the test when the pop3
        binary is missing."""
        if not os.access(DOVECOT_POP3, os.X_OK):
            raise unittest.SkipTest(f"{DOVECOT_POP3} is not installed (dovecot-pop3d)")
        env = dict(os.environ, USER="mruser", HOME=self.path("home"))
        cmd = [DOVECOT_POP3, "-c", self.conf, "-o", f"mail_location=maildir:{maildir}",
               "-o", f"mail_uid={self.uid}", "-o", f"mail_gid={self.gid}",
               "-o", f"first_valid_uid={self.uid}", "-o", f"first_valid_gid={self.gid}"]
        for setting in settings:
            cmd += ["-o", setting]
        return subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, preexec_fn=self.demote)

    def remove(self):
        shutil.rmtree(self.top, ignore_errors=True)


class ImapSession:
    """Dovecot's imap process serving one preauthenticated session over
    pipes. command() sends one command and returns everything the server
    wrote up to and including its tagged reply (bytes)."""

    def __init__(self, cmd, env, preexec_fn):
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     preexec_fn=preexec_fn)
        self.buf = bytearray()
        self.scan = 0
        self.greeting = self._read_until(None)

    def _complete(self, tag):
        """Length of the reply ending with the tagged line (or the first
        line when tag is None), 0 while incomplete. Literals ({n} at a
        line's end) are stepped over; self.scan keeps the place where the
        last look stopped, so a long reply is scanned once."""
        pos = self.scan
        while True:
            end = self.buf.find(b"\r\n", pos) if pos <= len(self.buf) else -1
            if end < 0:
                self.scan = pos
                return 0
            line = self.buf[pos:end]
            if tag is None or line.startswith(tag + b" "):
                self.scan = 0
                return end + 2
            pos = end + 2
            if line.endswith(b"}") and b"{" in line:
                size = line[line.rindex(b"{") + 1:-1].rstrip(b"+")
                if size.isdigit():
                    pos += int(size)

    def _read_until(self, tag):
        deadline = time.monotonic() + TIMEOUT
        while True:
            n = self._complete(tag)
            if n > 0:
                out = bytes(self.buf[:n])
                del self.buf[:n]
                return out
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise TimeoutError(f"no reply to {tag!r} from Dovecot's imap")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError(f"Dovecot's imap closed before {tag!r}: {self.buf[-300:]!r}")
            self.buf += chunk

    def command(self, tag, line):
        """line: bytes after the tag, without CRLF (literal+ allowed)."""
        self.proc.stdin.write(tag.encode() + b" " + line + b"\r\n")
        self.proc.stdin.flush()
        return self._read_until(tag.encode())

    def close(self):
        try:
            self.command("zz", b"LOGOUT")
        except (OSError, EOFError, TimeoutError):
            pass
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
