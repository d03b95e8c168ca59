"""One scripted IMAP session, the commands a Thunderbird or Roundcube
session sends, run against Mailroom (a running mailroom-mbs, over imaps
with LOGIN) and against Dovecot (Debian's /usr/lib/dovecot/imap, one
preauthenticated session over pipes) on two copies of one Maildir.

The Maildir is seeded once (INBOX with five messages of assorted flags,
keywords and dates, the special-use folders, a folder with a child, a
subscriptions file), and Dovecot's doveadm gives it its dovecot-uidlist
files before the copy, so UIDVALIDITY and UIDs are the same on both sides
and COPYUID/APPENDUID codes can be compared as they are.

Replies are normalised where they legitimately differ (tags, the text
after OK/NO/BAD/BYE and after "+", the order of untagged responses other
than EXPUNGE, the order of FETCH items and of LIST attributes, the ID
server fields, the CAPABILITY list, which is checked apart) and the rest
compared. The remaining differences, each decided from the RFCs, are in
KNOWN below with their reason, asserted to still be there so that the
list stays true, and described in docs/imap-messages.md ("Differences
from Dovecot")."""
import atexit
import os
import re
import select
import shutil
import socket
import time
import unittest

import doveadm
import mbstest

USER, PASSWORD = "demo@example.test", "demo"
TIMEOUT = 10
T0 = 1704103200  # Mon, 01 Jan 2024 10:00:00 UTC, INTERNALDATE of message 1

# --------------------------------------------------------------- the mailbox

PLAIN = ("From: Alice <alice@example.test>\r\nTo: Demo <demo@example.test>\r\n"
         "Subject: {subject}\r\nDate: {date}\r\nMessage-ID: <{mid}@seed.test>\r\n{extra}"
         "\r\n{body}")
MULTIPART = (
    "From: \"Bob Sender\" <bob@example.test>\r\nTo: demo@example.test, carol@example.test\r\n"
    "Cc: Dave <dave@example.test>\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= with a file\r\n"
    "Date: Tue, 02 Jan 2024 11:30:00 +0100\r\nMessage-ID: <multi@seed.test>\r\n"
    "In-Reply-To: <m1@seed.test>\r\nReferences: <m1@seed.test>\r\nX-Priority: 1\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    "preamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
    "--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    "\r\nGr\u00fc\u00dfe, plain.\r\n--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    "<p>Hello, html.</p>\r\n--inner--\r\n--outer\r\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKZW5kCg==\r\n--outer--\r\n")


def seed_messages():
    """(folder, Maildir subdir, info flags, mtime, text) for the seed."""
    def plain(n, subject, body="Hello there.\r\n", extra="", day=1):
        return PLAIN.format(subject=subject, date=f"Mon, 0{day} Jan 2024 10:00:00 +0000",
                            mid=f"m{n}", extra=extra, body=body)
    return [
        ("", "cur", "S", T0, plain(1, "Lunch on Friday")),
        ("", "cur", "Fa", T0 + 86400, MULTIPART),
        ("", "cur", "", T0 + 2 * 86400, plain(3, "Quarterly report draft",
                                              body="Numbers attached.\r\nregards\r\n", day=3)),
        ("", "cur", "RS", T0 + 3 * 86400, plain(4, "Re: Lunch on Friday",
                                               extra="In-Reply-To: <m1@seed.test>\r\n", day=4)),
        ("", "new", None, T0 + 4 * 86400, plain(5, "Newsletter", body="Unread news.\r\n", day=5,
                                                extra="List-Id: <news.example.test>\r\n")),
        ("Sent", "cur", "S", T0 + 5 * 86400, plain(6, "Sent one")),
        ("Work", "cur", "S", T0 + 6 * 86400, plain(7, "Work item")),
        ("Work.Sub", "cur", "", T0 + 7 * 86400, plain(8, "Sub item")),
    ]


FOLDERS = ("Sent", "Drafts", "Trash", "Junk", "Archive", "Work", "Work.Sub")


def build_seed(top):
    """A Maildir++ store at top as described above."""
    for folder in ("",) + FOLDERS:
        d = os.path.join(top, "." + folder) if folder else top
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        if folder:
            open(os.path.join(d, "maildirfolder"), "w").close()
    with open(os.path.join(top, "dovecot-keywords"), "w") as f:
        f.write("0 $Forwarded\n")
    with open(os.path.join(top, "subscriptions"), "w") as f:
        f.write("INBOX\nSent\nDrafts\nTrash\nWork\n")
    for n, (folder, sub, flags, mtime, text) in enumerate(seed_messages(), 1):
        d = os.path.join(top, "." + folder) if folder else top
        data = text.encode()
        name = f"{mtime}.M{n:06d}P1.seed,S={len(data)}"
        if flags is not None:
            name += ":2," + flags
        path = os.path.join(d, sub, name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (mtime, mtime))


DOVECOT_NAMESPACE = """
namespace inbox {
  inbox = yes
  separator = .
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Trash {
    special_use = \\Trash
  }
  mailbox Junk {
    special_use = \\Junk
  }
  mailbox Archive {
    special_use = \\Archive
  }
}
"""

# ------------------------------------------------------------- the session

APPEND_MSG = (b"From: Demo <demo@example.test>\r\nTo: Alice <alice@example.test>\r\n"
              b"Subject: A draft\r\nDate: Wed, 10 Jan 2024 09:00:00 +0000\r\n"
              b"Message-ID: <draft1@seed.test>\r\n\r\nNot finished yet.\r\n")
HEADER_FIELDS = (b"BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority "
                 b"X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)]")


def lit(data):
    """A non-synchronising literal (RFC 7888), as Thunderbird sends them."""
    return b"{%d+}\r\n" % len(data) + data


def sync_lit(data):
    """A synchronising literal: sent once the server said "+"."""
    return b"{%d}\r\n" % len(data) + data


# IDLE is sent as "IDLE", the continuation read, then "DONE".
SESSION = [
    # connection set-up, as Thunderbird and Roundcube do after login
    b"LOGIN demo@example.test demo",
    b'ID ("name" "Thunderbird" "version" "115.6.0")',
    b"ENABLE X-NO-SUCH-EXTENSION",
    b"NAMESPACE",
    b'LIST (SPECIAL-USE) "" "*"',
    b'LIST "" "*" RETURN (SPECIAL-USE SUBSCRIBED CHILDREN)',
    b'LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES UNSEEN UIDVALIDITY UIDNEXT))',
    b'LIST "" "%" RETURN (STATUS (MESSAGES RECENT UNSEEN))',
    b'LIST "" ""',
    b'LSUB "" "*"',
    b'LIST "" "Work.%"',
    b"STATUS Sent (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)",
    b"STATUS Work.Sub (MESSAGES UNSEEN)",
    # the folder view
    b"SELECT INBOX",
    b"UID FETCH 1:* (FLAGS)",
    b"UID FETCH 1:* (UID RFC822.SIZE FLAGS " + HEADER_FIELDS + b")",
    b"UID FETCH 1:* (UID RFC822.SIZE FLAGS INTERNALDATE BODYSTRUCTURE ENVELOPE)",
    b"UID FETCH 2 (UID BODY.PEEK[HEADER.FIELDS (DATE FROM TO SUBJECT CONTENT-TYPE CC "
    b"REPLY-TO LIST-POST DISPOSITION-NOTIFICATION-TO X-PRIORITY)])",
    b"UID FETCH 2 (UID BODY.PEEK[1.1] BODY.PEEK[1.2.MIME] BODY.PEEK[2]<0.8>)",
    b"FETCH 1:3 (UID FLAGS)",
    # searches
    b"UID SEARCH UNSEEN",
    b"UID SEARCH UNDELETED",
    b"UID SEARCH NOT DELETED SINCE 3-Jan-2024",
    b"UID SEARCH OR FROM alice FROM bob",
    b'UID SEARCH SUBJECT "lunch"',
    b"UID SEARCH HEADER Message-ID <m4@seed.test>",
    b"UID SEARCH KEYWORD $Forwarded",
    b"UID SEARCH FLAGGED",
    b"UID SEARCH UID 3:*",
    b"UID SEARCH 2:4 LARGER 300",
    b"UID SEARCH CHARSET UTF-8 SUBJECT " + lit("gr\u00fc\u00dfe".encode()),
    b"UID SEARCH CHARSET ISO-8859-1 SUBJECT " + lit("gr\u00fc\u00dfe".encode("latin-1")),
    b"UID SEARCH SUBJECT " + lit("gr\u00fc\u00dfe".encode()),
    b"UID SEARCH CHARSET KOI8-R SUBJECT lunch",
    b'UID SEARCH SUBJECT "' + "gr\u00fc\u00dfe".encode() + b'"',
    b"UID SEARCH TEXT regards",
    b"UID SEARCH BODY html",
    b"UID SEARCH HEADER List-Id news",
    # flags
    b"UID STORE 3 +FLAGS.SILENT (\\Seen)",
    b"UID STORE 5 +FLAGS (\\Flagged)",
    b"UID STORE 1 +FLAGS ($Label1)",
    b"UID STORE 1 -FLAGS.SILENT ($Label1)",
    b"UID STORE 4 FLAGS (\\Answered)",
    b"UID FETCH 1:* (FLAGS)",
    # copy, move, append
    b"UID COPY 1 Trash",
    b"UID COPY 2:3 Archive",
    b"UID MOVE 4 Archive",
    b"APPEND Drafts (\\Draft \\Seen) \"10-Jan-2024 09:00:00 +0000\" " + lit(APPEND_MSG),
    b"APPEND INBOX \"11-Jan-2024 08:00:00 +0100\" " + lit(APPEND_MSG),
    b"STATUS Drafts (MESSAGES UIDNEXT UNSEEN)",
    b"STATUS Archive (MESSAGES UIDNEXT)",
    b"NOOP",
    # delete and expunge
    b"UID STORE 1 +FLAGS.SILENT (\\Deleted)",
    b"UID STORE 3 +FLAGS.SILENT (\\Deleted)",
    b"EXPUNGE",
    b"UID FETCH 1:* (UID FLAGS)",
    b"STATUS INBOX (MESSAGES UNSEEN UIDNEXT)",
    b"IDLE",
    b"CHECK",
    b"CLOSE",
    # read-only view, then back to INBOX
    b"EXAMINE Archive",
    b"UID FETCH 1:* (UID FLAGS ENVELOPE)",
    b"UID STORE 1 +FLAGS (\\Seen)",
    b"UNSELECT",
    b"SELECT Drafts",
    b"UID FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
    b"UID STORE 1 -FLAGS.SILENT (\\Seen)",
    b"CLOSE",
    # folder management, as a client's folder pane does it
    b"CREATE Projects.",
    b'LIST "" "Projects*"',
    b"CREATE Projects.2024.Q1",
    b'LIST "" "Projects.*"',
    b"CREATE &AMk-t&AOk-",
    b'LIST "" "&AMk-*"',
    b"SUBSCRIBE Projects.2024.Q1",
    b'LSUB "" "*"',
    b'LSUB "" "Projects.%"',
    b'LIST (SUBSCRIBED) "" "*"',
    b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)',
    b"SUBSCRIBE NoSuchFolder",
    b"UNSUBSCRIBE NoSuchFolder",
    b"UNSUBSCRIBE Projects.2024.Q1",
    b"CREATE Bad&Name",
    b"CREATE Wild*card",
    b"CREATE Wild%card",
    b'CREATE "Wild*card"',
    b"CREATE Empty..Level",
    b"CREATE INBOX.Child",
    b'LIST "" "INBOX*"',
    b"DELETE INBOX.Child",
    b"RENAME Projects Plans",
    b'LIST "" "Plans*"',
    b'LIST "" "Projects*"',
    b"DELETE Plans.2024.Q1",
    b"DELETE Plans",
    b'LIST "" "Plans*"',
    b"RENAME Plans Work",
    b"RENAME NoSuchFolder Other",
    b'CREATE "My Folder"',
    b'CREATE "R&-D"',
    b'CREATE "Quo\\"te"',
    b'LIST "" "My*"',
    b'LIST "" "R*"',
    b'LIST "" "Quo*"',
    b'SELECT "My Folder"',
    b'APPEND "My Folder" ' + lit(APPEND_MSG),
    b'STATUS "My Folder" (MESSAGES)',
    b"UID FETCH 4294967295 (FLAGS)",
    b"UID FETCH 4294967296 (FLAGS)",
    b"UID SEARCH UID 1:4294967295",
    b"FETCH 1:4294967296 (FLAGS)",
    b"CLOSE",
    b'DELETE "My Folder"',
    b'DELETE "R&-D"',
    b'DELETE "Quo\\"te"',
    b'SELECT "INBOX"',
    b"CLOSE",
    b"CREATE Work",
    b"DELETE NoSuchFolder",
    b'LIST "Work" "%"',
    b'LIST "" "inbox"',
    b"STATUS inbox (MESSAGES)",
    b"EXAMINE inbox",
    b"UID FETCH * (UID)",
    b"UID FETCH 5:3 (UID)",
    b"FETCH *:2 (UID)",
    b"FETCH 1:* FAST",
    b"UID SEARCH *",
    b"SELECT INBOX",
    b"FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])",
    b"FETCH 1 (FLAGS)",
    b"STORE 1 FLAGS ()",
    b"UID EXPUNGE 1:*",
    b"APPEND INBOX {0+}\r\n",
    b"UNSELECT",
    b"UNSELECT",
    b"CLOSE",
    # lower case everywhere: commands, items, flags, keys, charsets
    b"select inbox",
    b"uid fetch 1:* (flags rfc822.size internaldate)",
    b"fetch 1 (body.peek[header.fields (subject from)] uid)",
    b"fetch 1 (body.peek[header.fields.not (subject from)])",
    b"uid search charset utf-8 subject lunch",
    b"uid search or unseen flagged",
    b"store 1 +flags.silent (\\seen $forwarded)",
    b"uid fetch 1 (flags)",
    b"store 1 -flags.silent (\\seen $forwarded)",
    b"status inbox (messages uidnext)",
    b'list "" inbox',
    b'list "" work*',
    b"idle",
    b"noop",
    b"close",
    # what K-9/Android and Outlook send (read-only view, so nothing changes)
    b'EXAMINE "INBOX"',
    b"UID SEARCH 1:* NOT DELETED",
    b"UID FETCH 1:* (UID INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (date subject from "
    b"content-type to cc reply-to message-id references in-reply-to X-K9mail-Identity)])",
    b"UID FETCH 2 (UID BODYSTRUCTURE)",
    b"UID FETCH 2 (UID BODY.PEEK[1.1]<0.4096> BODY.PEEK[1.1.MIME] BODY.PEEK[2]<0.10>)",
    b"UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])",
    b"UID FETCH 2 (UID RFC822.SIZE BODY.PEEK[]<0.2048>)",
    b"FETCH 1:* (UID)",
    b'XLIST "" "*"',
    b"CLOSE",
    # an empty folder: "*" and 1:* name no message
    b"SELECT Junk",
    b"UID FETCH 1:* (FLAGS)",
    b"UID SEARCH *",
    b"UID STORE 1:* +FLAGS (\\Seen)",
    b"FETCH 1:* (FLAGS)",
    b"SEARCH *",
    b"SEARCH 1:*",
    b"STORE 1:* +FLAGS (\\Seen)",
    b"COPY 1:* Trash",
    b"EXPUNGE",
    b"CLOSE",
    # malformed and refused variants
    b"LIST",
    b'LIST "" "*" RETURN (NO-SUCH-OPTION)',
    b"STATUS INBOX ()",
    b"STATUS INBOX (BOGUS)",
    b"STATUS NoSuchFolder (MESSAGES)",
    b"SELECT",
    b"SELECT NoSuchFolder",
    b"FETCH 1 (FLAGS)",
    b"ENABLE",
    b'ID ("name")',
    b"ID (",
    b"CREATE INBOX",
    b"DELETE INBOX",
    b"APPEND NoSuchFolder " + lit(APPEND_MSG),
    b"APPEND Drafts (\\Seen) \"not a date\" " + sync_lit(APPEND_MSG),
    b"APPEND Drafts (\\Bogus) " + sync_lit(APPEND_MSG),
    b"APPEND Drafts (\\Seen) " + sync_lit(APPEND_MSG),
    b"SELECT INBOX",
    b"FETCH 1 (FLAGS",
    b"FETCH 1 (NO-SUCH-ITEM)",
    b"FETCH 0 (FLAGS)",
    b"FETCH 99 (FLAGS)",
    b"UID FETCH 99 (FLAGS)",
    b"FETCH 1 BODY[HEADER.FIELDS ()]",
    b"UID SEARCH NO-SUCH-KEY",
    b"UID SEARCH CHARSET X-NO-SUCH-CHARSET TEXT x",
    b"UID SEARCH SINCE 32-Jan-2024",
    b"UID STORE 1 +FLAGS (\\Bogus)",
    b"UID STORE 1 BADFLAGS (\\Seen)",
    b"UID COPY 2 NoSuchFolder",
    b"UID COPY 99 Trash",
    b"UID MOVE 99 Trash",
    b"COPY 99 Trash",
    b"EXPUNGE extra",
    b"NOOP extra",
    b"IDLE extra",
    b"NO-SUCH-COMMAND",
    b"UID NO-SUCH-COMMAND 1",
    b"CLOSE",
    b"FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<5.10> RFC822.HEADER)",
    b"EXAMINE INBOX",
    b"FETCH 1:* (BODY.PEEK[HEADER.FIELDS.NOT (Subject Date From To Message-ID)])",
    b"FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<5.10> RFC822.HEADER RFC822.SIZE)",
    b"FETCH 1 RFC822",
    b"UID SEARCH 1,3:*",
    b"UID SEARCH UID 1:* NOT UID 2",
    b"SEARCH UNSEEN",
    b"SELECT INBOX",
    b"FETCH 1 (RFC822)",
    b"UID STORE 1:* -FLAGS (\\Seen)",
    b"STORE 1 +FLAGS.SILENT ($Forwarded)",
    b"COPY 1:2 Trash",
    b"STATUS Trash (MESSAGES UIDNEXT)",
    b"UNSELECT",
    b"RENAME INBOX OldInbox",
    b"STATUS OldInbox (MESSAGES UIDNEXT)",
    b"STATUS INBOX (MESSAGES UIDNEXT)",
    b'LIST "" "*Inbox*"',
    b"LOGOUT",
]


# ------------------------------------------------------------ normalising

def tokens(text):
    """IMAP tokens of an item list: atoms (with [..] and <..> kept whole),
    quoted strings, literals (as their data) and parenthesised lists (as
    Python lists); strings and literals compare by value."""
    pos = 0

    def parse():
        nonlocal pos
        out = []
        while pos < len(text):
            c = text[pos:pos + 1]
            if c == b" ":
                pos += 1
            elif c == b"(":
                pos += 1
                out.append(parse())
            elif c == b")":
                pos += 1
                return out
            elif c == b'"':
                end = pos + 1
                buf = bytearray()
                while text[end:end + 1] != b'"':
                    if text[end:end + 1] == b"\\":
                        end += 1
                    buf += text[end:end + 1]
                    end += 1
                out.append(("s", bytes(buf)))
                pos = end + 1
            elif c == b"{":
                end = text.index(b"}", pos)
                n = int(text[pos + 1:end].rstrip(b"+"))
                start = end + 3
                out.append(("s", text[start:start + n]))
                pos = start + n
            else:
                m = re.compile(rb"[^ ()\[]+(\[[^\]]*\])?(<[0-9.]+>)?").match(text, pos)
                atom = m.group(0)
                pos = m.end()
                out.append(("s", None) if atom.upper() == b"NIL" else atom)
        return out
    return parse()


def fetch_items(text):
    """{item name: value} of a FETCH item list; flags as a sorted list."""
    toks = tokens(text)
    items = {}
    for i in range(0, len(toks) - 1, 2):
        name, value = toks[i].upper(), toks[i + 1]
        if name == b"FLAGS":
            value = sorted(value)
        items[name] = value
    return items


def flag_list(text):
    return b"(" + b" ".join(sorted(text.split())) + b")"


# Response codes of RFC 5530 are advisory ("servers MAY"; RFC 5530 3):
# Mailroom sends them, this Dovecot configuration mostly does not.
ADVISORY_CODES = (b"NONEXISTENT", b"CANNOT", b"ALREADYEXISTS", b"CLIENTBUG", b"SERVERBUG",
                  b"UNAVAILABLE", b"LIMIT", b"INUSE", b"EXPUNGEISSUED")
CHILD_ATTRS = {b"\\HasChildren", b"\\HasNoChildren"}
SPECIAL_USE_ATTRS = {b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk", b"\\Archive",
                     b"\\All", b"\\Flagged"}


def list_line(cmd, verb, attrs, rest):
    """A LIST or LSUB response. Attributes a command did not ask for may
    come or not: \\HasChildren and \\HasNoChildren when LIST-EXTENDED
    options are given without CHILDREN (RFC 5258 4: "MAY" without it,
    and LIST-EXTENDED takes the options as what the client wants), the
    special uses without SPECIAL-USE (RFC 6154 2: "MAY" on LIST), and
    both on LSUB. The CHILDINFO tag is an astring: quoted or not is
    the same (RFC 5258 6)."""
    words = set(attrs.split())
    extended = re.match(rb"(LIST|LSUB) (\(|\"[^\"]*\" \S+ RETURN)", cmd.upper()) is not None
    if verb == b"LSUB" or (extended and b"CHILDREN" not in cmd.upper()):
        words -= CHILD_ATTRS
    if verb == b"LSUB" or b"SPECIAL-USE" not in cmd.upper():
        words -= SPECIAL_USE_ATTRS
    rest = rest.replace(b'("CHILDINFO" ', b"(CHILDINFO ")
    return b"* " + verb + b" " + flag_list(b" ".join(words)) + b" " + rest


def normalise_line(cmd, line):
    """One untagged response (or the tagged one, tag removed)."""
    m = re.match(rb"(\* |)(OK|NO|BAD|BYE|PREAUTH)( \[[^\]]*\])?(.*)$", line, re.S)
    if m:
        code = m.group(3) or b""
        if code[2:-1].split(b" ")[0] in ADVISORY_CODES:
            code = b""
        # BADCHARSET may list the charsets (RFC 3501 7.1)
        code = re.sub(rb"^ \[BADCHARSET .*\]$", b" [BADCHARSET]", code)
        # flag lists inside codes: order is free
        code = re.sub(rb"\(([^()]*)\)", lambda f: flag_list(f.group(1)), code)
        return m.group(1) + m.group(2) + code
    if line.startswith(b"+"):
        return b"+"
    m = re.match(rb"\* (\d+) FETCH \((.*)\)$", line, re.S)
    if m:
        return (b"* " + m.group(1) + b" FETCH", sorted(fetch_items(m.group(2)).items(),
                                                       key=lambda kv: kv[0]))
    m = re.match(rb"\* (LIST|LSUB) \(([^)]*)\) (.*)$", line, re.S)
    if m:
        return list_line(cmd, m.group(1), m.group(2), m.group(3))
    m = re.match(rb"\* (FLAGS) \(([^)]*)\)$", line)
    if m:
        return b"* FLAGS " + flag_list(m.group(2))
    m = re.match(rb"\* STATUS (\S+|\"[^\"]*\") \((.*)\)$", line)
    if m:
        name = m.group(1).strip(b'"')
        # INBOX is case-insensitive (RFC 3501 5.1): Mailroom names it
        # INBOX, Dovecot echoes the client's spelling
        if name.upper() == b"INBOX":
            name = b"INBOX"
        t = m.group(2).split()
        return (b"* STATUS " + name, sorted(zip(t[0::2], t[1::2])))
    if line.startswith(b"* ID "):
        # the server's own name and version (RFC 2971 3.3)
        return b"* ID"
    if line.startswith(b"* CAPABILITY "):
        return b"* CAPABILITY"  # compared apart (test_capabilities)
    m = re.match(rb"\* (SEARCH)(.*)$", line)
    if m:
        return b"* SEARCH " + b" ".join(sorted(m.group(2).split(), key=int))
    return line


def expunged(numbers):
    """The messages a run of "* n EXPUNGE" removed, as sequence numbers
    before the first one: ascending and descending runs name the same
    messages differently (each EXPUNGE renumbers the rest, RFC 3501
    7.4.1)."""
    left = list(range(1, 10000))
    gone = []
    for n in numbers:
        gone.append(left.pop(n - 1))
    return sorted(gone)


class Validities:
    """UIDVALIDITY values: those of the seeded folders are the same on
    both sides and stay; a folder made during the session gets one from
    each server's clock (RFC 3501 2.3.1.1 asks only that it never
    repeats for a name), which becomes "new"."""

    def __init__(self, seeded):
        self.seeded = seeded

    def __call__(self, line):
        def one(m):
            return m.group(1) + (m.group(2) if m.group(2) in self.seeded else b"new")
        return re.sub(rb"((?:UIDVALIDITY|APPENDUID|COPYUID) )(\d+)", one, line)


def normalise(cmd, reply, validities=None):
    """A reply (list of responses, the tagged one last) in a form where
    only differences that matter remain."""
    if validities is not None:
        reply = [validities(r) for r in reply]
    *untagged, tagged = reply
    lines = [normalise_line(cmd, r) for r in untagged]
    # the order of untagged responses is free (RFC 3501 5.5, 7) but for
    # EXPUNGE: those become the set of messages they removed
    exp = [int(l.split()[1]) for l in lines
           if isinstance(l, bytes) and re.fullmatch(rb"\* \d+ EXPUNGE", l)]
    rest = sorted((l for l in lines
                   if not (isinstance(l, bytes) and re.fullmatch(rb"\* \d+ EXPUNGE", l))),
                  key=repr)
    if exp:
        rest.append((b"EXPUNGED", expunged(exp)))
    return rest + [normalise_line(cmd, tagged)]


# --------------------------------------------------------------- sessions

class _Reader:
    """Reads responses, a whole one (literals included) at a time."""

    def __init__(self):
        self.buf = bytearray()

    def _more(self, deadline):
        raise NotImplementedError

    def response(self, timeout=TIMEOUT):
        """One response, CRLF stripped; literals inlined as {n}CRLF data."""
        deadline = time.monotonic() + timeout
        pos = 0
        while True:
            end = self.buf.find(b"\r\n", pos)
            if end < 0:
                self._more(deadline)
                continue
            m = re.search(rb"\{(\d+)\+?\}$", self.buf[pos:end])
            if m:
                need = end + 2 + int(m.group(1))
                while len(self.buf) < need:
                    self._more(deadline)
                pos = need
                continue
            out = bytes(self.buf[:end])
            del self.buf[:end + 2]
            return out

    def command(self, tag, line):
        """Send one command; every response up to the tagged one, which
        comes last with its tag removed. A synchronising literal ({n}) is
        sent after the server's "+" only, as a client must (RFC 3501
        7.5); a tagged reply instead ends the command there. IDLE: DONE
        after the "+"."""
        parts = re.split(rb"(?<=\{\d)(?=\}\r\n)|(?<=\{\d\d)(?=\}\r\n)|(?<=\{\d\d\d)(?=\}\r\n)",
                         line)
        chunks = [parts[0]]
        for p in parts[1:]:
            chunks[-1] += b"}\r\n"
            chunks.append(p[3:])
        self.write(tag + b" " + chunks.pop(0) + (b"" if chunks else b"\r\n"))
        out = []
        while True:
            r = self.response()
            if r.startswith(tag + b" "):
                out.append(r[len(tag) + 1:])
                return out
            out.append(r)
            if r.startswith(b"+") and chunks:
                self.write(chunks.pop(0) + (b"" if chunks else b"\r\n"))
            elif r.startswith(b"+") and line.upper().startswith(b"IDLE"):
                # "done" in the case of the command (RFC 2177 is case-blind
                # as the rest of IMAP: RFC 3501 9 note 3)
                self.write(b"DONE\r\n" if line.startswith(b"IDLE") else b"done\r\n")


class MbsSession(_Reader):
    def __init__(self, mbs):
        super().__init__()
        raw = socket.create_connection(("127.0.0.1", mbs.imaps_port), timeout=TIMEOUT)
        self.sock = mbs.ssl_context().wrap_socket(raw)
        self.greeting = self.response()
        r = self.command(b"l0", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        assert r[-1].startswith(b"OK"), r

    def _more(self, deadline):
        self.sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(bytes(self.buf[-300:]))
        self.buf += chunk

    def write(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


class DovecotSession(_Reader):
    def __init__(self, box, maildir):
        super().__init__()
        # doveadm.ImapSession starts the process and reads the greeting
        self.inner = box.imap(maildir, {"TZ": "UTC"})
        self.proc = self.inner.proc
        self.greeting = self.inner.greeting
        self.buf = self.inner.buf

    def _more(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
            raise TimeoutError("no reply from Dovecot's imap")
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            raise EOFError(bytes(self.buf[-300:]))
        self.buf += chunk

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


class Env:
    def __init__(self):
        self.box = doveadm.Sandbox("mr-vsdc-", ("seed", "dovecot"))
        with open(self.box.conf, "a") as f:
            f.write(DOVECOT_NAMESPACE)
        seed = self.box.path("seed")
        build_seed(seed)
        # Dovecot's uidlists in every folder, then only those are kept
        self.box.chown_all()
        r = self.box.doveadm(seed, ["mailbox", "status", "uidvalidity", "*"], "tab",
                             demote=True)
        assert r.returncode == 0, r.stdout
        # small fixed UIDVALIDITY values, far from the clock-based ones
        # the servers give folders made during the session
        self.seeded = set()
        for n, folder in enumerate(("",) + FOLDERS):
            path = os.path.join(seed, "." + folder if folder else "", "dovecot-uidlist")
            with open(path) as f:
                lines = f.read().split("\n")
            lines[0] = re.sub(r" V\d+ ", f" V{1001 + n} ", lines[0])
            with open(path, "w") as f:
                f.write("\n".join(lines))
            self.seeded.add(b"%d" % (1001 + n))
        for root, dirs, files in os.walk(seed):
            for name in files:
                if name.startswith("dovecot.") or name == "dovecot-uidvalidity" or \
                        name.startswith("dovecot-uidvalidity."):
                    os.remove(os.path.join(root, name))
        self.authd = mbstest.Authd()
        self.mbs = None
        os.environ["TZ"] = "UTC"
        self.mbs = mbstest.MbsDaemon(self.authd, services=("imaps",),
                                     extra="imap_max_bad_commands = 100\n")
        ours = mbstest.user_maildir(self.authd.mail_root, USER)
        os.makedirs(os.path.dirname(ours), exist_ok=True)
        shutil.copytree(seed, ours)
        self.dovecot_maildir = self.box.path("dovecot", "mail")
        shutil.copytree(seed, self.dovecot_maildir)
        self.box.chown_all()

    def run(self, session):
        replies = []
        try:
            for i, line in enumerate(SESSION):
                try:
                    replies.append(session.command(b"t%d" % i, line))
                except (EOFError, TimeoutError, OSError) as e:
                    raise AssertionError(f"{type(session).__name__}: {line!r}: {e!r} "
                                         f"after {replies[-3:]!r}") from e
        finally:
            session.close()
        return replies

    def run_both(self):
        ours = self.run(MbsSession(self.mbs))
        theirs = self.run(DovecotSession(self.box, self.dovecot_maildir))
        return ours, theirs

    def stop(self):
        if self.mbs:
            self.mbs.stop()
        self.authd.stop()
        self.box.remove()


# ------------------------------------------------------------ the allow-list

def without_recent(reply):
    """A normalised reply without \\Recent: the flag and the RECENT count."""
    out = []
    for r in reply:
        if isinstance(r, bytes) and re.fullmatch(rb"\* \d+ RECENT", r):
            continue
        if isinstance(r, tuple) and r[0].endswith(b" FETCH"):
            r = (r[0], [(k, [f for f in v if f != b"\\Recent"] if k == b"FLAGS" else v)
                        for k, v in r[1]])
        out.append(r)
    return out


def tagged_is(mr_status, dc_status):
    """Only the result differs: Mailroom's first word, Dovecot's."""
    def check(tc, ours, theirs):
        tc.assertEqual(ours[-1].split(b" ")[0], mr_status, ours)
        tc.assertEqual(theirs[-1].split(b" ")[0], dc_status, theirs)
    return check


def recent_only(tc, ours, theirs):
    tc.assertEqual(without_recent(ours), without_recent(theirs))


def superset(tc, ours, theirs):
    """Mailroom sends every FETCH Dovecot sends, and more."""
    for r in theirs:
        tc.assertIn(r, ours)


# Where the two servers differ, on purpose or by Dovecot's own choice: the
# command, why (with the RFC that allows Mailroom's reply), and a check of
# the difference itself. docs/imap-messages.md "Differences from Dovecot"
# has the same list.
RECENT = ("COPY, MOVE and APPEND into another folder leave \\Recent unset: "
          "RFC 3501 6.4.7 says SHOULD set, RFC 9051 (IMAP4rev2) dropped \\Recent; "
          "Mailroom keeps \\Recent only for what a session sees arrive in new/ or appends "
          "to the folder it has selected")
KNOWN = {
    b"ENABLE X-NO-SUCH-EXTENSION": (
        "an ENABLED response with nothing in it: RFC 5161 3.2 allows it, Dovecot leaves it out",
        lambda tc, o, t: (tc.assertIn(b"* ENABLED", o), tc.assertEqual(o[1:], t))),
    b"EXAMINE Archive": (RECENT, recent_only),
    b"UID FETCH 1:* (UID FLAGS ENVELOPE)": (RECENT, recent_only),
    b"SELECT Drafts": (RECENT, recent_only),
    b"UID FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])": (RECENT, recent_only),
    b"UID STORE 1 +FLAGS (\\Seen)": (
        "STORE in a folder opened with EXAMINE is refused with NO [READ-ONLY] (RFC 3501 "
        "6.3.2: no change is permitted); Dovecot answers OK and changes nothing",
        tagged_is(b"NO", b"OK")),
    b"SUBSCRIBE NoSuchFolder": (
        "SUBSCRIBE does not check that the folder exists (RFC 3501 6.3.6: the server MAY "
        "check; a subscription may name a folder made later)",
        tagged_is(b"OK", b"NO")),
    b"CREATE Wild*card": (
        "'*' and '%' are list-wildcards, not ATOM-CHARs (RFC 3501 9): unquoted they are a "
        "syntax error; Dovecot takes them", tagged_is(b"BAD", b"OK")),
    b"CREATE Wild%card": (
        "as CREATE Wild*card", tagged_is(b"BAD", b"OK")),
    b"ENABLE": (
        "ENABLE takes at least one capability (RFC 5161 4: 1*(SP capability))",
        tagged_is(b"BAD", b"OK")),
    b'ID ("name")': (
        "ID's list holds field-value pairs (RFC 2971 4)", tagged_is(b"BAD", b"OK")),
    b"APPEND Drafts (\\Seen) \"not a date\" " + sync_lit(APPEND_MSG): (
        "Mailroom checks APPEND's arguments once the literal is in, so it sends '+' and "
        "then BAD; Dovecot answers BAD before the '+' (RFC 3501 7.5 allows both)",
        lambda tc, o, t: (tc.assertEqual(o, [b"+", b"BAD"]), tc.assertEqual(t, [b"BAD"]))),
    b"APPEND Drafts (\\Bogus) " + sync_lit(APPEND_MSG): (
        "as the APPEND with a bad date",
        lambda tc, o, t: (tc.assertEqual(o, [b"+", b"BAD"]), tc.assertEqual(t, [b"BAD"]))),
    b"UID SEARCH SINCE 32-Jan-2024": (
        "a date that does not exist is a bad argument (RFC 3501 6.4.4, 9 date); Dovecot "
        "searches with it and finds nothing", tagged_is(b"BAD", b"OK")),
    b"EXPUNGE extra": (
        "a command that takes no argument gets BAD for one (RFC 3501 9); Dovecot ignores "
        "what follows", tagged_is(b"BAD", b"OK")),
    b"NOOP extra": ("as EXPUNGE extra", tagged_is(b"BAD", b"OK")),
    b"IDLE extra": ("as EXPUNGE extra (RFC 2177 4: idle = \"IDLE\" CRLF \"DONE\")",
                    tagged_is(b"BAD", b"OK")),
    b"UID STORE 1:* -FLAGS (\\Seen)": (
        "STORE without .SILENT answers a FETCH for every message of the set (RFC 3501 "
        "6.4.6: the flags are returned as if fetched); Dovecot only for those that changed",
        superset),
    b'UID SEARCH SUBJECT "' + "gr\u00fc\u00dfe".encode() + b'"': (
        "8-bit bytes in a quoted string are BAD: IMAP4rev1's quoted is 7-bit (RFC 3501 9, "
        "CHAR); UTF-8 there is for UTF8=ACCEPT (RFC 6855 3) and IMAP4rev2. A literal, as "
        "clients send it, works; Dovecot takes both", tagged_is(b"BAD", b"OK")),
    b"UID SEARCH CHARSET KOI8-R SUBJECT lunch": (
        "charsets beside UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and Windows-1252 are "
        "NO [BADCHARSET] (RFC 3501 6.4.4: a MAY); Dovecot converts through iconv",
        tagged_is(b"NO", b"OK")),
    b'XLIST "" "*"': (
        "XLIST, Gmail's forerunner of SPECIAL-USE (RFC 6154), is not a command here; "
        "Dovecot still answers it without announcing it", tagged_is(b"BAD", b"OK")),
    b"RENAME INBOX OldInbox": (
        "RENAME INBOX moves its messages to the new folder and leaves INBOX empty (RFC "
        "3501 6.3.5); Dovecot 2.3 refuses it on Maildir", tagged_is(b"OK", b"NO")),
    b"STATUS OldInbox (MESSAGES UIDNEXT)": ("after RENAME INBOX", tagged_is(b"OK", b"NO")),
    b"STATUS INBOX (MESSAGES UIDNEXT)": (
        "after RENAME INBOX: empty, UIDNEXT kept",
        lambda tc, o, t: tc.assertEqual(o[0], (b"* STATUS INBOX",
                                               [(b"MESSAGES", b"0"), (b"UIDNEXT", b"7")]))),
    b'LIST "" "*Inbox*"': (
        "after RENAME INBOX", lambda tc, o, t: tc.assertIn(b'* LIST (\\HasNoChildren) "." '
                                                           b"OldInbox", o)),
}

# Capabilities both servers must announce after login: what the session
# above uses, and what Thunderbird and Roundcube look for.
CAPABILITIES = {b"IMAP4REV1", b"LITERAL+", b"ID", b"ENABLE", b"IDLE", b"NAMESPACE",
                b"UNSELECT", b"MOVE", b"CHILDREN", b"LIST-EXTENDED", b"LIST-STATUS",
                b"SPECIAL-USE", b"UIDPLUS"}


ENV = None


def env():
    global ENV
    if ENV is None:
        ENV = Env()
        atexit.register(ENV.stop)
        ENV.ours, ENV.theirs = ENV.run_both()
    return ENV


class SessionVsDovecot(unittest.TestCase):
    def test_session(self):
        e = env()
        va, vb = Validities(e.seeded), Validities(e.seeded)
        same = differ = 0
        for cmd, a, b in zip(SESSION, e.ours, e.theirs):
            na, nb = normalise(cmd, a, va), normalise(cmd, b, vb)
            with self.subTest(cmd=cmd[:80]):
                if cmd in KNOWN:
                    reason, check = KNOWN[cmd]
                    # the difference is still there, and is the one described
                    self.assertNotEqual(na, nb, f"no longer differs: {reason}")
                    check(self, na, nb)
                    differ += 1
                else:
                    self.assertEqual(na, nb, f"\nMailroom: {a!r}\nDovecot:  {b!r}")
                    same += 1
        print(f"# {same} replies alike, {differ} differing as listed")

    def test_session_ran_whole(self):
        e = env()
        self.assertEqual(len(e.ours), len(SESSION))
        self.assertEqual(e.ours[-1][0][:5], b"* BYE")
        self.assertTrue(e.ours[-1][-1].startswith(b"OK"))
        # every KNOWN key is a command of the session
        self.assertEqual(set(KNOWN) - set(SESSION), set())

    def test_capabilities(self):
        e = env()
        caps = {}
        for side, session in (("ours", MbsSession(e.mbs)),
                              ("theirs", DovecotSession(e.box, e.dovecot_maildir))):
            try:
                r = session.command(b"c1", b"CAPABILITY")
            finally:
                session.close()
            caps[side] = set(r[0].upper().split()[2:])
        self.assertEqual(CAPABILITIES - caps["ours"], set())
        self.assertEqual(CAPABILITIES - caps["theirs"], set())
        print("# only Mailroom:", b" ".join(sorted(caps["ours"] - caps["theirs"])).decode())
        print("# only Dovecot:", b" ".join(sorted(caps["theirs"] - caps["ours"])).decode())


class BadCommandsVsDovecot(unittest.TestCase):
    """Both servers close a session after 20 BAD replies in a row (their
    default), and both start counting again after a command that works:
    a long session with a stray BAD now and then stays up."""

    def run_bad(self, session):
        out = {}
        try:
            for i in range(30):
                self.assertTrue(session.command(b"b%d" % i, b"BOGUS")[-1].startswith(b"BAD"))
                self.assertTrue(session.command(b"n%d" % i, b"NOOP")[-1].startswith(b"OK"))
            # a NO is no BAD either
            for i in range(25):
                self.assertTrue(session.command(b"c%d" % i, b"BOGUS")[-1].startswith(b"BAD"))
                self.assertTrue(session.command(b"s%d" % i, b"SELECT NoSuchFolder")[-1]
                                .startswith(b"NO"))
            out["alive"] = True
            last = None
            for i in range(30):
                try:
                    last = session.command(b"x%d" % i, b"BOGUS")
                except (EOFError, OSError) as e:
                    out["closed_after"] = i
                    out["last"] = last
                    out["error"] = repr(e)
                    break
        finally:
            session.close()
        return out

    def test_bad_in_a_row(self):
        e = env()
        mbs = mbstest.MbsDaemon(e.authd, services=("imaps",), name="mbs-bad")
        self.addCleanup(mbs.stop)
        ours = self.run_bad(MbsSession(mbs))
        theirs = self.run_bad(DovecotSession(e.box, e.dovecot_maildir))
        self.assertTrue(ours.get("alive") and theirs.get("alive"))
        # 20 BADs in a row are answered, then the session is closed
        # (Mailroom: * BYE Too many invalid commands) before the 21st
        self.assertEqual(ours["closed_after"], 20, ours)
        self.assertEqual(theirs["closed_after"], 20, theirs)


class IdleVsDovecot(unittest.TestCase):
    """IDLE in Work.Sub (untouched by the session above, alike on both
    sides) while a delivery agent adds a message and another program
    marks the first one seen: both servers tell the idling client the
    same things (RFC 2177 3, RFC 3501 7.3.1, 7.4.2)."""

    def idle(self, session, folder_dir, chown):
        replies = []
        try:
            session.command(b"s", b"SELECT Work.Sub")
            session.write(b"i IDLE\r\n")
            self.assertTrue(session.response().startswith(b"+"))
            # a new message, as a delivery agent writes it
            data = PLAIN.format(subject="Arrived while idling", date="Tue, 09 Jan 2024 "
                                "10:00:00 +0000", mid="idle1", extra="", body="New.\r\n")
            name = "1704794400.M999999P1.idle,S=%d" % len(data.encode())
            with open(os.path.join(folder_dir, "tmp", name), "wb") as f:
                f.write(data.encode())
            chown(os.path.join(folder_dir, "tmp", name))
            os.rename(os.path.join(folder_dir, "tmp", name), os.path.join(folder_dir, "new", name))
            replies.append(session.response(timeout=8))
            # anything that comes with it (RECENT), briefly
            try:
                while True:
                    replies.append(session.response(timeout=1.0))
            except (TimeoutError, OSError):
                pass
            # the old message seen, as another program marks it
            cur = os.path.join(folder_dir, "cur")
            old = sorted(n for n in os.listdir(cur) if "seed" in n)[0]
            os.rename(os.path.join(cur, old), os.path.join(cur, old.split(":2,")[0] + ":2,S"))
            replies.append(session.response(timeout=8))
            session.write(b"DONE\r\n")
            while True:
                r = session.response()
                if r.startswith(b"i "):
                    replies.append(r[2:])
                    break
                replies.append(r)
        finally:
            session.close()
        return replies

    def test_idle_sees_delivery_and_flag(self):
        e = env()
        mbs_dir = os.path.join(mbstest.user_maildir(e.authd.mail_root, USER), ".Work.Sub")
        dc_dir = os.path.join(e.dovecot_maildir, ".Work.Sub")

        def chown(path):
            os.chown(path, e.box.uid, e.box.gid)
        ours = self.idle(MbsSession(e.mbs), mbs_dir, lambda p: None)
        theirs = self.idle(DovecotSession(e.box, e.dovecot_maildir), dc_dir, chown)
        no = Validities(e.seeded)
        self.assertEqual(normalise(b"IDLE", ours, no), normalise(b"IDLE", theirs, no),
                         f"\nMailroom: {ours!r}\nDovecot:  {theirs!r}")
        self.assertIn(b"* 2 EXISTS", ours)
        print("# IDLE:", b" | ".join(ours).decode())


if __name__ == "__main__":
    unittest.main()
