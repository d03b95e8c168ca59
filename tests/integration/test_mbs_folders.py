"""The IMAP folder commands of mailroom-mbs with Python's imaplib over
IMAPS: SELECT EXAMINE CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LIST LSUB
STATUS APPEND GETQUOTA GETQUOTAROOT SETQUOTA, good and malformed, with the
Maildir checked on disk afterwards (traversal attempts touch nothing,
APPEND is on disk when it says so) and Debian's Dovecot listing the same
folder tree."""
import imaplib
import os
import re
import shutil
import time
import unittest

import doveadm
from mbstest import Authd, MbsDaemon, deliver

APPEND_LIMIT = 256 * 1024
MSG = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hello\r\n\r\nbody\r\n"

# other@other.test has no quota; demo@example.test has 1 MiB.
USER, PASSWORD = "other@other.test", "other"
QUOTA_USER, QUOTA_PASSWORD = "demo@example.test", "demo"

SPECIAL = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk",
           "Archive": "\\Archive"}
LIST_LINE = re.compile(rb'^\* (LIST|LSUB) \(([^)]*)\) "\." (.*)$')


class Raw:
    """Commands written as bytes on an imaplib connection, replies read line
    by line: for what imaplib cannot send (malformed commands, literals the
    server must refuse before reading them)."""

    def __init__(self, imap):
        self.imap = imap
        self.n = 0

    def send(self, data):
        self.imap.send(data)

    def readline(self):
        line = self.imap.readline()
        if not line:
            raise EOFError("connection closed")
        return line.rstrip(b"\r\n")

    def reply(self, tag):
        """(status, text, [untagged lines]) of the command tagged tag."""
        untagged = []
        while True:
            line = self.readline()
            if line.startswith(tag + b" "):
                status, _, text = line[len(tag) + 1:].partition(b" ")
                return status.decode(), text.decode("utf-8", "replace"), untagged
            untagged.append(line)

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.n += 1
        tag = b"R%d" % self.n
        self.send(tag + b" " + line + b"\r\n")
        return self.reply(tag)


def parse_list(lines):
    """{name: set(attributes)} of LIST/LSUB lines (names unquoted)."""
    out = {}
    for line in lines:
        m = LIST_LINE.match(line)
        if not m:
            continue
        name = m.group(3)
        if name.startswith(b'"'):
            name = re.sub(rb'\\(.)', rb'\1', name[1:name.rindex(b'"')])
        else:
            name = name.split(b" ")[0]
        out[name.decode("utf-8")] = set(m.group(2).decode().split())
    return out


class FolderBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.authd = Authd()
        try:
            cls.mbs = MbsDaemon(cls.authd, extra=f"imap_append_limit = {APPEND_LIMIT // 1024}k\n"
                                          "imap_max_bad_commands = 1000\n")
        except Exception:
            cls.authd.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.mbs.stop()
        cls.authd.stop()

    def root(self, user=USER):
        local, domain = user.split("@")
        return os.path.join(self.mbs.mail_root, domain, local)

    def login(self, user=USER, password=PASSWORD):
        imap = self.mbs.login(user, password)
        self.addCleanup(self.logout, imap)
        return imap, Raw(imap)

    @staticmethod
    def logout(imap):
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            pass

    def ok(self, raw, line):
        status, text, untagged = raw.cmd(line)
        self.assertEqual(status, "OK", f"{line!r}: {status} {text}")
        return text, untagged

    def no(self, raw, line, code=None):
        status, text, untagged = raw.cmd(line)
        self.assertEqual(status, "NO", f"{line!r}: {status} {text}")
        if code is not None:
            self.assertTrue(text.startswith(f"[{code}]"), f"{line!r}: {text}")
        return text, untagged

    def bad(self, raw, line):
        status, text, _ = raw.cmd(line)
        self.assertEqual(status, "BAD", f"{line!r}: {status} {text}")
        return text

    def listing(self, raw, line):
        _, untagged = self.ok(raw, line)
        return parse_list(untagged)


class TestFolders(FolderBase):
    def test_capabilities(self):
        imap, raw = self.login()
        _, untagged = self.ok(raw, "CAPABILITY")
        caps = untagged[0].decode().split()[2:]
        for cap in ("CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
                    "CREATE-SPECIAL-USE", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
                    "STATUS=SIZE", f"APPENDLIMIT={APPEND_LIMIT}"):
            self.assertIn(cap, caps)
        self.assertNotIn("QUOTASET", caps)   # SETQUOTA is refused

    def test_special_use_after_first_login(self):
        imap, raw = self.login()
        folders = self.listing(raw, 'LIST "" *')
        self.assertIn("INBOX", folders)
        for name, attr in SPECIAL.items():
            self.assertIn(attr, folders[name], name)
            self.assertTrue(os.path.isdir(os.path.join(self.root(), "." + name, "cur")))
        subscribed = self.listing(raw, 'LSUB "" *')
        for name in ["INBOX"] + list(SPECIAL):
            self.assertIn(name, subscribed)
        only_special = self.listing(raw, 'LIST (SPECIAL-USE) "" *')
        self.assertEqual(set(only_special), set(SPECIAL))
        self.assertEqual(self.listing(raw, 'LIST "" * RETURN (SPECIAL-USE)')["Sent"],
                         {"\\HasNoChildren", "\\Sent"})

    def test_create_delete_rename(self):
        imap, raw = self.login()
        root = self.root()
        self.ok(raw, "CREATE Work.Projects.Alpha")
        self.assertTrue(os.path.isdir(os.path.join(root, ".Work.Projects.Alpha", "cur")))
        folders = self.listing(raw, 'LIST "" Work*')
        self.assertEqual(folders["Work"], {"\\Noselect", "\\HasChildren"})
        self.assertEqual(folders["Work.Projects.Alpha"], {"\\HasNoChildren"})
        self.no(raw, "CREATE Work.Projects.Alpha", "ALREADYEXISTS")
        self.no(raw, "CREATE inbox", "ALREADYEXISTS")
        # a trailing delimiter only declares the intent (RFC 3501 6.3.3)
        self.ok(raw, "CREATE Plans.")
        self.assertTrue(os.path.isdir(os.path.join(root, ".Plans")))
        self.assertFalse(os.path.exists(os.path.join(root, ".Plans.")))
        self.ok(raw, "RENAME Work Job")
        self.assertTrue(os.path.isdir(os.path.join(root, ".Job.Projects.Alpha")))
        self.assertFalse(os.path.exists(os.path.join(root, ".Work.Projects.Alpha")))
        self.no(raw, "RENAME Work Elsewhere", "NONEXISTENT")
        self.no(raw, "RENAME Plans Job.Projects.Alpha", "ALREADYEXISTS")
        self.no(raw, "RENAME Plans INBOX", "ALREADYEXISTS")
        self.no(raw, "RENAME Job Job.Inner", "CANNOT")
        self.no(raw, "DELETE INBOX", "CANNOT")
        self.no(raw, "DELETE Nothing", "NONEXISTENT")
        # a level that only exists as a parent
        self.no(raw, "DELETE Job", "HASCHILDREN")
        self.ok(raw, "DELETE Job.Projects.Alpha")
        self.assertFalse(os.path.exists(os.path.join(root, ".Job.Projects.Alpha")))
        self.ok(raw, "DELETE Plans")
        self.assertNotIn("Job", self.listing(raw, 'LIST "" *'))
        self.assertNotIn("Plans", self.listing(raw, 'LIST "" *'))

    def test_delete_keeps_children(self):
        imap, raw = self.login()
        self.ok(raw, "CREATE Parent")
        self.ok(raw, "CREATE Parent.Child")
        self.ok(raw, "DELETE Parent")
        folders = self.listing(raw, 'LIST "" Parent*')
        self.assertEqual(folders["Parent"], {"\\Noselect", "\\HasChildren"})
        self.assertIn("Parent.Child", folders)
        self.ok(raw, "DELETE Parent.Child")
        self.assertEqual(self.listing(raw, 'LIST "" Parent*'), {})

    def test_create_special_use(self):
        imap, raw = self.login()
        root = self.root()
        self.ok(raw, "DELETE Archive")
        self.ok(raw, "CREATE Archive (USE (\\Archive))")
        self.assertIn("\\Archive", self.listing(raw, 'LIST "" Archive')["Archive"])
        # any name may get a special use (RFC 6154 3)
        self.ok(raw, 'CREATE "Sent Items" (USE (\\Sent \\Junk))')
        self.assertEqual(self.listing(raw, 'LIST "" "Sent Items"')["Sent Items"],
                         {"\\HasNoChildren", "\\Sent", "\\Junk"})
        self.assertIn("Sent Items", self.listing(raw, 'LIST (SPECIAL-USE) "" *'))
        self.assertIn("Sent Items", self.listing(raw, 'LIST "" * RETURN (SPECIAL-USE)'))
        with open(os.path.join(root, "mailroom-special-use")) as f:
            self.assertIn("Sent Items\t\\Sent \\Junk\n", f.read())
        # it follows a rename, children included, and goes with DELETE
        self.ok(raw, "CREATE Box.Old (USE (\\Archive))")
        self.ok(raw, "RENAME Box Crate")
        self.assertIn("\\Archive", self.listing(raw, 'LIST "" Crate.Old')["Crate.Old"])
        self.ok(raw, 'RENAME "Sent Items" Outbox')
        self.assertIn("\\Sent", self.listing(raw, 'LIST "" Outbox')["Outbox"])
        self.ok(raw, "DELETE Outbox")
        self.ok(raw, "CREATE Outbox")
        self.assertEqual(self.listing(raw, 'LIST "" Outbox')["Outbox"], {"\\HasNoChildren"})
        # refused: unsupported uses, an existing name; nothing is made
        self.no(raw, "CREATE Stuff (USE (\\All))", "USEATTR")
        self.no(raw, "CREATE Stuff (USE (\\Flagged \\Sent))", "USEATTR")
        self.no(raw, "CREATE Outbox (USE (\\Trash))", "ALREADYEXISTS")
        self.assertEqual(self.listing(raw, 'LIST "" Outbox')["Outbox"], {"\\HasNoChildren"})
        self.no(raw, "CREATE Crate.Old (USE (\\Trash))", "ALREADYEXISTS")
        self.assertEqual(self.listing(raw, 'LIST "" Crate.Old')["Crate.Old"],
                         {"\\HasNoChildren", "\\Archive"})
        self.assertFalse(os.path.exists(os.path.join(root, ".Stuff")))
        self.bad(raw, "CREATE Stuff (FOO (\\Sent))")
        self.bad(raw, "CREATE Stuff (USE \\Sent)")
        self.bad(raw, "CREATE Stuff (USE (Sent))")
        self.bad(raw, "CREATE Stuff ()")
        self.assertFalse(os.path.exists(os.path.join(root, ".Stuff")))
        for name in ("Outbox", "Crate.Old"):
            self.ok(raw, f"DELETE {name}")

    def test_rename_inbox(self):
        imap, raw = self.login()
        deliver(self.mbs.mail_root, USER, MSG.decode())
        deliver(self.mbs.mail_root, USER, MSG.decode())
        before = self.status(raw, "INBOX")["MESSAGES"]
        self.assertGreaterEqual(before, 2)
        self.ok(raw, "RENAME INBOX Old.Inbox")
        self.assertEqual(self.status(raw, "INBOX")["MESSAGES"], 0)
        self.assertEqual(self.status(raw, "Old.Inbox")["MESSAGES"], before)
        self.assertIn("INBOX", self.listing(raw, 'LIST "" INBOX'))
        self.ok(raw, "DELETE Old.Inbox")

    def status(self, raw, name, items="MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE"):
        _, untagged = self.ok(raw, f"STATUS {name} ({items})")
        self.assertEqual(len(untagged), 1, untagged)
        m = re.match(rb"^\* STATUS (.*) \(([^)]*)\)$", untagged[0])
        self.assertIsNotNone(m, untagged)
        words = m.group(2).decode().split()
        return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}

    def test_subscriptions(self):
        imap, raw = self.login()
        self.ok(raw, "SUBSCRIBE Ghost.Child")
        self.ok(raw, "SUBSCRIBE Ghost.Child")
        with open(os.path.join(self.root(), "subscriptions"), "rb") as f:
            self.assertIn(b"Ghost\tChild\n", f.read())
        self.assertEqual(self.listing(raw, 'LSUB "" Ghost*')["Ghost.Child"], set())
        self.assertEqual(self.listing(raw, 'LSUB "" %')["Ghost"], {"\\Noselect"})
        self.assertNotIn("Ghost", self.listing(raw, 'LSUB "" *'))
        sub = self.listing(raw, 'LIST (SUBSCRIBED) "" *')
        self.assertIn("\\NonExistent", sub["Ghost.Child"])
        self.assertIn("\\Subscribed", sub["Ghost.Child"])
        self.assertEqual(sub["Sent"], {"\\Subscribed", "\\HasNoChildren", "\\Sent"})
        _, untagged = self.ok(raw, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" %')
        ghost = [l for l in untagged if l.endswith(b' Ghost ("CHILDINFO" ("SUBSCRIBED"))')]
        self.assertEqual(len(ghost), 1, untagged)
        self.assertNotIn("Ghost.Child", self.listing(raw, 'LIST "" *'))
        self.ok(raw, "UNSUBSCRIBE Ghost.Child")
        self.ok(raw, "UNSUBSCRIBE Ghost.Child")
        self.assertNotIn("Ghost.Child", self.listing(raw, 'LSUB "" *'))
        # subscriptions follow a rename
        self.ok(raw, "CREATE Sub1.Kid")
        self.ok(raw, "SUBSCRIBE Sub1.Kid")
        self.ok(raw, "RENAME Sub1 Sub2")
        lsub = self.listing(raw, 'LSUB "" Sub*')
        self.assertIn("Sub2.Kid", lsub)
        self.assertNotIn("Sub1.Kid", lsub)
        self.ok(raw, "DELETE Sub2.Kid")
        self.ok(raw, "UNSUBSCRIBE Sub2.Kid")

    def test_list_variants(self):
        imap, raw = self.login()
        self.ok(raw, "CREATE Tree.Leaf")
        self.ok(raw, "CREATE caf&AOk-")
        self.ok(raw, 'CREATE "with space"')
        _, untagged = self.ok(raw, 'LIST "" ""')
        self.assertEqual(untagged, [b'* LIST (\\Noselect) "." ""'])
        self.assertEqual(set(self.listing(raw, 'LIST "Tree." %')), {"Tree.Leaf"})
        self.assertEqual(set(self.listing(raw, 'LIST "" %.%')), {"Tree.Leaf"})
        # a level that exists only as a parent (Maildir++ needs no directory)
        self.assertEqual(self.listing(raw, 'LIST "" Tree')["Tree"],
                         {"\\Noselect", "\\HasChildren"})
        self.assertEqual(set(self.listing(raw, 'LIST "" inbox')), {"INBOX"})
        self.assertEqual(set(self.listing(raw, 'LIST "" (inbox Sent nothing)')),
                         {"INBOX", "Sent"})
        self.assertIn("caf&AOk-", self.listing(raw, 'LIST "" caf*'))
        self.assertIn("with space", self.listing(raw, 'LIST "" with*'))
        _, untagged = self.ok(raw, 'LIST "" Tree* RETURN (CHILDREN SUBSCRIBED)')
        self.assertEqual(len(untagged), 2)
        # LIST-STATUS: a STATUS reply after each selectable mailbox
        _, untagged = self.ok(raw, 'LIST "" (Tree* INBOX) RETURN (STATUS (MESSAGES UIDNEXT))')
        statuses = [l for l in untagged if l.startswith(b"* STATUS ")]
        self.assertEqual(len(statuses), 2, untagged)   # INBOX and Tree.Leaf, not Tree
        self.assertTrue(any(l.startswith(b"* STATUS Tree.Leaf (MESSAGES 0 UIDNEXT 1)")
                            for l in statuses), statuses)
        self.assertEqual(self.listing(raw, 'LIST "" nothing*'), {})
        for name in ("Tree.Leaf", "caf&AOk-", '"with space"'):
            self.ok(raw, f"DELETE {name}")

    def test_utf8_accept(self):
        imap, raw = self.login()
        self.ok(raw, "CREATE Gr&APw-n")
        status, text, _ = raw.cmd("ENABLE UTF8=ACCEPT")
        self.assertEqual(status, "OK", text)
        _, untagged = self.ok(raw, 'LIST "" Gr*')
        self.assertEqual(untagged, ['* LIST (\\HasNoChildren) "." "Gr\u00fcn"'.encode()])
        self.ok(raw, 'CREATE "Bl\u00e5"'.encode())
        self.assertTrue(os.path.isdir(os.path.join(self.root(), ".Bl&AOU-")))
        self.ok(raw, 'DELETE "Gr\u00fcn"'.encode())
        self.ok(raw, 'DELETE "Bl\u00e5"'.encode())

    def test_malformed(self):
        imap, raw = self.login()
        for line in ["CREATE", "CREATE a b c", "CREATE (x)", "DELETE", "DELETE a b",
                     "RENAME a", "RENAME a b c", "SUBSCRIBE", "UNSUBSCRIBE a b",
                     "LIST", 'LIST ""', 'LIST (FOO) "" *', 'LIST "" * RETURN (FOO)',
                     'LIST (RECURSIVEMATCH) "" *', 'LIST "" * RETURN CHILDREN',
                     'LIST "" ()', 'LSUB "" * RETURN (CHILDREN)', "LSUB",
                     "STATUS INBOX", "STATUS INBOX ()", "STATUS INBOX (FOO)",
                     "STATUS INBOX MESSAGES", "STATUS (x) (MESSAGES)",
                     "SELECT", "SELECT INBOX (CONDSTORE)", "EXAMINE",
                     "GETQUOTA", 'GETQUOTA "" x', "GETQUOTAROOT", 'SETQUOTA ""',
                     'SETQUOTA "" STORAGE', 'SETQUOTA "" (STORAGE x)', 'SETQUOTA "" (STORAGE)',
                     "APPEND", "APPEND INBOX", 'APPEND INBOX "x"']:
            with self.subTest(line=line):
                self.bad(raw, line)
        for line in ["APPEND INBOX (\\Bogus) {1+}\r\nx", "APPEND INBOX (\\Recent) {1+}\r\nx",
                     'APPEND INBOX "32-Jan-2020 10:00:00 +0000" {1+}\r\nx',
                     "APPEND INBOX () () {1+}\r\nx", "APPEND INBOX ({1+}\r\nx) {1+}\r\nx",
                     "APPEND INBOX NIL {1+}\r\nx", "APPEND INBOX {1+}\r\nx {1+}\r\ny",
                     "APPEND INBOX (\\Seen)"]:
            with self.subTest(line=line):
                self.bad(raw, line)
        self.no(raw, 'SETQUOTA "" (STORAGE 10)', "NOPERM")
        self.no(raw, "APPEND INBOX {0+}\r\n")
        # the mailbox name may come as a literal too
        self.ok(raw, b"APPEND {5+}\r\nINBOX {%d+}\r\n" % len(MSG) + MSG)
        self.ok(raw, "NOOP")

    def test_traversal(self):
        """Names that try to leave the Maildir (or hide in it) are refused,
        and nothing on disk changes."""
        imap, raw = self.login()
        top = os.path.dirname(self.mbs.mail_root)

        def snapshot():
            found = set()
            for d, dirs, files in os.walk(top):
                for n in dirs:
                    found.add(os.path.join(d, n) + "/")
                for n in files:
                    if not n.endswith(".log"):
                        found.add(os.path.join(d, n))
            return found

        self.ok(raw, "NOOP")
        before = snapshot()
        names = ["..", '"../x"', '"a/../../b"', ".hidden", "a..b", "~root", '"x/y"', "&Jjo",
                 '"INBOX/../.."', '"..evil"', '".."', '"."', '""', '"/etc"', "..Sent",
                 '"a.."', "&AC8-etc", "&ZeVnLIqe-&AC8-"]
        for name in names:
            for line in [f"CREATE {name}", f"DELETE {name}", f"SELECT {name}",
                         f"EXAMINE {name}", f"RENAME {name} x", f"RENAME Sent {name}",
                         f"STATUS {name} (MESSAGES)", f"SUBSCRIBE {name}",
                         f"UNSUBSCRIBE {name}", f"GETQUOTAROOT {name}",
                         f"APPEND {name} {{{len(MSG)}+}}\r\n".encode() + MSG]:
                with self.subTest(line=line):
                    if isinstance(line, str):
                        line = line.encode()
                    status, text, _ = raw.cmd(line)
                    self.assertEqual(status, "NO", f"{line!r}: {status} {text}")
        self.ok(raw, "NOOP")
        self.assertEqual(snapshot() - before, set())
        self.assertEqual(before - snapshot(), set())

    def test_status(self):
        imap, raw = self.login()
        self.ok(raw, "CREATE Counted")
        paths = [deliver(self.mbs.mail_root, USER, MSG.decode(), folder="Counted")
                 for _ in range(3)]
        st = self.status(raw, "Counted")
        self.assertEqual(st["MESSAGES"], 3)
        self.assertEqual(st["UNSEEN"], 3)
        self.assertEqual(st["UIDNEXT"], 4)
        self.assertEqual(st["SIZE"], 3 * len(MSG))
        with open(os.path.join(self.root(), ".Counted", "dovecot-uidlist")) as f:
            self.assertEqual(int(f.readline().split()[1][1:]), st["UIDVALIDITY"])
        # STATUS takes no \Recent: a SELECT afterwards still gets them
        self.assertEqual(st["RECENT"], 3)
        self.assertEqual(self.status(raw, "Counted", "RECENT")["RECENT"], 3)
        self.assertEqual(set(self.status(raw, "Counted", "UNSEEN MESSAGES")),
                         {"UNSEEN", "MESSAGES"})
        self.no(raw, "STATUS Nowhere (MESSAGES)", "NONEXISTENT")
        self.ok(raw, "CREATE Shell.Inner")
        self.no(raw, "STATUS Shell (MESSAGES)", "NONEXISTENT")   # a \\Noselect level
        self.ok(raw, "DELETE Shell.Inner")
        # a message gone behind the server's back is no longer counted
        os.unlink(paths[0])
        self.assertEqual(self.status(raw, "Counted", "MESSAGES")["MESSAGES"], 2)
        self.ok(raw, "DELETE Counted")

    def test_select_examine(self):
        imap, raw = self.login()
        self.ok(raw, "CREATE Box")
        for _ in range(2):
            deliver(self.mbs.mail_root, USER, MSG.decode(), folder="Box")
        text, untagged = self.ok(raw, "EXAMINE Box")
        self.assertTrue(text.startswith("[READ-ONLY]"), text)
        self.assertIn(b"* 2 EXISTS", untagged)
        self.assertIn(b"* OK [PERMANENTFLAGS ()] Read-only mailbox.", untagged)
        text, untagged = self.ok(raw, "SELECT Box")
        self.assertTrue(text.startswith("[READ-WRITE]"), text)
        self.assertIn(b"* OK [CLOSED] Previous mailbox closed.", untagged)
        self.assertIn(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)", untagged)
        self.assertIn(b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"
                      b" Flags permitted.", untagged)
        self.assertIn(b"* 2 EXISTS", untagged)
        self.assertIn(b"* 2 RECENT", untagged)
        self.assertIn(b"* OK [UNSEEN 1] First unseen.", untagged)
        self.assertTrue(any(re.match(rb"^\* OK \[UIDVALIDITY \d+\]", l) for l in untagged))
        self.assertIn(b"* OK [UIDNEXT 3] Predicted next UID", untagged)
        # a second session sees no \Recent any more: the first took them
        imap2, raw2 = self.login()
        _, untagged = self.ok(raw2, "EXAMINE Box")
        self.assertIn(b"* 0 RECENT", untagged)
        # a failed SELECT leaves no mailbox selected
        _, untagged = self.no(raw, "SELECT Nowhere", "NONEXISTENT")
        self.assertIn(b"* OK [CLOSED] Previous mailbox closed.", untagged)
        self.assertNotEqual(raw.cmd("CHECK")[0], "OK")
        self.no(raw, "SELECT Bad..Name", "CANNOT")
        self.ok(raw, "SELECT Box")
        # deleting the selected mailbox deselects it
        _, untagged = self.ok(raw, "DELETE Box")
        self.assertIn(b"* OK [CLOSED] Previous mailbox closed.", untagged)
        self.assertNotEqual(raw.cmd("CHECK")[0], "OK")
        self.ok(raw, "SELECT INBOX")

    def test_append(self):
        imap, raw = self.login()
        self.ok(raw, "CREATE Saved")
        date = "14-Jul-2021 09:30:00 +0200"
        typ, data = imap.append("Saved", "(\\Seen \\Flagged $Label)", f'"{date}"', MSG)
        self.assertEqual(typ, "OK")
        m = re.match(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
        self.assertIsNotNone(m, data)
        uidvalidity, uid = int(m.group(1)), int(m.group(2))
        # durable before OK: the file is there, with its flags and date
        cur = os.path.join(self.root(), ".Saved", "cur")
        files = os.listdir(cur)
        self.assertEqual(len(files), 1, files)
        self.assertRegex(files[0], r":2,[A-Z]*F[A-Z]*S[a-z]*$")
        with open(os.path.join(cur, files[0]), "rb") as f:
            self.assertEqual(f.read(), MSG)
        self.assertEqual(int(os.stat(os.path.join(cur, files[0])).st_mtime), 1626247800)
        with open(os.path.join(self.root(), ".Saved", "dovecot-uidlist")) as f:
            header = f.readline().split()
            self.assertEqual(int(header[1][1:]), uidvalidity)
            self.assertIn(f"{uid} ", f.read())
        with open(os.path.join(self.root(), ".Saved", "dovecot-keywords")) as f:
            self.assertIn("$Label", f.read())
        typ, data = imap.append("Saved", None, None, MSG)
        self.assertEqual(typ, "OK")
        self.assertIn(b"[APPENDUID %d %d]" % (uidvalidity, uid + 1), data[0])
        self.assertEqual(self.status(raw, "Saved", "MESSAGES UIDNEXT"),
                         {"MESSAGES": 2, "UIDNEXT": uid + 2})
        # a missing folder: TRYCREATE, and nothing is made
        status, text, _ = raw.cmd(b"APPEND Missing {%d+}\r\n" % len(MSG) + MSG)
        self.assertEqual(status, "NO")
        self.assertTrue(text.startswith("[TRYCREATE]"), text)
        self.assertFalse(os.path.exists(os.path.join(self.root(), ".Missing")))
        # literal+ and a synchronising literal
        self.ok(raw, b"APPEND Saved (\\Draft) {%d+}\r\n" % len(MSG) + MSG)
        raw.n += 1
        tag = b"R%d" % raw.n
        raw.send(tag + b" APPEND Saved {%d}\r\n" % len(MSG))
        self.assertTrue(raw.readline().startswith(b"+"))
        raw.send(MSG + b"\r\n")
        status, text, _ = raw.reply(tag)
        self.assertEqual(status, "OK", text)
        self.assertEqual(self.status(raw, "Saved", "MESSAGES")["MESSAGES"], 4)
        # into the selected mailbox: the new message is announced before OK
        self.ok(raw, "SELECT Saved")
        text, untagged = self.ok(raw, b"APPEND Saved {%d+}\r\n" % len(MSG) + MSG)
        self.assertTrue(text.startswith("[APPENDUID "), text)
        self.assertIn(b"* 5 EXISTS", untagged)
        self.ok(raw, "DELETE Saved")

    def test_name_limits(self):
        imap, raw = self.login()
        longest = "n" * 254
        self.ok(raw, f"CREATE {longest}")
        self.assertTrue(os.path.isdir(os.path.join(self.root(), "." + longest)))
        self.no(raw, f"CREATE {longest}n", "CANNOT")
        self.no(raw, f"SELECT {longest}n", "CANNOT")
        # a rename whose child names would grow too long is refused whole
        self.ok(raw, "CREATE Short.Kid")
        self.ok(raw, "CREATE Short.A")
        self.no(raw, f"RENAME Short {'s' * 251}", "CANNOT")   # Short.Kid: 255 bytes
        self.assertEqual(set(self.listing(raw, 'LIST "" Short*')),
                         {"Short", "Short.Kid", "Short.A"})
        self.no(raw, f"RENAME Short {'.'.join(['e'] * 16)}", "CANNOT")   # Short.Kid: 17 levels
        self.assertEqual(set(self.listing(raw, 'LIST "" Short*')),
                         {"Short", "Short.Kid", "Short.A"})
        deep = ".".join(["d"] * 16)
        self.ok(raw, f"CREATE {deep}")
        self.no(raw, f"CREATE {deep}.d", "CANNOT")
        for name in (longest, "Short.Kid", "Short.A", deep):
            self.ok(raw, f"DELETE {name}")

    def test_append_limit(self):
        imap, raw = self.login()
        # refused when announced: no "+" and the data is never read
        raw.n += 1
        tag = b"R%d" % raw.n
        raw.send(tag + b" APPEND INBOX {%d}\r\n" % (APPEND_LIMIT + 1))
        status, text, _ = raw.reply(tag)
        self.assertEqual(status, "NO")
        self.assertTrue(text.startswith("[TOOBIG]"), text)
        self.ok(raw, "NOOP")
        # a non-synchronising literal over the limit is on its way anyway:
        # refused, its bytes dropped, never read as commands (RFC 7888 4)
        raw.n += 1
        tag = b"R%d" % raw.n
        raw.send(tag + b" APPEND INBOX {%d+}\r\n" % (APPEND_LIMIT + 1) +
                 b"X NOOP\r\n" * ((APPEND_LIMIT + 1) // 8) + b"x" * ((APPEND_LIMIT + 1) % 8) +
                 b"\r\n")
        status, text, untagged = raw.reply(tag)
        self.assertEqual(status, "NO")
        self.assertTrue(text.startswith("[TOOBIG]"), text)
        self.assertEqual(untagged, [])
        self.assertEqual(self.ok(raw, "NOOP")[1], [])
        # just under the limit is fine
        body = b"Subject: big\r\n\r\n" + b"x" * (APPEND_LIMIT - 100) + b"\r\n"
        typ, data = imap.append("INBOX", None, None, body)
        self.assertEqual(typ, "OK", data)

    def test_quota(self):
        imap, raw = self.login(QUOTA_USER, QUOTA_PASSWORD)
        _, untagged = self.ok(raw, "GETQUOTAROOT INBOX")
        self.assertEqual(untagged[0], b'* QUOTAROOT INBOX ""')
        m = re.match(rb'^\* QUOTA "" \(STORAGE (\d+) 1024\)$', untagged[1])
        self.assertIsNotNone(m, untagged)
        used = int(m.group(1))
        _, untagged = self.ok(raw, 'GETQUOTA ""')
        self.assertEqual(untagged, [b'* QUOTA "" (STORAGE %d 1024)' % used])
        self.no(raw, "GETQUOTA other", "NONEXISTENT")
        # fill the store past its quota behind the server's back, then
        # let maildirsize be counted again
        big = deliver(self.mbs.mail_root, QUOTA_USER,
                      "Subject: filler\r\n\r\n" + "y" * (1100 * 1024) + "\r\n")
        try:
            size = os.path.join(self.root(QUOTA_USER), "maildirsize")
            if os.path.exists(size):
                os.unlink(size)
            status, text, _ = raw.cmd(b"APPEND INBOX {%d+}\r\n" % len(MSG) + MSG)
            self.assertEqual(status, "NO")
            self.assertTrue(text.startswith("[OVERQUOTA]"), text)
            _, untagged = self.ok(raw, "GETQUOTAROOT Sent")
            m = re.match(rb'^\* QUOTA "" \(STORAGE (\d+) 1024\)$', untagged[1])
            self.assertGreater(int(m.group(1)), 1024)
        finally:
            os.unlink(big)
            size = os.path.join(self.root(QUOTA_USER), "maildirsize")
            if os.path.exists(size):
                os.unlink(size)
        typ, data = imap.append("INBOX", None, None, MSG)
        self.assertEqual(typ, "OK", data)

    def test_quota_without_limits(self):
        imap, raw = self.login()
        _, untagged = self.ok(raw, "GETQUOTAROOT INBOX")
        self.assertEqual(untagged, [b"* QUOTAROOT INBOX"])
        _, untagged = self.ok(raw, 'GETQUOTA ""')
        self.assertEqual(untagged, [b'* QUOTA "" ()'])
        self.no(raw, "GETQUOTAROOT Bad..Name", "CANNOT")


class TestDovecotListsTheSameTree(FolderBase):
    """A folder tree made through Mailroom, read by Dovecot's own imap
    process on a copy of the Maildir: the same folders, \\Noselect levels,
    children and subscriptions."""

    def test_same_tree(self):
        imap, raw = self.login()
        for line in ["CREATE Projects.2024.Q1", "CREATE Projects.2025", "CREATE caf&AOk-",
                     'CREATE "x y"', "CREATE Lone", "SUBSCRIBE Projects.2025",
                     "UNSUBSCRIBE Junk", "RENAME Lone Alone", "DELETE Archive"]:
            self.ok(raw, line)
        ours = self.listing(raw, 'LIST "" *')
        our_subs = self.listing(raw, 'LSUB "" *')
        self.logout(imap)

        box = doveadm.Sandbox("mr-folders-")
        self.addCleanup(box.remove)
        maildir = box.path("mail")
        shutil.copytree(self.root(), maildir)
        box.chown_all()
        session = box.imap(maildir)
        self.addCleanup(session.close)
        theirs = parse_list(session.command("d1", b'LIST "" *').split(b"\r\n"))
        their_subs = parse_list(session.command("d2", b'LSUB "" *').split(b"\r\n"))

        def plain(listing):
            # Dovecot's sandbox has no special-use configured
            return {n: a - set(SPECIAL.values()) for n, a in listing.items()}

        self.assertEqual(plain(ours), plain(theirs))
        self.assertEqual(set(our_subs), set(their_subs))
        self.assertIn("Projects.2024", ours)
        self.assertEqual(ours["Projects"], {"\\Noselect", "\\HasChildren"})

    def test_dovecot_tree_served(self):
        """The other way: a tree Dovecot made, served by Mailroom."""
        box = doveadm.Sandbox("mr-folders-", ("mail/cur", "mail/new", "mail/tmp"))
        self.addCleanup(box.remove)
        maildir = box.path("mail")
        box.chown_all()
        session = box.imap(maildir)
        for i, line in enumerate([b"CREATE Sent", b"CREATE Lists.Dev.Old", b"CREATE Lists.Ops",
                                  b"CREATE Gr&APw-n", b'CREATE "a b"', b"SUBSCRIBE Lists.Ops",
                                  b"SUBSCRIBE Sent", b"SUBSCRIBE INBOX", b"DELETE Lists.Ops"]):
            self.assertIn(b"d%d OK" % i, session.command("d%d" % i, line))
        theirs = parse_list(session.command("l1", b'LIST "" *').split(b"\r\n"))
        their_subs = parse_list(session.command("l2", b'LSUB "" *').split(b"\r\n"))
        session.close()
        root = self.root(QUOTA_USER)
        self.assertFalse(os.path.exists(root))
        os.makedirs(os.path.dirname(root), exist_ok=True)
        shutil.copytree(maildir, root)

        imap, raw = self.login(QUOTA_USER, QUOTA_PASSWORD)
        ours = self.listing(raw, 'LIST "" *')
        our_subs = self.listing(raw, 'LSUB "" *')
        # no special-use folders were added to a store that has folders
        self.assertNotIn("Drafts", ours)
        self.assertEqual({n: a - {"\\Sent"} for n, a in ours.items()}, theirs)
        self.assertIn("\\Sent", ours["Sent"])
        self.assertEqual(set(our_subs), set(their_subs))
        self.assertIn("Lists.Ops", our_subs)   # subscribed, folder deleted
        self.assertIn("Gr&APw-n", ours)


if __name__ == "__main__":
    unittest.main()
