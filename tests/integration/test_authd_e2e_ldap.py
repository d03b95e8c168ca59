"""Logins end to end with backend = ldap: a private slapd loaded with
schema/mailroom.ldif and schema/sample.ldif, changed with ldapadd and
ldapmodify, and two mailroom-authd (ldap_auth_mode compare and bind)
answered through their auth sockets and the `mailroom` admin command.
Stopping slapd shows outages answer "temporary failure", never a plain
failure, and recovery without restarting authd."""
import os
import subprocess
import time
import unittest

import authdtest
import mrtest
import services

SCHEMA_LDIF = os.path.join(mrtest.SRCDIR, "schema", "mailroom.ldif")
SAMPLE_LDIF = os.path.join(mrtest.SRCDIR, "schema", "sample.ldif")
POS_TTL, NEG_TTL = 3, 2
TTL_SLACK = 3  # entries expire on whole seconds
MODES = ("compare", "bind")
# The right password for an account, domain or service that is off
DISABLED = "FAIL\t1\tcode=user_disabled"


def start_slapd():
    ldap = services.Slapd(extra_schemas=[SCHEMA_LDIF])
    ldap.start()
    try:
        ldap.add_ldif(SAMPLE_LDIF)
    except BaseException:
        ldap.stop()
        raise
    return ldap


def authd_for(ldap, mode):
    """compare reads userPassword, which only the root DN may (see
    services.Slapd); bind searches anonymously and binds as the user."""
    account = (f"ldap_bind_dn = {ldap.root_dn}\nldap_bind_password = {ldap.root_pw}\n"
               if mode == "compare" else "")
    return authdtest.Authd(
        f"backend = ldap\nldap_uris = {ldap.uri}\nldap_base = ou=domains,{ldap.suffix}\n"
        f"ldap_auth_mode = {mode}\n{account}ldap_timeout = 2s\nldap_retry_interval = 1s\n"
        f"cache_ttl = {POS_TTL}s\ncache_negative_ttl = {NEG_TTL}s\ncache_stale_ttl = 1h\n",
        name=f"ldap-{mode}")


def start_servers(cls):
    """slapd and one authd per auth mode for a test class."""
    cls.ldap = start_slapd()
    cls.addClassCleanup(cls.ldap.stop)
    cls.authd = {}
    for mode in MODES:
        cls.authd[mode] = authd_for(cls.ldap, mode)
        cls.addClassCleanup(cls.authd[mode].stop)


def slappasswd(password):
    return subprocess.run(["slappasswd", "-h", "{SSHA}", "-s", password], capture_output=True,
                          text=True, timeout=30, check=True).stdout.strip()


def entry(ldap, mail, password_hash, extra=""):
    domain = mail.split("@")[1]
    return (f"dn: mail={mail},mailroomDomainName={domain},ou=domains,{ldap.suffix}\n"
            "objectClass: inetOrgPerson\nobjectClass: mailroomUser\ncn: N\nsn: N\n"
            f"mail: {mail}\nuserPassword: {password_hash}\n{extra}")


def set_status(ldap, mail, status):
    domain = mail.split("@")[1]
    ldap.ldap("ldapmodify", "-x", "-D", ldap.root_dn, "-w", ldap.root_pw,
              input=f"dn: mail={mail},mailroomDomainName={domain},ou=domains,{ldap.suffix}\n"
                    f"changetype: modify\nreplace: mailroomStatus\nmailroomStatus: {status}\n")


class Logins(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_servers(cls)

    def setUp(self):
        self.c = {}
        for mode in MODES:
            self.c[mode] = self.authd[mode].auth_client()
            self.addCleanup(self.c[mode].close)

    def ok(self, user):
        return f"OK\t1\tuser={user}"

    def test_right_wrong_and_empty_passwords(self):
        for mode in MODES:
            c = self.c[mode]
            for user in ("demo@example.test", "alice@example.test", "info@catchall.test"):
                local = user.split("@")[0]
                with self.subTest(mode=mode, user=user):
                    self.assertEqual(c.login(user, local), self.ok(user))
                    self.assertEqual(c.login(user, local + "x"), "FAIL\t1")
                    self.assertEqual(c.login(user, local.upper()), "FAIL\t1")
                    # An empty password must never become an anonymous bind.
                    self.assertEqual(c.login(user, ""), "FAIL\t1")
            self.assertEqual(c.login("nobody@example.test", "nobody"), "FAIL\t1")
            self.assertEqual(c.login("*)(uid=*", ""), "FAIL\t1")
            r = self.authd[mode].mailroom("auth", "test", "demo@example.test", "demo")
            self.assertEqual((r.returncode, r.stdout), (0, "OK user=demo@example.test\n"),
                             mode + r.stderr)

    def test_status_domain_and_service(self):
        for mode in MODES:
            c, d = self.c[mode], self.authd[mode]
            self.assertEqual(c.login("bob@example.test", "bob"), DISABLED, mode)
            d.wait_log('user=<bob@example.test> service=imap rip=- reason="account disabled"')
            self.assertEqual(c.login("dave@disabled.test", "dave"), DISABLED, mode)
            d.wait_log('user=<dave@disabled.test> service=imap rip=- reason="domain disabled"')
            carol = "carol@example.test"
            self.assertEqual(c.login(carol, "carol", service="imap"), DISABLED, mode)
            d.wait_log(f'user=<{carol}> service=imap rip=- reason="service disabled"')
            self.assertEqual(c.login(carol, "carol", service="smtp"), self.ok(carol), mode)
            self.assertEqual(c.login(carol, "carol", service="pop3"), self.ok(carol), mode)

    def test_entry_added_with_ldapadd_logs_in_at_once(self):
        user = "added@example.test"
        self.ldap.add_ldif(entry(self.ldap, user, slappasswd("n3w pass")))
        for mode in MODES:
            self.assertEqual(self.c[mode].login(user, "n3w pass"), self.ok(user), mode)
            self.assertEqual(self.c[mode].login(user, "n3w pas"), "FAIL\t1", mode)
            r = self.authd[mode].mailroom("user", "lookup", user)
            self.assertIn("maildir=/srv/mail/example.test/added/", r.stdout.splitlines())

    def test_entry_added_after_a_miss_waits_for_the_negative_ttl(self):
        user = "later@example.test"
        for mode in MODES:
            self.assertEqual(self.c[mode].login(user, "pw"), "FAIL\t1", mode)
        missed = time.monotonic()
        self.ldap.add_ldif(entry(self.ldap, user, slappasswd("pw")))
        for mode in MODES:
            authdtest.wait_until(f"{mode}: login after the negative TTL",
                                 lambda: self.c[mode].login(user, "pw") == self.ok(user),
                                 NEG_TTL + TTL_SLACK)
        self.assertGreater(time.monotonic() - missed, NEG_TTL - 1)

    def test_disabled_status_stops_logins_after_the_ttl(self):
        user = "switch@example.test"
        self.ldap.add_ldif(entry(self.ldap, user, slappasswd("pw"), "mailroomStatus: active\n"))
        for mode in MODES:
            self.assertEqual(self.c[mode].login(user, "pw"), self.ok(user), mode)
        cached = time.monotonic()
        set_status(self.ldap, user, "disabled")
        for mode in MODES:
            authdtest.wait_until(f"{mode}: login refused after the TTL",
                                 lambda: self.c[mode].login(user, "pw") == DISABLED,
                                 POS_TTL + TTL_SLACK)
        self.assertGreater(time.monotonic() - cached, POS_TTL - 1)
        set_status(self.ldap, user, "active")
        for mode in MODES:
            authdtest.wait_until(f"{mode}: login again once active",
                                 lambda: self.c[mode].login(user, "pw") == self.ok(user),
                                 POS_TTL + TTL_SLACK)


class Outage(unittest.TestCase):
    """slapd stopped mid-test and started again on its port and data."""

    @classmethod
    def setUpClass(cls):
        start_servers(cls)

    def test_outage_and_recovery(self):
        c = {mode: self.authd[mode].auth_client() for mode in MODES}
        for mode in MODES:
            self.addCleanup(c[mode].close)
            self.assertEqual(c[mode].login("demo@example.test", "demo"),
                             "OK\t1\tuser=demo@example.test", mode)
        self.ldap._end_process()
        try:
            time.sleep(POS_TTL + 0.5)  # demo's entries are stale now, not gone
            for mode in MODES:
                for user, password in (("alice@example.test", "alice"),
                                       ("alice@example.test", "bad"),
                                       ("nobody@example.test", "x")):
                    self.assertEqual(c[mode].login(user, password), "FAIL\t1\ttemp",
                                     f"{mode} {user} {password}")
                r = self.authd[mode].mailroom("user", "lookup", "alice@example.test")
                self.assertEqual(r.returncode, 75, mode + r.stdout + r.stderr)
            # compare mode checks the cached hash; bind mode needs the
            # server for every password, so it can only say "try later".
            self.assertEqual(c["compare"].login("demo@example.test", "demo"),
                             "OK\t1\tuser=demo@example.test")
            self.assertEqual(c["compare"].login("demo@example.test", "bad"), "FAIL\t1")
            self.assertEqual(c["bind"].login("demo@example.test", "demo"), "FAIL\t1\ttemp")
        finally:
            self.ldap._launch()  # the same port and database
        for mode in MODES:
            authdtest.wait_until(f"{mode}: alice logs in after the restart",
                                 lambda: c[mode].login("alice@example.test", "alice")
                                 == "OK\t1\tuser=alice@example.test", 20)
            self.assertEqual(c[mode].login("alice@example.test", "bad"), "FAIL\t1", mode)
            self.assertEqual(c[mode].login("demo@example.test", "demo"),
                             "OK\t1\tuser=demo@example.test", mode)
            self.assertIsNone(self.authd[mode].proc.poll())


if __name__ == "__main__":
    unittest.main()
