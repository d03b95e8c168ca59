"""Mailroom's BODY, BODYSTRUCTURE, ENVELOPE and BODY[section] against
Debian's Dovecot (doveadm) for the sample messages in tests/data/mime/.

Every sample goes into a throwaway Maildir; doveadm fetches
imap.body, imap.bodystructure, imap.envelope and body.<section> for each,
and tests/unit/mime-tool prints Mailroom's rendering of the same file.
doveadm prints BODY and BODYSTRUCTURE without their outer parentheses and
sections with every line end as CRLF; the comparison allows for both.

Where Mailroom differs on purpose, the difference is asserted here and
explained in docs/mime.md (KNOWN_DIFFERENCES). doveadm runs without a
Dovecot server, as in test_maildir_dovecot.py; as root both run as
"nobody", since Dovecot refuses mail access as root.
"""
import json
import os
import re
import shutil
import subprocess
import unittest

import doveadm
import mrtest

TOOL = os.path.join(mrtest.BUILDDIR, "tests", "unit", "mime-tool")
DATA = os.path.join(mrtest.SRCDIR, "tests", "data", "mime")
TIMEOUT = 60
SECTIONS = ["header", "text", "1", "2", "3", "1.mime", "2.mime", "1.1", "1.2", "2.1",
            "2.2", "2.header", "2.text", "2.2.mime", "2.1.1"]
# Samples where Mailroom's BODYSTRUCTURE differs from Dovecot's on purpose.
KNOWN_DIFFERENCES = {"bad-content-type.eml", "deep-nesting.eml"}


def decode(raw):
    return raw.decode("utf-8", "surrogateescape")


class MimeDovecot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.box = doveadm.Sandbox("mr-mime-", ("mail/cur", "mail/new", "mail/tmp"))
        if not os.access(TOOL, os.X_OK):
            cls.box.remove()
            raise unittest.SkipTest(f"{TOOL} is not built")
        cls.top = cls.box.top
        # One message per sample; the file name order gives the UIDs.
        cls.names = sorted(n for n in os.listdir(DATA) if n.endswith(".eml"))
        for i, name in enumerate(cls.names):
            shutil.copy(os.path.join(DATA, name),
                        os.path.join(cls.top, "mail", "cur", f"{1000 + i}.M{i}P1.mr:2,"))
        cls.box.chown_all()
        fields = ["uid", "imap.body", "imap.bodystructure", "imap.envelope"]
        fields += ["body." + s for s in SECTIONS]
        proc = cls.doveadm(["fetch", " ".join(fields), "mailbox", "INBOX", "all"])
        if proc.returncode != 0:
            cls.box.remove()
            print("# doveadm cannot run here: " + decode(proc.stdout).replace("\n", "\n# "))
            raise unittest.SkipTest("doveadm cannot read a Maildir here")
        rows = json.loads(decode(proc.stdout))
        cls.dovecot = {cls.names[int(r["uid"]) - 1]: r for r in rows}

    @classmethod
    def tearDownClass(cls):
        cls.box.remove()

    @classmethod
    def doveadm(cls, args):
        return cls.box.doveadm(cls.box.path("mail"), args, "json", text=False, demote=True)

    def tool(self, *args):
        proc = subprocess.run([TOOL] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0, f"mime-tool {args}: {decode(proc.stderr)}")
        return decode(proc.stdout).rstrip("\n")

    def mailroom(self, item, name):
        return self.tool(item, os.path.join(DATA, name))

    def test_all_samples_fetched(self):
        self.assertEqual(sorted(self.dovecot), self.names)

    # Mismatches are gathered and asserted once: tests/lib/taprun.py
    # does not report failures inside subTest().
    def test_body_and_bodystructure(self):
        wrong = []
        for name in self.names:
            if name in KNOWN_DIFFERENCES:
                continue
            for item in ("body", "bodystructure"):
                ours = self.mailroom(item, name)
                theirs = "(" + self.dovecot[name]["imap." + item] + ")"
                if ours != theirs:
                    wrong.append((name, item, ours, theirs))
        self.assertEqual(wrong, [])

    def test_envelope(self):
        wrong = []
        for name in self.names:
            ours = self.mailroom("envelope", name)
            theirs = "(" + self.dovecot[name]["imap.envelope"] + ")"
            if ours != theirs:
                wrong.append((name, ours, theirs))
        self.assertEqual(wrong, [])

    def test_sections(self):
        wrong = []
        for name in self.names:
            with open(os.path.join(DATA, name), "rb") as f:
                data = f.read()
            for spec in SECTIONS:
                offset, size, vsize = map(int, self.tool("section", spec,
                                                         os.path.join(DATA, name)).split())
                raw = data[offset:offset + size]
                crlf = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
                # IMAP cannot carry NUL in a literal: the FETCH layer
                # sends 0x80 for it (docs/mime.md), as Dovecot does.
                crlf = crlf.replace(b"\0", b"\x80")
                # doveadm's JSON shows bytes that are not UTF-8 as U+FFFD.
                ours = crlf.decode("utf-8", "replace")
                if len(crlf) != vsize or ours != self.dovecot[name]["body." + spec]:
                    wrong.append((name, spec, ours, self.dovecot[name]["body." + spec]))
        self.assertEqual(wrong, [])

    def test_bad_content_type_difference(self):
        """Dovecot sends "" "" for a Content-Type without a subtype;
        Mailroom applies RFC 2045 5.2 (text/plain; charset=us-ascii), so
        a client still sees a text part with its line count."""
        name = "bad-content-type.eml"
        self.assertEqual(self.dovecot[name]["imap.bodystructure"],
                         '"" "" NIL NIL NIL "7bit" 6 NIL NIL NIL NIL')
        self.assertEqual(self.mailroom("bodystructure", name),
                         '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)')

    def test_depth_bound_difference(self):
        """Dovecot nests the 26 multipart levels; Mailroom stops at 20
        (its bound) and shows the 20th level as a text/plain leaf holding
        the rest, with the same size as Dovecot's part at that place."""
        name = "deep-nesting.eml"
        ours = self.mailroom("bodystructure", name)
        theirs = self.dovecot[name]["imap.bodystructure"]
        self.assertEqual(theirs.count('"mixed"'), 26)
        self.assertEqual(ours.count('"mixed"'), 20)
        self.assertTrue(ours.startswith("(" * 21 + '"text" "plain" ("charset" "us-ascii") NIL NIL'),
                        ours)
        # Outside the cut, both agree level by level.
        self.assertEqual(ours[ours.index(' "mixed" ("boundary" "lvl19")'):],
                         theirs[theirs.index(' "mixed" ("boundary" "lvl19")'):] + ")")


if __name__ == "__main__":
    unittest.main()
