"""Mailroom's Maildir primitives against Debian's Dovecot (doveadm).

Both directions share one store: messages delivered and UID-synced by
Mailroom (through tests/unit/maildir-tool) are listed by doveadm with the
same UIDs and UIDVALIDITY; messages saved and flagged by doveadm are read
by maildir-tool with Dovecot's UIDs and flags; and after Mailroom adds
more, Dovecot still sees the old UIDs unchanged and the new ones above.

doveadm runs without a Dovecot server: USER and HOME in the environment
stand in for a userdb lookup, and -o settings point it at a throwaway
Maildir. Dovecot refuses mail access as root, so when the test runs as
root both programs run as the unprivileged user "nobody".
"""
import os
import subprocess
import unittest

import doveadm
import mrtest

TOOL = os.path.join(mrtest.BUILDDIR, "tests", "unit", "maildir-tool")
TIMEOUT = 60


class MaildirDovecot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.box = doveadm.Sandbox("mr-dovecot-")
        if not os.access(TOOL, os.X_OK):
            cls.box.remove()
            raise unittest.SkipTest(f"{TOOL} is not built")
        cls.top, cls.uid, cls.gid = cls.box.top, cls.box.uid, cls.box.gid
        cls.box.chown_all()
        cls.counter = 0
        # One probe: a failure here is a reason to skip, printed.
        probe = cls.new_maildir_cls()
        proc = cls.doveadm_raw(probe, ["mailbox", "status", "uidvalidity", "INBOX"])
        if proc.returncode != 0:
            cls.box.remove()
            print("# doveadm cannot run here: " + proc.stdout.replace("\n", "\n# "))
            raise unittest.SkipTest("doveadm cannot access a Maildir here")

    @classmethod
    def tearDownClass(cls):
        cls.box.remove()

    @classmethod
    def demote(cls):
        cls.box.demote()

    @classmethod
    def new_maildir_cls(cls):
        cls.counter += 1
        return os.path.join(cls.top, f"mail{cls.counter}")

    def new_maildir(self):
        return self.new_maildir_cls()

    @classmethod
    def doveadm_raw(cls, maildir, args, stdin=None):
        return cls.box.doveadm(maildir, args, "tab", stdin=stdin)

    def doveadm(self, maildir, args, stdin=None):
        proc = self.doveadm_raw(maildir, args, stdin)
        self.assertEqual(proc.returncode, 0, f"doveadm {' '.join(args)}:\n{proc.stdout}")
        return proc.stdout

    def tool(self, *args):
        proc = subprocess.run([TOOL] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT,
                              preexec_fn=self.demote)
        self.assertEqual(proc.returncode, 0, f"maildir-tool {' '.join(args)}:\n{proc.stdout}")
        return proc.stdout

    def mailroom_deliver(self, maildir, subject):
        path = os.path.join(self.top, "msg.eml")
        with open(path, "w") as f:
            f.write(f"From: a@example.test\nTo: b@example.test\nSubject: {subject}\n\nbody of {subject}\n")
        os.chown(path, self.uid, self.gid)
        name = self.tool("deliver", maildir, path).strip()
        self.assertTrue(name.startswith("new/"), name)
        return name[4:].split(":")[0]

    def mailroom_list(self, maildir):
        """(uidvalidity, {uid: (flags set, base name)}) as maildir-tool sees it."""
        lines = self.tool("list", maildir).splitlines()
        self.assertTrue(lines[0].startswith("uidvalidity "), lines)
        msgs = {}
        for line in lines[1:]:
            uid, flags, file = line.split("\t")
            msgs[int(uid)] = (set(flags.split()), file.split("/", 1)[1].split(":")[0])
        return int(lines[0].split()[1]), msgs

    def dovecot_list(self, maildir):
        """(uidvalidity, {uid: (flags set without \\Recent, guid = base name)})."""
        rows = self.doveadm(maildir, ["fetch", "uid guid flags", "mailbox", "INBOX", "all"])
        msgs = {}
        for line in rows.splitlines()[1:]:
            if not line.strip():
                continue
            uid, guid, flags = line.split("\t")
            msgs[int(uid)] = (set(flags.split()) - {"\\Recent"}, guid)
        status = self.doveadm(maildir, ["mailbox", "status", "uidvalidity", "INBOX"])
        validity = int(status.splitlines()[1].split("\t")[1])
        return validity, msgs

    def dovecot_save(self, maildir, subject):
        self.doveadm(maildir, ["save", "-m", "INBOX"],
                     stdin=f"From: c@example.test\nSubject: {subject}\n\nsaved by dovecot\n")

    def test_mailroom_store_read_by_dovecot(self):
        md = self.new_maildir()
        bases = [self.mailroom_deliver(md, f"m{i}") for i in range(3)]
        ours_validity, ours = self.mailroom_list(md)
        self.assertEqual(sorted(ours), [1, 2, 3])
        self.assertEqual(sorted(b for _, b in ours.values()), sorted(bases))
        validity, theirs = self.dovecot_list(md)
        self.assertEqual(validity, ours_validity)
        self.assertEqual({u: b for u, (_, b) in theirs.items()},
                         {u: b for u, (_, b) in ours.items()})

    def test_dovecot_store_read_by_mailroom(self):
        md = self.new_maildir()
        for i in range(3):
            self.dovecot_save(md, f"d{i}")
        self.doveadm(md, ["flags", "add", "\\Seen $Label1", "mailbox", "INBOX", "uid", "2"])
        self.doveadm(md, ["flags", "add", "\\Flagged \\Answered", "mailbox", "INBOX", "uid", "3"])
        validity, theirs = self.dovecot_list(md)
        self.assertEqual(theirs[2][0], {"\\Seen", "$Label1"})
        ours_validity, ours = self.mailroom_list(md)
        self.assertEqual(ours_validity, validity)
        self.assertEqual(ours, theirs)

    def test_both_add_uids_stay(self):
        md = self.new_maildir()
        first = [self.mailroom_deliver(md, f"a{i}") for i in range(2)]
        self.tool("sync", md)
        validity, before = self.dovecot_list(md)
        self.assertEqual(sorted(before), [1, 2])
        self.dovecot_save(md, "from dovecot")
        self.doveadm(md, ["flags", "add", "\\Seen", "mailbox", "INBOX", "uid", "1"])
        later = [self.mailroom_deliver(md, f"b{i}") for i in range(2)]
        ours_validity, ours = self.mailroom_list(md)
        self.assertEqual(ours_validity, validity)
        self.assertEqual(sorted(ours), [1, 2, 3, 4, 5])
        self.assertEqual([ours[1][1], ours[2][1]], first)
        self.assertEqual(ours[1][0], {"\\Seen"})
        self.assertEqual(sorted([ours[4][1], ours[5][1]]), sorted(later))
        validity2, after = self.dovecot_list(md)
        self.assertEqual(validity2, validity)
        for uid in before:
            self.assertEqual(after[uid][1], before[uid][1])
        self.assertEqual(after, ours)


if __name__ == "__main__":
    unittest.main()
