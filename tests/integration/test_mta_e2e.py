"""mailroom-mta end to end: real clients (Python smtplib, swaks) send to the
daemon with delivery on, in front of a mailroom-authd on a passwd-file
backend, and the messages are looked for in the Maildirs, by Message-ID.
Then the crash test: a bounded load from several clients while mailroom-mta
is killed with -9 and restarted; no message that got its 250 may be lost."""
import os
import random
import smtplib
import ssl
import subprocess
import threading
import time
import unittest

from mtatest import Authd, MtaDaemon, maildir_files, message_ids

TIMEOUT = 10
SENDER = "sender@remote.test"


def message(msgid, frm=SENDER):
    return (f"From: {frm}\r\nTo: someone\r\nSubject: e2e {msgid}\r\n"
            f"Message-ID: <{msgid}>\r\n\r\nbody of {msgid}\r\n")


def start_servers():
    """An Authd and an MtaDaemon in front of it; the Authd is stopped again
    when the mta fails to start."""
    authd = Authd()
    try:
        return authd, MtaDaemon(authd)
    except Exception:
        authd.stop()
        raise


def wait_delivered(root, msgid, timeout=TIMEOUT):
    """{path: bytes} of the Maildir files holding msgid, once there is one
    (empty after timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        hits = {p: t for p, t in maildir_files(root).items() if msgid in message_ids([t])}
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.1)


class Delivery(unittest.TestCase):
    """Each recipient form ends up in the right Maildir's new/, with the
    envelope on top as Return-Path: and Delivered-To:."""

    @classmethod
    def setUpClass(cls):
        cls.authd, cls.mta = start_servers()
        cls.root = cls.authd.mail_root

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()
        cls.authd.stop()

    def check_delivered(self, msgid, where, target, sender=SENDER):
        hits = wait_delivered(self.root, msgid)
        self.assertEqual(len(hits), 1, f"{msgid}: {list(hits)}\n{self.mta.logtext()[-3000:]}")
        path, text = next(iter(hits.items()))
        self.assertEqual(os.path.dirname(path), os.path.join(self.root, where, "new"))
        head = text.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        self.assertEqual(head[0], b"Return-Path: <" + sender.encode() + b">")
        self.assertEqual(head[1], b"Delivered-To: " + target.encode())
        self.assertTrue(head[2].startswith(b"Received: from "), head[2])
        self.assertIn(f"body of {msgid}\r\n".encode(), text)

    def send_mx(self, rcpt, msgid):
        with smtplib.SMTP("127.0.0.1", self.mta.ports["smtp"], timeout=TIMEOUT) as s:
            s.ehlo("client.remote.test")
            self.assertEqual(s.mail(SENDER)[0], 250)
            self.assertEqual(s.rcpt(rcpt), (250, b"2.1.5 Ok"), rcpt)
            code, text = s.data(message(msgid))
            self.assertEqual(code, 250, text)
            self.assertRegex(text, rb"^2\.0\.0 Ok: queued as [0-9A-Z]{16}$")

    def test_targets(self):
        cases = [("demo@example.test", "example.test/demo", "demo@example.test"),
                 ("info@example.test", "example.test/demo", "demo@example.test"),
                 ("anyone@catch.test", "catch.test/postmaster", "postmaster@catch.test"),
                 ("demo@alias.test", "example.test/demo", "demo@example.test"),
                 ("demo+tag@example.test", "example.test/demo", "demo@example.test"),
                 ("other@other.test", "other.test/other", "other@other.test")]
        for i, (rcpt, where, target) in enumerate(cases):
            with self.subTest(rcpt=rcpt):
                msgid = f"target-{i}@e2e.test"
                self.send_mx(rcpt, msgid)
                self.check_delivered(msgid, where, target)
        self.assertRegex(self.mta.logtext(), r"[0-9A-Z]{16}: to=<demo@example.test>, "
                                             r"orig_to=<info@example.test>, relay=local, .*"
                                             r"status=sent")

    def test_unknown_user_not_delivered(self):
        with smtplib.SMTP("127.0.0.1", self.mta.ports["smtp"], timeout=TIMEOUT) as s:
            s.ehlo("client.remote.test")
            s.mail(SENDER)
            self.assertEqual(s.rcpt("nobody@example.test")[0], 550)
        self.assertEqual(wait_delivered(self.root, "nobody@e2e.test", 0), {})

    def test_swaks(self):
        msgid = "swaks@e2e.test"
        out = subprocess.run(["swaks", "--server", "127.0.0.1",
                              "--port", str(self.mta.ports["smtp"]),
                              "--from", SENDER, "--to", "somebody@catch.test",
                              "--helo", "swaks.remote.test",
                              "--header", f"Message-ID: <{msgid}>",
                              "--body", f"body of {msgid}"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertRegex(out.stdout, r"<-  250 2\.0\.0 Ok: queued as [0-9A-Z]{16}")
        self.check_delivered(msgid, "catch.test/postmaster", "postmaster@catch.test")

    def test_submission_starttls_auth_plain(self):
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(self.mta.cert)
        ctx.check_hostname = False
        msgid = "submission@e2e.test"
        with smtplib.SMTP("127.0.0.1", self.mta.ports["submission"], timeout=TIMEOUT) as s:
            s.ehlo("laptop.example.test")
            self.assertEqual(s.starttls(context=ctx)[0], 220)
            s.ehlo("laptop.example.test")
            self.assertIn("PLAIN", s.esmtp_features.get("auth", ""))
            s.user, s.password = "demo@example.test", "demo"
            self.assertEqual(s.auth("PLAIN", s.auth_plain)[0], 235)
            self.assertEqual(s.mail("demo@example.test")[0], 250)
            self.assertEqual(s.rcpt("other@other.test")[0], 250)
            code, text = s.data(message(msgid, frm="demo@example.test"))
            self.assertEqual(code, 250, text)
        self.check_delivered(msgid, "other.test/other", "other@other.test",
                             sender="demo@example.test")
        text = next(iter(wait_delivered(self.root, msgid).values()))
        self.assertRegex(text, rb"with ESMTPSA")


class Crash(unittest.TestCase):
    """Clients send while mailroom-mta is killed with -9 and restarted on
    the same config and queue: every acknowledged message is delivered (or
    still waits in the queue)."""
    N = 80
    CLIENTS = 4
    KILLS = 3
    RCPTS = ("demo@example.test", "info@example.test", "other@other.test", "x@catch.test")

    def setUp(self):
        self.authd, self.mta = start_servers()

    def tearDown(self):
        self.mta.stop()
        self.authd.stop()

    def send_one(self, msgid, rcpt):
        """True when the message got its 250; any error is 'not acknowledged'."""
        try:
            with smtplib.SMTP("127.0.0.1", self.mta.ports["smtp"], timeout=TIMEOUT) as s:
                s.ehlo("load.remote.test")
                if s.mail(SENDER)[0] != 250 or s.rcpt(rcpt)[0] != 250:
                    return False
                return s.data(message(msgid))[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def client(self, k, acked, lock, deadline):
        # Paced so that the load lasts a few seconds and the kills land in it.
        pace = random.Random(k)
        for i in range(k, self.N, self.CLIENTS):
            if time.monotonic() > deadline:
                return
            msgid = f"crash-{i}@e2e.test"
            if self.send_one(msgid, self.RCPTS[i % len(self.RCPTS)]):
                with lock:
                    acked.add(msgid)
            time.sleep(pace.uniform(0.05, 0.15))

    def test_kill9_under_load(self):
        acked, lock = set(), threading.Lock()
        rnd = random.Random(2024)
        deadline = time.monotonic() + 60
        threads = [threading.Thread(target=self.client, args=(k, acked, lock, deadline))
                   for k in range(self.CLIENTS)]
        for t in threads:
            t.start()
        kills = 0
        try:
            for _ in range(self.KILLS):
                time.sleep(rnd.uniform(0.2, 0.6))
                if not any(t.is_alive() for t in threads):
                    break
                self.mta.kill9()
                kills += 1
                self.mta.start()
            load_ran = any(t.is_alive() for t in threads)
        finally:
            for t in threads:
                t.join(timeout=90)
        self.assertFalse(any(t.is_alive() for t in threads), "clients did not finish")
        self.assertEqual((kills, load_ran), (self.KILLS, True), "the kills missed the load")
        # One more crash after the load, then a last restart.
        self.mta.kill9()
        self.mta.start()
        self.assertGreater(len(acked), 0, self.mta.logtext()[-3000:])

        root = self.authd.mail_root
        end = time.monotonic() + 30
        while True:
            delivered = message_ids(maildir_files(root).values())
            missing = acked - set(delivered)
            if not missing or time.monotonic() > end:
                break
            time.sleep(0.2)
        queued = set(message_ids(self.mta.queued())) & missing
        lost = sorted(missing - queued)
        dups = sum(1 for m in set(delivered) if delivered.count(m) > 1)
        print(f"# crash: {kills} kills under load and 1 after, {self.N} sent, {len(acked)} acknowledged, "
              f"{len(acked & set(delivered))} of them delivered, {len(queued)} still queued, "
              f"{len(set(delivered) - acked)} unacknowledged delivered anyway, "
              f"{dups} delivered twice, lost {len(lost)}")
        self.assertEqual(lost, [], self.mta.logtext()[-4000:])


if __name__ == "__main__":
    unittest.main()
