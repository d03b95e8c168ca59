"""The mailbox layer (mbs/mailbox.h) against Debian's Dovecot (doveadm).

Both directions at store level: a store written through
tests/unit/mailbox-tool (folders, subscriptions, APPEND with flags and
keywords, STORE, EXPUNGE, COPY) is read by doveadm with the same UIDs,
UIDVALIDITY, flags, keywords, folder list and subscriptions; a store
written by doveadm (mailbox create, subscribe, save, flags, expunge) is
read by mailbox-tool the same way. Our fields in dovecot-uidlist
(modification sequences) survive Dovecot rewriting the file, and a flag
change Dovecot makes gets a new modseq at our next sync.

doveadm runs without a Dovecot server (tests/lib/doveadm.py); as root,
both programs run as "nobody".
"""
import base64
import os
import subprocess
import unittest

import doveadm
import mrtest

TOOL = os.path.join(mrtest.BUILDDIR, "tests", "unit", "mailbox-tool")
TIMEOUT = 60


def mutf7_decode(name):
    """RFC 3501 5.1.3 modified UTF-7 -> str."""
    out, i = [], 0
    while i < len(name):
        if name[i] != "&":
            out.append(name[i])
            i += 1
            continue
        end = name.index("-", i)
        chunk = name[i + 1:end]
        if chunk == "":
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = end + 1
    return "".join(out)


class MailboxDovecot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.box = doveadm.Sandbox("mr-mailbox-")
        if not os.access(TOOL, os.X_OK):
            cls.box.remove()
            raise unittest.SkipTest(f"{TOOL} is not built")
        cls.box.chown_all()
        cls.counter = 0
        probe = os.path.join(cls.box.top, "probe")
        proc = cls.box.doveadm(probe, ["mailbox", "status", "uidvalidity", "INBOX"], "tab")
        if proc.returncode != 0:
            cls.box.remove()
            print("# doveadm cannot run here: " + proc.stdout.replace("\n", "\n# "))
            raise unittest.SkipTest("doveadm cannot access a Maildir here")

    @classmethod
    def tearDownClass(cls):
        cls.box.remove()

    def new_root(self):
        type(self).counter += 1
        return os.path.join(self.box.top, f"user{self.counter}")

    def message(self, subject):
        path = os.path.join(self.box.top, f"msg-{subject}.eml")
        with open(path, "w") as f:
            f.write(f"From: a@example.test\nTo: b@example.test\nSubject: {subject}\n\n"
                    f"body of {subject}\n")
        os.chown(path, self.box.uid, self.box.gid)
        return path

    def tool(self, root, *args, status=0):
        proc = subprocess.run([TOOL, root] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT,
                              preexec_fn=self.box.demote)
        self.assertEqual(proc.returncode, status,
                         f"mailbox-tool {' '.join(args)}:\n{proc.stdout}")
        return proc.stdout

    def dove(self, root, *args, stdin=None):
        proc = self.box.doveadm(root, list(args), "tab", stdin=stdin)
        self.assertEqual(proc.returncode, 0, f"doveadm {' '.join(args)}:\n{proc.stdout}")
        return proc.stdout

    def dove_rows(self, root, *args):
        lines = [l for l in self.dove(root, *args).splitlines() if l.strip()]
        head = lines[0].split("\t")
        return [dict(zip(head, l.split("\t"))) for l in lines[1:]]

    # -- what each side sees

    def ours(self, root, name):
        """(uidvalidity, uidnext, highestmodseq, {uid: (flags, modseq, base)})."""
        lines = self.tool(root, "fetch", name).splitlines()
        head = lines[0].split()
        msgs = {}
        for line in lines[1:]:
            uid, flags, modseq, base = line.split("\t")
            msgs[int(uid)] = (set(flags.split()), int(modseq), base)
        return int(head[1]), int(head[3]), int(head[5]), msgs

    def theirs(self, root, name):
        """(uidvalidity, uidnext, {uid: (flags without \\Recent, guid = base)})."""
        msgs = {}
        for row in self.dove_rows(root, "fetch", "uid guid flags", "mailbox", name, "all"):
            msgs[int(row["uid"])] = (set(row["flags"].split()) - {"\\Recent"}, row["guid"])
        st = self.dove_rows(root, "mailbox", "status", "uidvalidity uidnext", name)[0]
        return int(st["uidvalidity"]), int(st["uidnext"]), msgs

    def our_folders(self, root, cmd="list"):
        out = {}
        for line in self.tool(root, cmd).splitlines():
            name, flags = line.split("\t")
            out[mutf7_decode(name)] = set(flags.split())
        return out

    def their_folders(self, root, subscribed=False):
        args = ["mailbox", "list"] + (["-s"] if subscribed else [])
        return {r["mailbox"] for r in self.dove_rows(root, *args)}

    def assert_same_messages(self, root, name):
        validity, uidnext, _, ours = self.ours(root, name)
        d_validity, d_uidnext, theirs = self.theirs(root, name)
        self.assertEqual(validity, d_validity)
        self.assertEqual(uidnext, d_uidnext)
        self.assertEqual({u: (f, b) for u, (f, _, b) in ours.items()}, theirs)
        return ours

    # -- Mailroom writes, Dovecot reads

    def test_mailroom_store_read_by_dovecot(self):
        root = self.new_root()
        self.tool(root, "init")
        self.tool(root, "create", "Projects.2024")
        self.tool(root, "create", "&ANw-n&AO8-")       # "Ünï"
        self.tool(root, "subscribe", "Projects.2024")
        self.tool(root, "unsubscribe", "Junk")
        uids = []
        for i, flags in enumerate([["\\Seen", "$Label1"], ["Work", "\\Flagged"], [],
                                   ["\\Answered", "\\Draft"]]):
            out = self.tool(root, "append", "INBOX", self.message(f"m{i}"), *flags)
            uids.append(int(out.split()[1]))
        self.assertEqual(uids, [1, 2, 3, 4])
        self.tool(root, "store", "INBOX", "3", "+", "\\Seen", "Work")
        self.tool(root, "store", "INBOX", "2", "-", "\\Flagged")
        self.tool(root, "store", "INBOX", "4", "+", "\\Deleted")
        self.tool(root, "expunge", "INBOX")
        self.tool(root, "copy", "INBOX", "1", "Projects.2024")
        self.tool(root, "append", "Sent", self.message("sent"), "\\Seen")

        ours = self.assert_same_messages(root, "INBOX")
        self.assertEqual(sorted(ours), [1, 2, 3])
        self.assertEqual(ours[1][0], {"\\Seen", "$Label1"})
        self.assertEqual(ours[2][0], {"Work"})
        self.assertEqual(ours[3][0], {"\\Seen", "Work"})
        copied = self.assert_same_messages(root, "Projects.2024")
        self.assertEqual(copied[1][0], {"\\Seen", "$Label1"})
        self.assert_same_messages(root, "Sent")

        self.assertEqual(self.their_folders(root),
                         {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Projects",
                          "Projects.2024", "Ünï"})
        self.assertEqual(self.their_folders(root, subscribed=True),
                         {"INBOX", "Sent", "Drafts", "Trash", "Archive", "Projects.2024"})
        body = self.dove(root, "fetch", "text", "mailbox", "INBOX", "uid", "3")
        self.assertIn("body of m2", body)

    def test_modseq_fields_survive_dovecot(self):
        root = self.new_root()
        self.tool(root, "init")
        for i in range(3):
            self.tool(root, "append", "INBOX", self.message(f"q{i}"))
        self.tool(root, "store", "INBOX", "2", "+", "\\Flagged")
        _, _, highest, before = self.ours(root, "INBOX")
        self.assertGreater(before[2][1], before[1][1])
        self.assertEqual(highest, before[2][1])
        # Dovecot changes flags and adds a message: it rewrites or appends
        # to dovecot-uidlist, keeping our fields.
        self.dove(root, "flags", "add", "\\Seen", "mailbox", "INBOX", "uid", "1")
        self.dove(root, "save", "-m", "INBOX", stdin="Subject: dovecot\n\nd\n")
        self.dove(root, "expunge", "mailbox", "INBOX", "uid", "3")
        with open(os.path.join(root, "dovecot-uidlist")) as f:
            text = f.read()
        self.assertRegex(text.splitlines()[0], r" M\d+")
        _, _, highest2, after = self.ours(root, "INBOX")
        self.assertEqual(sorted(after), [1, 2, 4])
        self.assertEqual(after[1][0], {"\\Seen"})
        # The flag change Dovecot made, its new message and its expunge
        # move the modseqs on; what nobody touched keeps its own.
        self.assertGreater(after[1][1], highest)
        self.assertEqual(after[2][1], before[2][1])
        self.assertGreater(highest2, highest)
        self.assertEqual(highest2, max(m for _, m, _ in after.values()))
        self.assert_same_messages(root, "INBOX")
        # A file without the mailbox GUID makes Dovecot write it anew
        # (maildir_uidlist_recreate): our header and record fields stay.
        path = os.path.join(root, "dovecot-uidlist")
        with open(path) as f:
            lines = f.read().splitlines()
        head = " ".join(w for w in lines[0].split() if not w.startswith("G"))
        with open(path, "w") as f:
            f.write("\n".join([head] + lines[1:]) + "\n")
        self.dove(root, "fetch", "uid", "mailbox", "INBOX", "all")
        with open(path) as f:
            rewritten = f.read().splitlines()
        self.assertRegex(rewritten[0], r" G[0-9a-f]{32}")
        self.assertIn(f" M{highest2}", rewritten[0])
        self.assertEqual(len(rewritten), 4)
        for line in rewritten[1:]:
            self.assertRegex(line, r"^\d+ .*M\d+ F[A-Za-z]* .*:")
        self.assertEqual(self.ours(root, "INBOX")[3], after)

    # -- Dovecot writes, Mailroom reads

    def test_dovecot_store_read_by_mailroom(self):
        root = self.new_root()
        for name in ("Sent", "Lists.Debian", "Ünï"):
            self.dove(root, "mailbox", "create", name)
        self.dove(root, "mailbox", "subscribe", "INBOX", "Sent", "Lists.Debian")
        for i in range(4):
            self.dove(root, "save", "-m", "INBOX", stdin=f"Subject: d{i}\n\nsaved {i}\n")
        self.dove(root, "save", "-m", "Lists.Debian", stdin="Subject: list\n\nl\n")
        self.dove(root, "flags", "add", "\\Seen $Label1", "mailbox", "INBOX", "uid", "2")
        self.dove(root, "flags", "add", "\\Flagged \\Answered Later", "mailbox", "INBOX",
                  "uid", "3")
        self.dove(root, "flags", "add", "\\Deleted", "mailbox", "INBOX", "uid", "4")
        self.dove(root, "expunge", "mailbox", "INBOX", "uid", "1")

        ours = self.assert_same_messages(root, "INBOX")
        self.assertEqual(sorted(ours), [2, 3, 4])
        self.assertEqual(ours[2][0], {"\\Seen", "$Label1"})
        self.assertEqual(ours[3][0], {"\\Flagged", "\\Answered", "Later"})
        self.assert_same_messages(root, "Lists.Debian")

        folders = self.our_folders(root)
        self.assertEqual(set(folders), {"INBOX", "Sent", "Lists", "Lists.Debian", "Ünï"})
        self.assertIn("\\Noselect", folders["Lists"])
        self.assertIn("\\HasChildren", folders["Lists"])
        self.assertIn("\\Sent", folders["Sent"])
        self.assertEqual(set(self.our_folders(root, "lsub")), {"INBOX", "Sent", "Lists.Debian"})
        status = self.tool(root, "status", "INBOX").split()
        self.assertEqual(int(status[status.index("uidvalidity") + 1]),
                         self.theirs(root, "INBOX")[0])

        # Mailroom works on it; Dovecot sees the result.
        self.tool(root, "expunge", "INBOX")
        self.tool(root, "store", "INBOX", "2", "-", "$Label1")
        self.tool(root, "append", "INBOX", self.message("later"), "Later")
        self.tool(root, "rename", "Lists", "Groups")
        self.tool(root, "subscribe", "&ANw-n&AO8-")
        ours = self.assert_same_messages(root, "INBOX")
        self.assertEqual(sorted(ours), [2, 3, 5])
        self.assertEqual(ours[5][0], {"Later"})
        self.assertEqual(self.their_folders(root),
                         {"INBOX", "Sent", "Groups", "Groups.Debian", "Ünï"})
        self.assertEqual(self.their_folders(root, subscribed=True),
                         {"INBOX", "Sent", "Groups.Debian", "Ünï"})
        self.assert_same_messages(root, "Groups.Debian")


if __name__ == "__main__":
    unittest.main()
