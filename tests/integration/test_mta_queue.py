"""The queue and local delivery through tests/unit/queue-tool (the queue
behind a test-only socket, until mailroom-mta's main exists), with a real
mailroom-authd on a passwd-file backend: delivery targets, +Folder, quota,
loops, authd outages, LMTP replies, corrupt files, a full disk and kill -9
at random moments."""
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import mrtest
from mtatest import Authd, wait_log

TOOL = os.path.join(mrtest.BUILDDIR, "tests", "unit", "queue-tool")
ADMIN = os.path.join(mrtest.BUILDDIR, "mailroom")
TIMEOUT = 15


def message(msgid, extra="", body="hello\r\n"):
    return (f"From: <sender@other.test>\r\nSubject: test\r\nMessage-ID: <{msgid}>\r\n"
            f"{extra}\r\n{body}").encode()


class Tool:
    def __init__(self, authd, extra=""):
        self.tmp = tempfile.mkdtemp(prefix="mr-queue-")
        self.queue = os.path.join(self.tmp, "queue")
        self.sock = os.path.join(self.tmp, "tool.sock")
        self.log = os.path.join(self.tmp, "tool.log")
        self.config = os.path.join(self.tmp, "tool.conf")
        with open(self.config, "w") as f:
            f.write(f"queue_directory = {self.queue}\n"
                    f"authd_lookup_socket = {authd.lookup}\n"
                    f"tool_socket = {self.sock}\n"
                    "queue_retry_min = 1s\nqueue_retry_max = 2s\n" + extra)
        self.proc = None
        self.start()

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([TOOL, self.config], stdout=log, stderr=log)
        mrtest.wait_path(self.sock, TIMEOUT)
        wait_log(self.log, "queue: scanned", self.proc)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect(self.sock)
        return s

    def send(self, sender, rcpts, data, verb="DATA"):
        with self.connect() as s:
            head = f"MAIL {sender}\n" + "".join(f"RCPT {r}\n" for r in rcpts)
            s.sendall(head.encode() + f"{verb} {len(data)}\n".encode() + data)
            f = s.makefile("rb")
            if verb == "DATA":
                return f.readline().decode().strip()
            lines = []
            while True:
                line = f.readline().decode().strip()
                if line in (".", ""):
                    return lines
                lines.append(line)

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def files(self, sub):
        path = os.path.join(self.queue, sub)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []


def find(root, needle, timeout=TIMEOUT):
    """Paths of Maildir files under root that contain needle (waits)."""
    deadline = time.monotonic() + timeout
    while True:
        hits = []
        for d, _, names in os.walk(root):
            if os.path.basename(d) not in ("new", "cur"):
                continue
            for n in names:
                with open(os.path.join(d, n), "rb") as f:
                    if needle.encode() in f.read():
                        hits.append(os.path.join(d, n))
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.1)


def wait_for(cond, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


class QueueDelivery(unittest.TestCase):
    extra = ""

    def setUp(self):
        self.authd = Authd()
        self.tool = Tool(self.authd, self.extra)
        self.root = self.authd.mail_root

    def tearDown(self):
        self.tool.stop()
        self.authd.stop()

    def deliver_one(self, rcpt, msgid):
        reply = self.tool.send("sender@other.test", [rcpt], message(msgid))
        self.assertTrue(reply.startswith("250 "), reply)
        hits = find(self.root, msgid)
        self.assertEqual(len(hits), 1, f"{rcpt}: {hits}\n{self.tool.logtext()}")
        with open(hits[0], "rb") as f:
            head = f.read().split(b"\r\n\r\n")[0]
        self.assertTrue(head.startswith(b"Return-Path: <sender@other.test>\r\n"), head)
        return hits[0], head

    def test_targets(self):
        cases = [("demo@example.test", "example.test/demo/new", b"demo@example.test"),
                 ("info@example.test", "example.test/demo/new", b"demo@example.test"),
                 ("anyone@catch.test", "catch.test/postmaster/new", b"postmaster@catch.test"),
                 ("demo@alias.test", "example.test/demo/new", b"demo@example.test"),
                 ("demo+tag@example.test", "example.test/demo/new", b"demo@example.test")]
        for i, (rcpt, where, dt) in enumerate(cases):
            path, head = self.deliver_one(rcpt, f"target{i}@test")
            self.assertIn(where, path)
            self.assertIn(b"Delivered-To: " + dt + b"\r\n", head)
        log = self.tool.logtext()
        self.assertRegex(log, r"[0-9A-Z]{16}: from=<sender@other.test>, size=\d+, nrcpt=1")
        self.assertRegex(log, r"[0-9A-Z]{16}: to=<demo@example.test>, orig_to=<info@example.test>"
                              r", relay=local, .*status=sent")

    def test_plus_folder(self):
        base = os.path.join(self.root, "example.test", "demo")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(base, ".Work", sub))
        path, _ = self.deliver_one("demo+work@example.test", "folder@test")
        self.assertIn("/.Work/new/", path)
        path, _ = self.deliver_one("demo+nofolder@example.test", "nofolder@test")
        self.assertIn("example.test/demo/new/", path)

    def test_over_quota_bounces_to_local_sender(self):
        big = message("big@test", body=("y" * 998 + "\r\n") * 1200)
        reply = self.tool.send("other@other.test", ["demo@example.test"], big)
        self.assertTrue(reply.startswith("250"), reply)
        self.assertTrue(wait_for(lambda: "dsn=5.2.2, status=bounced" in self.tool.logtext()),
                        self.tool.logtext())
        dsn = find(os.path.join(self.root, "other.test"), "big@test")
        self.assertEqual(len(dsn), 1)
        with open(dsn[0], "rb") as f:
            text = f.read()
        self.assertIn(b"Return-Path: <>", text)
        self.assertIn(b"report-type=delivery-status", text)
        self.assertIn(b"Status: 5.2.2", text)
        self.assertIn(b"Final-Recipient: rfc822; demo@example.test", text)
        self.assertEqual(find(os.path.join(self.root, "example.test"), "big@test", 0.5), [])

    def test_delivered_to_loop(self):
        data = message("loop@test", extra="Delivered-To: demo@example.test\r\n")
        reply = self.tool.send("", ["demo@example.test"], data)
        self.assertTrue(reply.startswith("250"), reply)
        self.assertTrue(wait_for(lambda: "dsn=5.4.6, status=bounced" in self.tool.logtext()))
        self.assertEqual(find(self.root, "loop@test", 0.5), [])
        self.assertNotIn("sender non-delivery notification", self.tool.logtext())

    def test_remote_target_stays_queued(self):
        reply = self.tool.send("sender@other.test", ["team@example.test"], message("team@test"))
        self.assertTrue(reply.startswith("250"), reply)
        self.assertEqual(len(find(self.root, "team@test")), 2)
        self.assertTrue(wait_for(lambda: "to=<friend@remote.test>" in self.tool.logtext()))
        self.assertIn('reason="remote delivery not available yet"', self.tool.logtext())
        qid = reply.split()[1]
        self.assertTrue(wait_for(lambda: self.tool.files("deferred") == [qid]))
        with open(os.path.join(self.tool.queue, "deferred", qid)) as f:
            self.assertIn("rcpt remote 0 friend@remote.test", f.read())

    def test_authd_down_then_back(self):
        self.authd.kill()
        reply = self.tool.send("sender@other.test", ["demo@example.test"], message("down@test"))
        self.assertTrue(reply.startswith("250"), reply)
        self.assertTrue(wait_for(lambda: "status=deferred" in self.tool.logtext()),
                        self.tool.logtext())
        self.assertEqual(find(self.root, "down@test", 0.5), [])
        self.authd.start()
        self.assertEqual(len(find(self.root, "down@test")), 1, self.tool.logtext())
        self.assertTrue(wait_for(lambda: self.tool.files("deferred") == []))

    def test_lmtp_replies(self):
        lines = self.tool.send("sender@other.test",
                               ["demo@example.test", "nobody@example.test"],
                               message("lmtp@test"), verb="LMTP")
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[0].startswith("0 250 2.0.0"), lines)
        self.assertTrue(lines[1].startswith("1 550 5.1.1"), lines)
        self.assertEqual(len(find(self.root, "lmtp@test")), 1)
        self.assertTrue(wait_for(lambda: self.tool.files("active") == []))
        self.assertEqual(self.tool.files("deferred"), [])

    def test_corrupt_and_leftovers_at_start(self):
        self.tool.kill9()
        with open(os.path.join(self.tool.queue, "active", "0AAAAAAAAAAAAAAA"), "w") as f:
            f.write("MRQ 1\nid 0AAAAAAAAAAAAAAA\narrival 1\nsender a\nrcpt pending 0 demo@exa")
        with open(os.path.join(self.tool.queue, "incoming", "0BBBBBBBBBBBBBBB"), "w") as f:
            f.write("half written")
        self.tool.start()
        self.assertEqual(self.tool.files("corrupt"), ["0AAAAAAAAAAAAAAA"])
        self.assertEqual(self.tool.files("incoming"), [])
        self.assertIn("1 incoming removed, 1 corrupt", self.tool.logtext())

    def test_flush_file(self):
        self.authd.kill()
        self.tool.send("sender@other.test", ["demo@example.test"], message("flush@test"))
        self.assertTrue(wait_for(lambda: len(self.tool.files("deferred")) == 1))
        self.authd.start()
        open(os.path.join(self.tool.queue, "flush"), "w").close()
        self.assertTrue(wait_for(lambda: "queue: flush" in self.tool.logtext()))
        self.assertEqual(len(find(self.root, "flush@test")), 1)

    def admin(self, *args):
        env = dict(os.environ, MAILROOM_QUEUE_DIRECTORY=self.tool.queue)
        return subprocess.run([ADMIN, "queue", *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)

    def test_admin_list_show_flush_delete(self):
        self.authd.kill()
        qids = []
        for name in ("admin1@test", "admin2@test"):
            reply = self.tool.send("sender@other.test", ["demo@example.test"], message(name))
            qids.append(reply.split()[1])
        self.assertTrue(wait_for(lambda: self.tool.files("deferred") == sorted(qids)))
        out = self.admin("list")
        self.assertEqual(out.returncode, 0, out.stdout)
        for qid in qids:
            self.assertRegex(out.stdout, qid + r" +deferred +\d+ .* <sender@other.test>")
        self.assertIn("pending  <demo@example.test> 4.3.0", out.stdout)
        self.assertIn("-- 2 messages", out.stdout)
        show = self.admin("show", qids[0])
        self.assertEqual(show.returncode, 0)
        self.assertIn("Message-ID: <admin1@test>", show.stdout)
        self.assertEqual(self.admin("show", "0NOSUCHID0000000").returncode, 1)
        self.assertEqual(self.admin("delete", "../etc").returncode, 1)
        self.assertEqual(self.admin("delete", qids[1]).returncode, 0)
        self.assertEqual(self.tool.files("deferred"), [qids[0]])
        self.assertEqual(self.admin("bogus").returncode, 2)
        self.authd.start()
        self.assertEqual(self.admin("flush").returncode, 0)
        self.assertTrue(wait_for(lambda: "queue: flush" in self.tool.logtext()))
        self.assertEqual(len(find(self.root, "admin1@test")), 1)
        self.assertEqual(find(self.root, "admin2@test", 1), [])


class QueueDiskFull(unittest.TestCase):
    def test_min_free_space(self):
        authd = Authd()
        tool = Tool(authd, "queue_min_free_space = 1000T\n")
        try:
            reply = tool.send("a@other.test", ["demo@example.test"], message("full@test"))
            self.assertEqual(reply, "451 disk full")
            self.assertEqual(tool.files("incoming"), [])
            self.assertEqual(tool.files("active"), [])
        finally:
            tool.stop()
            authd.stop()


class QueueCrash(unittest.TestCase):
    """Messages from several clients while the queue is killed with -9 at
    random moments: every acknowledged message ends up delivered."""
    N = 80
    CLIENTS = 4
    KILLS = 3

    def test_kill9(self):
        authd = Authd()
        tool = Tool(authd)
        acked, lock = set(), threading.Lock()
        rnd = random.Random(4)
        stop = time.monotonic() + 60

        def client(k):
            for i in range(k, self.N, self.CLIENTS):
                msgid = f"crash-{i}@test"
                while time.monotonic() < stop:
                    try:
                        reply = tool.send("sender@other.test", ["demo@example.test"],
                                          message(msgid))
                    except OSError:
                        reply = ""
                    if reply.startswith("250 "):
                        with lock:
                            acked.add(msgid)
                        break
                    time.sleep(0.05)

        try:
            threads = [threading.Thread(target=client, args=(k,)) for k in range(self.CLIENTS)]
            for t in threads:
                t.start()
            for _ in range(self.KILLS):
                time.sleep(rnd.uniform(0.1, 0.6))
                tool.kill9()
                tool.start()
            for t in threads:
                t.join(timeout=90)
            self.assertEqual(len(acked), self.N)
            root = authd.mail_root
            deadline = time.monotonic() + 30
            missing = list(acked)
            while missing and time.monotonic() < deadline:
                missing = [m for m in acked if not find(root, m, 0)]
                time.sleep(0.2)
            self.assertEqual(missing, [], tool.logtext()[-3000:])
        finally:
            tool.stop()
            authd.stop()


if __name__ == "__main__":
    unittest.main()
