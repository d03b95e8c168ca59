"""Debian's doveadm on throwaway Maildirs, with no Dovecot server running.

USER and HOME come from the environment and every setting that matters
from `-o`; as root, mail access runs as "nobody" because Dovecot refuses
it as root. Used by the tests that check Mailroom against Dovecot.
"""
import os
import pwd
import shutil
import subprocess
import tempfile
import unittest

DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
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

    def remove(self):
        shutil.rmtree(self.top, ignore_errors=True)
