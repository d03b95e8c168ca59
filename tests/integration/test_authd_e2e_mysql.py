"""Logins end to end with backend = mysql: a private MariaDB loaded with
sql/, changed with plain SQL as PostfixAdmin would, and mailroom-authd
answered through its auth socket (the Dovecot protocol by hand) and the
`mailroom` admin command. Short cache TTLs show each change arriving
after the TTL it must wait for; killing mariadbd shows outages answer
"temporary failure", never a plain failure, and recovery without
restarting authd."""
import os
import signal
import subprocess
import sys
import time
import unittest

import authdtest
import mrtest
import services

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_authd_mysql import start_db  # noqa: E402  MariaDB loaded with sql/

POS_TTL, NEG_TTL = 3, 2
# Entries expire on whole seconds: a TTL of N holds for more than N-1 s.
TTL_SLACK = 3
PASSWORD = "Corr3ct horse"
# The right password for an account, domain or service that is off
DISABLED = "FAIL\t1\tcode=user_disabled"


def doveadm_hash(password):
    return subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", password],
                          capture_output=True, text=True, timeout=30,
                          check=True).stdout.strip()


def authd_for(db, extra="", name="mysql"):
    return authdtest.Authd(
        "backend = mysql\n"
        f"mysql_servers = 127.0.0.1:{db.port}\nmysql_user = {db.user}\n"
        f"mysql_password = {db.password}\nmysql_database = {db.database}\n"
        "mysql_connect_timeout = 2s\nmysql_read_timeout = 2s\nmysql_write_timeout = 2s\n"
        "mysql_retry_interval = 1s\nmysql_pool_wait = 2s\n"
        f"cache_ttl = {POS_TTL}s\ncache_negative_ttl = {NEG_TTL}s\ncache_stale_ttl = 1h\n"
        + extra, name=name)


def add_mailbox(db, user, password_hash, domain="example.test"):
    """What PostfixAdmin writes for a new mailbox: the mailbox row and its
    own alias row."""
    q = services.sql_string
    local = user.split("@")[0]
    db.sql("INSERT INTO mailbox (username, password, name, maildir, quota, local_part, "
           "domain, created, modified, active) VALUES "
           f"({q(user)}, {q(password_hash)}, 'New', {q(domain + '/' + local + '/')}, 0, "
           f"{q(local)}, {q(domain)}, NOW(), NOW(), 1); "
           "INSERT INTO alias (address, goto, domain, created, modified, active) VALUES "
           f"({q(user)}, {q(user)}, {q(domain)}, NOW(), NOW(), 1)")


class Logins(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = start_db()
        cls.addClassCleanup(cls.db.stop)
        cls.authd = authd_for(cls.db)
        cls.addClassCleanup(cls.authd.stop)
        cls.hash = doveadm_hash(PASSWORD)

    def setUp(self):
        self.c = self.authd.auth_client()
        self.addCleanup(self.c.close)

    def ok(self, user):
        return f"OK\t1\tuser={user}"

    def test_inserted_mailbox_logs_in_at_once(self):
        user = "fresh@example.test"
        add_mailbox(self.db, user, self.hash)
        self.assertEqual(self.c.login(user, PASSWORD), self.ok(user))
        self.assertEqual(self.c.login(user, PASSWORD + "!"), "FAIL\t1")
        r = self.authd.mailroom("auth", "test", "--service", "smtp", user, PASSWORD)
        self.assertEqual((r.returncode, r.stdout), (0, f"OK user={user}\n"), r.stderr)
        r = self.authd.mailroom("auth", "test", user, "wrong")
        self.assertEqual((r.returncode, r.stdout), (1, "FAIL\n"), r.stderr)
        # Its PostfixAdmin self-alias makes it no alias: a plain mailbox.
        got = self.authd.lookup_client().ask("RCPT", user)
        self.assertEqual(got, ["OK", "kind=mailbox", f"local={user}",
                               "maildir=/srv/mail/example.test/fresh/"])

    def test_insert_after_a_miss_waits_for_the_negative_ttl(self):
        user = "late@example.test"
        self.assertEqual(self.c.login(user, PASSWORD), "FAIL\t1")
        missed = time.monotonic()
        add_mailbox(self.db, user, self.hash)
        if time.monotonic() - missed < NEG_TTL - 1:
            # Still the cached "not found".
            self.assertEqual(self.c.login(user, PASSWORD), "FAIL\t1")
        authdtest.wait_until("login after the negative TTL",
                             lambda: self.c.login(user, PASSWORD) == self.ok(user),
                             NEG_TTL + TTL_SLACK)
        self.assertGreater(time.monotonic() - missed, NEG_TTL - 1)

    def test_deactivated_mailbox_stops_after_the_positive_ttl(self):
        user = "leaving@example.test"
        add_mailbox(self.db, user, self.hash)
        self.assertEqual(self.c.login(user, PASSWORD), self.ok(user))
        cached = time.monotonic()
        self.db.sql(f"UPDATE mailbox SET active = 0 WHERE username = '{user}'")
        if time.monotonic() - cached < POS_TTL - 1:
            self.assertEqual(self.c.login(user, PASSWORD), self.ok(user))
        authdtest.wait_until("login refused after the positive TTL",
                             lambda: self.c.login(user, PASSWORD) == DISABLED,
                             POS_TTL + TTL_SLACK)
        self.assertGreater(time.monotonic() - cached, POS_TTL - 1)
        self.authd.wait_log(f'user=<{user}> service=imap rip=- reason="account disabled"')
        r = self.authd.mailroom("user", "lookup", user)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("status=disabled", r.stdout.splitlines())
        # A disabled mailbox receives nothing either.
        self.assertEqual(self.authd.lookup_client().ask("RCPT", user), ["NOTFOUND"])

    def test_disabled_domain(self):
        self.assertEqual(self.c.login("dave@disabled.test", "dave"), DISABLED)
        self.authd.wait_log('user=<dave@disabled.test> service=imap rip=- '
                            'reason="domain disabled"')
        # A domain switched off later: its mailboxes stop after the TTL.
        self.db.sql("INSERT INTO domain (domain, description, created, modified, active) "
                    "VALUES ('later.test', '', NOW(), NOW(), 1)")
        add_mailbox(self.db, "x@later.test", self.hash, domain="later.test")
        self.assertEqual(self.c.login("x@later.test", PASSWORD), self.ok("x@later.test"))
        self.db.sql("UPDATE domain SET active = 0 WHERE domain = 'later.test'")
        authdtest.wait_until("login refused in the disabled domain",
                             lambda: self.c.login("x@later.test", PASSWORD) == DISABLED,
                             POS_TTL + TTL_SLACK)

    def test_service_flags(self):
        carol = "carol@example.test"
        self.assertEqual(self.c.login(carol, "carol", service="imap"), DISABLED)
        self.authd.wait_log(f'user=<{carol}> service=imap rip=- reason="service disabled"')
        for service in ("smtp", "pop3", "submission"):
            self.assertEqual(self.c.login(carol, "carol", service=service), self.ok(carol),
                             service)
        r = self.authd.mailroom("auth", "test", "--service", "imap", carol, "carol")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        r = self.authd.mailroom("auth", "test", "--service", "smtp", carol, "carol")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # A flag switched off with SQL.
        user = "flags@example.test"
        add_mailbox(self.db, user, self.hash)
        self.assertEqual(self.c.login(user, PASSWORD, service="pop3"), self.ok(user))
        self.db.sql(f"UPDATE mailbox SET enable_pop3 = 0 WHERE username = '{user}'")
        authdtest.wait_until("pop3 refused after the flag went off",
                             lambda: self.c.login(user, PASSWORD, service="pop3") == DISABLED,
                             POS_TTL + TTL_SLACK)
        self.assertEqual(self.c.login(user, PASSWORD, service="imap"), self.ok(user))

    def test_sample_users(self):
        for user in ("demo@example.test", "alice@example.test", "info@catchall.test"):
            local = user.split("@")[0]
            self.assertEqual(self.c.login(user, local), self.ok(user))
            self.assertEqual(self.c.login(user, local.upper()), "FAIL\t1")
        self.assertEqual(self.c.login("bob@example.test", "bob"), DISABLED)
        for name in ("' OR 1=1 --", "demo@example.test' -- "):
            self.assertEqual(self.c.login(name, "demo"), "FAIL\t1")


    def test_cached_answer_does_not_wait_behind_a_stuck_backend(self):
        # One worker: only an answer given without one can pass the stuck one.
        authd = authd_for(self.db, "workers = 1\n", name="mysql-one-worker")
        self.addCleanup(authd.stop)
        look = authd.lookup_client()
        self.addCleanup(look.close)
        self.assertEqual(look.ask("RCPT", "team@example.test")[0], "OK")
        mrtest.stop_process(self.db.pid)
        try:
            # An uncached request waits on the frozen server; the cached one
            # sent after it on the same connection is answered first.
            look.send("slow\tUSER\tcarol@example.test")
            look.send("fast\tRCPT\tteam@example.test")
            began = time.monotonic()
            first = look.line().split("\t")
            self.assertEqual(first[:3], ["fast", "OK", "kind=alias"], first)
            self.assertLess(time.monotonic() - began, 1.5)
        finally:
            os.kill(self.db.pid, signal.SIGCONT)
        second = look.line().split("\t")
        self.assertEqual(second[0], "slow")

class Outage(unittest.TestCase):
    """mariadbd killed mid-test and started again on its port and data."""

    @classmethod
    def setUpClass(cls):
        cls.db = start_db()
        cls.addClassCleanup(cls.db.stop)
        cls.authd = authd_for(cls.db, name="mysql-outage")
        cls.addClassCleanup(cls.authd.stop)

    def kill_db(self):
        proc = self.db.proc
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        self.db.proc = None

    def test_outage_and_recovery(self):
        c = self.authd.auth_client()
        self.addCleanup(c.close)
        self.assertEqual(c.login("demo@example.test", "demo"), "OK\t1\tuser=demo@example.test")
        self.kill_db()
        # Past the positive TTL: demo's entry is stale, not gone.
        time.sleep(POS_TTL + 0.5)
        for user, password in (("alice@example.test", "alice"), ("alice@example.test", "bad"),
                               ("nobody@example.test", "x"), ("carol@example.test", "")):
            self.assertEqual(c.login(user, password), "FAIL\t1\ttemp", user)
        self.assertEqual(c.login("demo@example.test", "demo"), "OK\t1\tuser=demo@example.test")
        self.authd.wait_log("auth tempfail: user=<alice@example.test>")
        r = self.authd.mailroom("user", "lookup", "alice@example.test")
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("TEMPFAIL\n"), r.stdout)
        r = self.authd.mailroom("auth", "test", "alice@example.test", "alice")
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        self.assertEqual(self.authd.lookup_client().ask("RCPT", "alice@example.test")[0],
                         "TEMPFAIL")

        self.db._launch()  # the same port and data directory
        authdtest.wait_until("alice logs in after the restart",
                             lambda: c.login("alice@example.test", "alice")
                             == "OK\t1\tuser=alice@example.test", 20)
        self.assertEqual(c.login("alice@example.test", "bad"), "FAIL\t1")
        r = self.authd.mailroom("user", "lookup", "alice@example.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.authd.proc.poll(), None)


if __name__ == "__main__":
    unittest.main()
