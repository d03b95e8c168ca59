"""mailroom-mbs with curl as the client: Debian's curl is an IMAP and POP3
client written independently of Python's imaplib and poplib, with its own
ideas of what to send (CAPABILITY first, AUTHENTICATE PLAIN with SASL-IR
when offered, SELECT before a FETCH, UID FETCH with BODY[] by URL, APPEND
with a synchronising literal, CAPA again after STLS) and of what a reply
must look like (RFC 5092 IMAP URLs, RFC 2384 POP URLs).

Every test checks curl's exit status (0, or the documented error code:
67 login denied, 78 remote file not found, 21 quote command error, 25
upload failed, 8 weird server reply) and the content it printed. Each
IMAP test works in a folder of its own and each POP3 test on a mailbox of
its own, so they do not depend on each other."""
import atexit
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from mbstest import HOSTNAME, Authd, MbsDaemon, deliver, user_maildir

CURL = shutil.which("curl")
TIMEOUT = 10
USER, PASSWORD = "demo@example.test", "demo"
# one POP3 mailbox per test (a POP3 session sees the whole INBOX)
POP_USERS = ("popls", "popretr", "popdele", "popuidl", "popstls", "poptop")
ENV = None


def message(subject, body="Hello there.\r\n"):
    return (f"From: Alice <alice@example.test>\r\nTo: Demo <{USER}>\r\n"
            f"Subject: {subject}\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
            f"Message-ID: <{re.sub('[^A-Za-z0-9]', '-', subject)}@curl.test>\r\n\r\n{body}")


_drops = 0


def drop(mail_root, user, text, folder=""):
    """deliver() with a file name that sorts in delivery order, so UIDs
    and POP3 message numbers follow the order of the calls."""
    global _drops
    _drops += 1
    path = deliver(mail_root, user, text, folder=folder)
    new = os.path.join(os.path.dirname(path),
                       f"{int(time.time())}.M{_drops:08d}P{os.getpid()}.curltest")
    os.rename(path, new)
    return new


class Env:
    def __init__(self):
        self.authd = Authd()
        with open(os.path.join(self.authd.tmp, "users"), "a") as f:
            for u in POP_USERS:
                f.write(f"{u}@example.test:{{PLAIN}}pw-{u}\n")
        self.authd.kill()
        self.authd.start()
        self.mbs = MbsDaemon(self.authd, services=("imap", "imaps", "pop3", "pop3s"))
        self.tmp = tempfile.mkdtemp(prefix="mr-curl-")

    def stop(self):
        self.mbs.stop()
        self.authd.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def env():
    global ENV
    if ENV is None:
        ENV = Env()
        atexit.register(ENV.stop)
    return ENV


def curl(scheme, path, *args, user=USER, password=PASSWORD, data=None):
    """Run curl on scheme://imap.example.test:PORT/path (the name resolved
    to 127.0.0.1, the certificate checked against the test CA). Returns
    (exit status, stdout bytes, stderr text)."""
    if CURL is None:
        raise unittest.SkipTest("curl is not installed")
    e = env()
    port = e.mbs.ports[scheme]
    cmd = [CURL, "-sS", "--cacert", e.mbs.ca_cert, "--max-time", str(TIMEOUT),
           "--resolve", f"{HOSTNAME}:{port}:127.0.0.1", "-u", f"{user}:{password}"]
    cmd += list(args) + [f"{scheme}://{HOSTNAME}:{port}/{path}"]
    r = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TIMEOUT + 5)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def lf(text):
    """curl passes the message through as the server sent it (CRLF)."""
    return text.encode()


class ImapCurl(unittest.TestCase):
    def folder(self, name, subjects):
        """A folder holding one message per subject, UIDs 1..n."""
        e = env()
        for s in subjects:
            drop(e.authd.mail_root, USER, message(s, body=f"Body of {s}.\r\n"), folder=name)
        return name

    def ok(self, scheme, path, *args, **kw):
        rc, out, err = curl(scheme, path, *args, **kw)
        self.assertEqual(rc, 0, f"{path} {args}: {err}")
        return out

    def test_list_folders(self):
        self.folder("CurlList", ["a"])
        out = self.ok("imaps", "")
        lines = out.decode().splitlines()
        self.assertIn('* LIST (\\HasNoChildren) "." INBOX', lines)
        self.assertIn('* LIST (\\HasNoChildren) "." CurlList', lines)
        # CREATE-SPECIAL-USE (RFC 6154 3) by a custom request, then LIST
        # says what the folder is for (RFC 6154 2)
        self.ok("imaps", "", "-X", "CREATE CurlList.Sent (USE (\\Sent))")
        out = self.ok("imaps", "")
        lines = out.decode().splitlines()
        self.assertIn('* LIST (\\HasChildren) "." CurlList', lines)
        self.assertIn('* LIST (\\HasNoChildren \\Sent) "." CurlList.Sent', lines)
        # the same name again: NO [ALREADYEXISTS], curl's quote error
        rc, _, err = curl("imaps", "", "-X", "CREATE CurlList.Sent")
        self.assertEqual(rc, 21, err)
        # a URL naming a folder: curl sends LIST "CurlList" *, the reference
        # and the pattern taken together (RFC 3501 6.3.8)
        out = self.ok("imaps", "CurlList", "-v")
        self.assertEqual(out, b'* LIST (\\HasChildren) "." CurlList\r\n'
                              b'* LIST (\\HasNoChildren \\Sent) "." CurlList.Sent\r\n')
        # SUBSCRIBE, then LIST-EXTENDED's SUBSCRIBED selection (RFC 5258 3.1)
        self.ok("imaps", "", "-X", "SUBSCRIBE CurlList.Sent")
        out = self.ok("imaps", "", "-X", 'LIST (SUBSCRIBED) "" "CurlList*"')
        self.assertEqual(out, b'* LIST (\\Subscribed \\HasNoChildren \\Sent) "." CurlList.Sent\r\n')

    def test_select_examine_by_url(self):
        f = self.folder("CurlSel", ["one", "two", "three"])
        out = self.ok("imaps", "", "-X", f"EXAMINE {f}")
        self.assertIn(b"* 3 EXISTS\r\n", out)
        self.assertIn(b"* OK [UIDNEXT 4]", out)
        self.assertIn(b"* OK [PERMANENTFLAGS ()]", out)
        uidvalidity = re.search(rb"UIDVALIDITY (\d+)", out).group(1).decode()
        # curl SELECTs the URL's folder and compares UIDVALIDITY (RFC 5092 6)
        out = self.ok("imaps", f"{f};UIDVALIDITY={uidvalidity};UID=2")
        self.assertIn(b"Subject: two\r\n", out)
        rc, out, err = curl("imaps", f"{f};UIDVALIDITY=1;UID=2")
        self.assertEqual(rc, 78, err)
        self.assertIn("UIDVALIDITY", err)
        # a folder that does not exist: SELECT fails, curl says login/select failed
        rc, _, err = curl("imaps", "NoSuchFolder;UID=1")
        self.assertEqual(rc, 67, err)
        self.assertIn("Select failed", err)
        # STATUS with a custom request; the URL fetch above set \Seen on UID 2
        out = self.ok("imaps", "", "-X", f"STATUS {f} (MESSAGES UIDNEXT UNSEEN)")
        self.assertEqual(out, f"* STATUS {f} (MESSAGES 3 UIDNEXT 4 UNSEEN 2)\r\n".encode())

    def test_fetch_by_uid(self):
        f = self.folder("CurlFetch", ["first", "second"])
        out = self.ok("imaps", f"{f};UID=1")
        self.assertEqual(out, lf(message("first", body="Body of first.\r\n")))
        out = self.ok("imaps", f"{f}/;UID=2")
        self.assertIn(b"Subject: second\r\n", out)
        # by message sequence number (curl's MAILINDEX)
        out = self.ok("imaps", f"{f};MAILINDEX=2")
        self.assertIn(b"Subject: second\r\n", out)
        # a UID that does not exist: FETCH says OK with no data, curl says 78
        rc, out, err = curl("imaps", f"{f};UID=9")
        self.assertEqual((rc, out), (78, b""), err)
        # fetching by URL is a BODY[] fetch, which sets \Seen (RFC 3501 6.4.5)
        out = self.ok("imaps", f, "-X", "UID FETCH 1:* (FLAGS)")
        self.assertIn(b"UID 1 FLAGS (\\Seen)", out)
        self.assertIn(b"UID 2 FLAGS (\\Seen)", out)

    def test_fetch_section(self):
        f = self.folder("CurlSect", ["sectioned"])
        out = self.ok("imaps", f"{f};UID=1;SECTION=HEADER.FIELDS%20(SUBJECT%20FROM)")
        self.assertEqual(out, b"From: Alice <alice@example.test>\r\nSubject: sectioned\r\n\r\n")
        out = self.ok("imaps", f"{f};UID=1;SECTION=TEXT")
        self.assertEqual(out, b"Body of sectioned.\r\n")
        out = self.ok("imaps", f"{f};UID=1;SECTION=1")
        self.assertEqual(out, b"Body of sectioned.\r\n")
        out = self.ok("imaps", f"{f};UID=1;SECTION=TEXT;PARTIAL=5.2")
        self.assertEqual(out, b"of")
        out = self.ok("imaps", f"{f};UID=1;SECTION=HEADER")
        self.assertTrue(out.startswith(b"From: Alice") and out.endswith(b"\r\n\r\n"), out)

    def test_search(self):
        f = self.folder("CurlSearch", ["apple pie", "banana", "apple tart"])
        out = self.ok("imaps", f, "-X", 'UID SEARCH SUBJECT "apple"')
        self.assertEqual(out, b"* SEARCH 1 3\r\n")
        out = self.ok("imaps", f, "-X", "SEARCH NOT SUBJECT apple")
        self.assertEqual(out, b"* SEARCH 2\r\n")
        # RFC 5092 query part: curl sends it as SEARCH
        out = self.ok("imaps", f"{f}?SUBJECT%20banana")
        self.assertEqual(out, b"* SEARCH 2\r\n")
        out = self.ok("imaps", f, "-X", "UID SEARCH UNSEEN")
        self.assertEqual(out, b"* SEARCH 1 2 3\r\n")
        out = self.ok("imaps", f, "-X", "SEARCH SUBJECT nothing-like-this")
        self.assertEqual(out, b"* SEARCH\r\n")
        # a malformed SEARCH: BAD, curl's quote error; the next one works
        rc, _, err = curl("imaps", f, "-X", "SEARCH NOSUCHKEY 1")
        self.assertEqual(rc, 21, err)
        rc, _, err = curl("imaps", f, "-X", "SEARCH (SUBJECT apple")
        self.assertEqual(rc, 21, err)
        rc, _, err = curl("imaps", f, "-X", "BOGUS")
        self.assertEqual(rc, 21, err)

    def test_append_upload(self):
        f = self.folder("CurlAppend", ["existing"])
        up = os.path.join(env().tmp, "upload.eml")
        text = message("uploaded by curl", body="Line one.\r\nLine two.\r\n")
        with open(up, "w", newline="") as fh:
            fh.write(text)
        rc, _, err = curl("imaps", f, "-T", up)
        self.assertEqual(rc, 0, err)
        out = self.ok("imaps", f"{f};UID=2")
        self.assertEqual(out, text.encode())
        out = self.ok("imaps", "", "-X", f"STATUS {f} (MESSAGES)")
        self.assertEqual(out, f"* STATUS {f} (MESSAGES 2)\r\n".encode())
        # a second one with a bare LF line end: stored as sent
        up2 = os.path.join(env().tmp, "upload2.eml")
        with open(up2, "wb") as fh:
            fh.write(b"Subject: second upload\r\n\r\nbare\nLF\r\n")
        rc, _, err = curl("imaps", f, "-T", up2)
        self.assertEqual(rc, 0, err)
        out = self.ok("imaps", f, "-X", 'UID SEARCH SUBJECT "second upload"')
        self.assertEqual(out, b"* SEARCH 3\r\n")
        self.assertIn(b"Subject: second upload", self.ok("imaps", f"{f};UID=3"))
        # into a folder that does not exist: NO [TRYCREATE] (RFC 3501 6.3.11),
        # which curl reports as an upload failure; no folder appears
        rc, _, err = curl("imaps", "CurlNoSuch", "-T", up)
        self.assertEqual(rc, 25, err)
        out = self.ok("imaps", "")
        self.assertNotIn(b"CurlNoSuch", out)

    def test_store_flags(self):
        f = self.folder("CurlStore", ["flag me"])
        out = self.ok("imaps", f, "-X", "UID STORE 1 +FLAGS (\\Flagged $Label1)")
        # a new keyword: FLAGS and PERMANENTFLAGS again (RFC 3501 7.2.6),
        # then the FETCH with the flags (\Recent: curl's SELECT was first)
        self.assertIn(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)", out)
        fetch = re.search(rb"\* 1 FETCH \(UID 1 FLAGS \(([^)]*)\)\)\r\n", out)
        self.assertIsNotNone(fetch, out)
        self.assertEqual(sorted(fetch.group(1).split()), [b"$Label1", b"\\Flagged", b"\\Recent"])
        out = self.ok("imaps", f, "-X", "UID FETCH 1 (FLAGS)")
        self.assertIn(b"\\Flagged", out)
        # a URL without a folder selects none: STORE is BAD (RFC 3501 6.4),
        # curl's quote error
        rc, _, err = curl("imaps", "", "-X", "UID STORE 1 +FLAGS (\\Seen)")
        self.assertEqual(rc, 21, err)

    def test_starttls(self):
        f = self.folder("CurlTls", ["over starttls"])
        rc, out, err = curl("imap", f"{f};UID=1", "--ssl-reqd", "-v")
        self.assertEqual(rc, 0, err)
        self.assertIn(b"Subject: over starttls\r\n", out)
        self.assertIn("> A002 STARTTLS", err)
        # the CAPABILITY after TLS offers AUTH=PLAIN; before, LOGINDISABLED
        self.assertRegex(err, r"LOGINDISABLED")
        self.assertRegex(err, r"AUTHENTICATE PLAIN")
        # without TLS curl finds no mechanism it may use: login denied,
        # and no password crossed the wire in clear
        rc, out, err = curl("imap", f"{f};UID=1", "-v")
        self.assertEqual((rc, out), (67, b""), err)
        self.assertNotIn("AUTHENTICATE", err)
        self.assertNotIn("LOGIN ", err)

    def test_auth_mechanisms(self):
        f = self.folder("CurlAuth", ["mechs"])
        for mech in ("PLAIN", "LOGIN"):
            rc, out, err = curl("imaps", f"{f};UID=1", "-v", "--login-options", f"AUTH={mech}")
            self.assertEqual(rc, 0, f"{mech}: {err}")
            self.assertIn(f"AUTHENTICATE {mech}", err)
            self.assertIn(b"Subject: mechs", out)
        # curl's -u with a user name of an unknown user
        rc, out, err = curl("imaps", "", user="nobody@example.test", password="x")
        self.assertEqual((rc, out), (67, b""), err)

    def test_wrong_password(self):
        rc, out, err = curl("imaps", "INBOX", password="wrong")
        self.assertEqual((rc, out), (67, b""), err)
        self.assertIn("Login denied", err)
        rc, out, err = curl("imaps", "INBOX", "--login-options", "AUTH=LOGIN", password="wrong")
        self.assertEqual((rc, out), (67, b""), err)
        rc, out, err = curl("imap", "INBOX", "--ssl-reqd", password="wrong")
        self.assertEqual((rc, out), (67, b""), err)
        # the right one still works afterwards
        self.ok("imaps", "INBOX")


class LargeCurl(unittest.TestCase):
    def test_large_message_both_ways(self):
        """A 2 MiB message with lines that start with a dot, fetched whole
        over IMAP (one literal) and POP3 (dot-stuffed, curl unstuffs):
        the same bytes as on disk."""
        e = env()
        user, pw = "other@other.test", "other"   # no quota
        lines = [f"{'.' if i % 7 == 0 else ''}line {i:06d} " + "x" * 60 for i in range(30000)]
        text = message("large one", body="\r\n".join(lines) + "\r\n.\r\n").encode()
        drop(e.authd.mail_root, user, text)
        rc, out, err = curl("imaps", "INBOX;UID=1", user=user, password=pw)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out), len(text))
        self.assertEqual(out, text)
        rc, out, err = curl("pop3s", "1", user=user, password=pw)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, text)


class Pop3Curl(unittest.TestCase):
    def mailbox(self, local, n):
        """local@example.test with n messages, numbered 1..n in order."""
        e = env()
        user = f"{local}@example.test"
        for i in range(1, n + 1):
            drop(e.authd.mail_root, user, message(f"{local} {i}", body=f"Body {i}.\r\n"))
        return user, f"pw-{local}"

    def ok(self, path, *args, user, password, scheme="pop3s"):
        rc, out, err = curl(scheme, path, *args, user=user, password=password)
        self.assertEqual(rc, 0, f"{path} {args}: {err}")
        return out

    def test_list(self):
        user, pw = self.mailbox("popls", 3)
        out = self.ok("", user=user, password=pw)
        size = len(message("popls 1", body="Body 1.\r\n"))
        self.assertEqual(out, "".join(f"{i} {size}\r\n" for i in (1, 2, 3)).encode())
        out = self.ok("", "-X", "LIST 2", "-I", user=user, password=pw)
        self.assertEqual(out, b"")
        out = self.ok("", "-X", "STAT", "-I", user=user, password=pw)
        self.assertEqual(out, b"")

    def test_retr_by_number(self):
        user, pw = self.mailbox("popretr", 2)
        out = self.ok("2", user=user, password=pw)
        self.assertEqual(out, message("popretr 2", body="Body 2.\r\n").encode())
        out = self.ok("1", user=user, password=pw)
        self.assertIn(b"Subject: popretr 1\r\n", out)
        # a number past the end: -ERR, which curl calls a weird server reply
        rc, out, err = curl("pop3s", "9", user=user, password=pw)
        self.assertEqual((rc, out), (8, b""), err)
        # RETR leaves the message in place
        self.assertEqual(len(os.listdir(os.path.join(user_maildir(env().authd.mail_root, user),
                                                      "cur"))) +
                         len(os.listdir(os.path.join(user_maildir(env().authd.mail_root, user),
                                                     "new"))), 2)

    def test_dele_and_quit(self):
        user, pw = self.mailbox("popdele", 3)
        root = user_maildir(env().authd.mail_root, user)
        # -X DELE with the number in the URL, -I: no body; curl ends with QUIT
        rc, out, err = curl("pop3s", "2", "-X", "DELE", "-I", "-v", user=user, password=pw)
        self.assertEqual(rc, 0, err)
        self.assertIn("> DELE 2", err)
        out = self.ok("", user=user, password=pw)
        self.assertEqual(len(out.splitlines()), 2)
        self.assertIn(b"Subject: popdele 3\r\n", self.ok("2", user=user, password=pw))
        files = os.listdir(os.path.join(root, "cur")) + os.listdir(os.path.join(root, "new"))
        self.assertEqual(len(files), 2)
        # DELE of a number that does not exist: -ERR, nothing removed
        rc, _, err = curl("pop3s", "7", "-X", "DELE", "-I", user=user, password=pw)
        self.assertEqual(rc, 8, err)
        self.assertEqual(len(self.ok("", user=user, password=pw).splitlines()), 2)

    def test_uidl_top(self):
        user, pw = self.mailbox("popuidl", 2)
        out = self.ok("", "-X", "UIDL", user=user, password=pw)
        lines = out.decode().splitlines()
        self.assertEqual([l.split()[0] for l in lines], ["1", "2"])
        uids = [l.split()[1] for l in lines]
        self.assertEqual(len(set(uids)), 2)
        # RFC 1939 7: printable characters 0x21..0x7E, at most 70
        for u in uids:
            self.assertRegex(u, r"^[\x21-\x7e]{1,70}$")
        # stable across sessions
        self.assertEqual(self.ok("", "-X", "UIDL", user=user, password=pw), out)
        out = self.ok("", "-X", "TOP 2 0", user=user, password=pw)
        self.assertTrue(out.startswith(b"From: Alice"), out)
        self.assertIn(b"Subject: popuidl 2\r\n", out)
        self.assertNotIn(b"Body 2.", out)
        out = self.ok("", "-X", "TOP 1 1", user=user, password=pw)
        self.assertTrue(out.endswith(b"\r\n\r\nBody 1.\r\n"), out)

    def test_stls(self):
        user, pw = self.mailbox("popstls", 1)
        rc, out, err = curl("pop3", "1", "--ssl-reqd", "-v", user=user, password=pw)
        self.assertEqual(rc, 0, err)
        self.assertIn(b"Subject: popstls 1\r\n", out)
        self.assertIn("> STLS", err)
        # USER and SASL are offered only after TLS (RFC 2595 2.2, 4)
        before, after = err.split("> STLS", 1)
        self.assertNotIn("< SASL", before)
        self.assertIn("< SASL PLAIN", after)
        # without TLS: nothing to log in with, curl gives up
        rc, out, err = curl("pop3", "1", user=user, password=pw)
        self.assertEqual((rc, out), (67, b""), err)

    def test_wrong_password(self):
        user, pw = self.mailbox("poptop", 1)
        rc, out, err = curl("pop3s", "", user=user, password="wrong")
        self.assertEqual((rc, out), (67, b""), err)
        self.assertIn("Login denied", err)
        rc, out, err = curl("pop3", "", "--ssl-reqd", user=user, password="wrong")
        self.assertEqual((rc, out), (67, b""), err)
        rc, out, err = curl("pop3s", "", "--login-options", "AUTH=LOGIN", user=user,
                            password="wrong")
        self.assertEqual((rc, out), (67, b""), err)
        self.assertEqual(len(self.ok("", user=user, password=pw).splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
