"""authd's LDAP backend against a private slapd with Mailroom's schema.

The backend's primitives run through tests/authd/ldap-query; what they
answer is checked against schema/sample.ldif as read here, by Python, and
against changes made with the OpenLDAP command-line tools. Outages (a
server stopped, a server frozen, a dead first URI) must answer tempfail,
never notfound.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import mrtest
import services

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_authd import Lookup  # noqa: E402  the lookup-socket client

AUTHD = os.path.join(mrtest.BUILDDIR, "authd", "mailroom-authd")
QUERY = os.path.join(mrtest.BUILDDIR, "tests", "authd", "ldap-query")
SCHEMA_LDIF = os.path.join(mrtest.SRCDIR, "schema", "mailroom.ldif")
SAMPLE_LDIF = os.path.join(mrtest.SRCDIR, "schema", "sample.ldif")
MAILROOM_CONF = os.path.join(mrtest.SRCDIR, "etc", "authd-ldap-mailroom.conf")
EXAMPLE_CONFS = [os.path.join(mrtest.SRCDIR, "etc", f"authd-ldap-{n}.conf")
                 for n in ("mailroom", "iredmail", "postfixbook")]
QUERY_TIMEOUT = 30
INJECTIONS = ["*)(uid=*", "*", "a)(mail=*", "*@example.test", "demo@example.test)(mail=*",
              "*)(|(mail=*", "\\2a", "demo@example.test\\"]


def read_sample():
    """Entries of sample.ldif, keyed by mail, with objectClass lists."""
    with open(SAMPLE_LDIF) as f:
        entries = services.parse_ldif(f.read())
    return [e for e in entries if "dn" in e]


def parse_answer(lines):
    """key=value lines into a dict; repeated keys collect into lists."""
    out = {}
    for line in lines:
        key, _, value = line.partition("=")
        if key == "target":
            out.setdefault("target", []).append(value)
        else:
            out[key] = value
    return out


class Slapd(services.Slapd):
    """A private slapd that can be stopped and started again on its port."""

    def halt(self):
        self._end_process()

    def resume(self):
        self._launch()


class Query:
    """A long-lived ldap-query reading commands on stdin."""

    def __init__(self, conf, *opts):
        argv = [QUERY]
        for o in opts:
            argv += ["-o", o]
        self.proc = subprocess.Popen(argv + [conf, "-"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def ask(self, *words):
        self.proc.stdin.write("\t".join(words) + "\n")
        self.proc.stdin.flush()
        lines = []
        deadline = time.monotonic() + QUERY_TIMEOUT
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line in ("", ".\n"):
                break
            lines.append(line.rstrip("\n"))
        return parse_answer(lines)

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=QUERY_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.proc.stdout.close()


class LdapTestCase(unittest.TestCase):
    ldap = None

    @classmethod
    def start_ldap(cls):
        cls.ldap = Slapd(extra_schemas=[SCHEMA_LDIF])
        cls.ldap.start()
        try:
            cls.ldap.add_ldif(SAMPLE_LDIF)
        except BaseException:
            cls.ldap.stop()
            raise
        cls.tmp = tempfile.mkdtemp(prefix="mr-ldapq-")

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()
        for name in os.listdir(cls.tmp):
            os.unlink(os.path.join(cls.tmp, name))
        os.rmdir(cls.tmp)

    def conf(self, mode="compare", uris=None, **extra):
        """A config for this server: the service account is the root DN in
        compare mode (slapd lets nobody else read userPassword) and
        anonymous in bind mode."""
        keys = {"ldap_base": "ou=domains," + self.ldap.suffix, "ldap_timeout": "2s",
                "ldap_retry_interval": "1s", "ldap_auth_mode": mode}
        if mode == "compare":
            keys.update(ldap_bind_dn=self.ldap.root_dn, ldap_bind_password=self.ldap.root_pw)
        keys.update(extra)
        lines = ["ldap_uris = " + u for u in (uris or [self.ldap.uri])]
        lines += [f"{k} = {v}" for k, v in keys.items()]
        path = os.path.join(self.tmp, f"q{len(os.listdir(self.tmp))}.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def query(self, conf, *words, opts=()):
        argv = [QUERY]
        for o in opts:
            argv += ["-o", o]
        res = subprocess.run(argv + [conf] + list(words), capture_output=True, text=True,
                             timeout=QUERY_TIMEOUT)
        lines = [ln for ln in res.stdout.splitlines() if ln != "."]
        answer = parse_answer(lines)
        answer["rc"] = res.returncode
        answer["stderr"] = res.stderr
        return answer

    def assertStatus(self, answer, status, what=""):
        self.assertEqual(answer.get("status"), status, f"{what}: {answer}")


class SampleDirectoryTest(LdapTestCase):
    """Every primitive for every sample entry, in both auth modes."""

    @classmethod
    def setUpClass(cls):
        cls.start_ldap()
        cls.entries = read_sample()
        cls.users = [e for e in cls.entries if "mailroomUser" in e["objectClass"]]
        cls.aliases = [e for e in cls.entries if "mailroomAlias" in e["objectClass"]]
        cls.domains = {e["mailroomDomainName"][0]: e for e in cls.entries
                       if "mailroomDomain" in e["objectClass"]}

    def expected_user(self, e):
        mail = e["mail"][0]
        domain = self.domains[mail.split("@")[1]]
        services_ = e.get("mailroomEnabledService", ["smtp", "imap", "pop3", "deliver"])
        quota = e.get("mailroomQuotaBytes", domain.get("mailroomDefaultQuotaBytes", ["0"]))
        messages = e.get("mailroomQuotaMessages",
                         domain.get("mailroomDefaultQuotaMessages", ["0"]))
        return {"user": mail, "maildir": e["mailroomMailbox"][0], "quota_bytes": quota[0],
                "quota_messages": messages[0],
                "services": ",".join(s for s in ("smtp", "imap", "pop3", "deliver")
                                     if s in services_),
                "active": "yes" if e.get("mailroomStatus", ["active"])[0] == "active" else "no",
                "domain_active": "yes" if domain.get("mailroomStatus", ["active"])[0] ==
                "active" else "no"}

    def test_user_lookup_every_sample_user(self):
        self.assertGreaterEqual(len(self.users), 6)
        conf = self.conf()
        for e in self.users:
            mail = e["mail"][0]
            got = self.query(conf, "user", mail)
            self.assertStatus(got, "ok", mail)
            want = self.expected_user(e)
            self.assertEqual({k: got[k] for k in want}, want, mail)
            self.assertEqual(got["password"], e["userPassword"][0], mail)
        # bob is off, dave's domain is off, carol has no IMAP: from the data.
        self.assertEqual(self.query(conf, "user", "bob@example.test")["active"], "no")
        self.assertEqual(self.query(conf, "user", "dave@disabled.test")["domain_active"], "no")
        self.assertEqual(self.query(conf, "user", "carol@example.test")["services"],
                         "smtp,pop3,deliver")
        # bob sets no quota: the domain's default applies.
        self.assertEqual(self.query(conf, "user", "bob@example.test")["quota_bytes"],
                         "104857600")

    def test_user_lookup_ignores_case_and_canonicalises(self):
        got = self.query(self.conf(), "user", "DEMO@EXAMPLE.TEST")
        self.assertStatus(got, "ok")
        self.assertEqual(got["user"], "demo@example.test")

    def test_bind_mode_never_reads_the_password(self):
        got = self.query(self.conf("bind"), "user", "demo@example.test")
        self.assertStatus(got, "ok")
        self.assertEqual(got["password"], "")

    def test_unknown_names_are_notfound(self):
        conf = self.conf()
        for name in ("nobody@example.test", "postmaster@example.test", "demo@nowhere.test",
                     "demo.user@example.test", "j\u00fcrgen@example.test"):
            self.assertStatus(self.query(conf, "user", name), "notfound", name)
        self.assertStatus(self.query(conf, "domain", "nowhere.test"), "notfound")
        self.assertStatus(self.query(conf, "alias", "nobody@example.test"), "notfound")

    def test_alias_lookup_every_sample_alias(self):
        conf = self.conf()
        for e in self.aliases:
            mail = e["mail"][0]
            got = self.query(conf, "alias", mail)
            if e.get("mailroomStatus", ["active"])[0] != "active":
                self.assertStatus(got, "notfound", mail)
                continue
            self.assertStatus(got, "ok", mail)
            self.assertEqual(sorted(got["target"]), sorted(e["mailroomForwardTo"]), mail)

    def test_alias_lookup_of_mailboxes(self):
        # A forwarding mailbox names itself plus its forwards, as its SQL
        # alias row does; one that forwards nowhere has no alias (the core
        # finds the mailbox); an alternate address names the mailbox.
        conf = self.conf()
        for e in self.users:
            mail = e["mail"][0]
            got = self.query(conf, "alias", mail)
            forwards = e.get("mailroomForwardTo", [])
            if not forwards:
                self.assertStatus(got, "notfound", mail)
                continue
            self.assertStatus(got, "ok", mail)
            self.assertEqual(got["target"], [mail] + forwards, mail)
            for alt in e.get("mailAlternateAddress", []):
                got = self.query(conf, "alias", alt)
                self.assertEqual(got.get("target"), [mail], alt)

    def test_catch_all_only_by_its_own_key(self):
        conf = self.conf()
        self.assertEqual(self.query(conf, "alias", "@catchall.test")["target"],
                         ["info@catchall.test"])
        self.assertStatus(self.query(conf, "alias", "nobody@catchall.test"), "notfound")

    def test_domain_lookup_every_sample_domain(self):
        conf = self.conf()
        for name, e in self.domains.items():
            got = self.query(conf, "domain", name)
            self.assertStatus(got, "ok", name)
            self.assertEqual(got["hosted"], "yes")
            self.assertEqual(got["relay"], "no")
            self.assertEqual(got["active"], "yes" if e.get("mailroomStatus", ["active"])[0]
                             == "active" else "no", name)
            self.assertEqual(got["alias_target"],
                             e.get("mailroomAliasTargetDomain", [""])[0], name)

    def test_sender_grants(self):
        conf = self.conf()
        granted = [(e["mail"][0], s) for e in self.users
                   for s in e.get("mailroomAllowedSender", [])]
        self.assertGreaterEqual(len(granted), 2)
        for login, sender in granted:
            self.assertStatus(self.query(conf, "sender", login, sender), "ok", sender)
        for login, sender in (("demo@example.test", "@example.test"),
                              ("alice@example.test", "@catchall.test"),
                              ("carol@example.test", "sales@example.test")):
            self.assertStatus(self.query(conf, "sender", login, sender), "notfound", sender)
        self.assertStatus(self.query(self.conf(ldap_sender_filter=""), "sender",
                                     "demo@example.test", "@catchall.test"), "notfound")

    def check_passwords(self, conf, mode):
        for e in self.users:
            mail = e["mail"][0]
            right = mail.split("@")[0]
            self.assertStatus(self.query(conf, "auth", mail, right), "ok", f"{mode} {mail}")
            got = self.query(conf, "auth", mail, right + "x")
            self.assertStatus(got, "notfound", f"{mode} {mail} wrong")
            self.assertEqual(got["error"], "password mismatch")
            got = self.query(conf, "auth", mail, "")
            self.assertStatus(got, "notfound", f"{mode} {mail} empty")
            self.assertEqual(got["error"], "empty password")

    def test_auth_compare_mode(self):
        self.check_passwords(self.conf("compare"), "compare")

    def test_auth_bind_mode(self):
        self.check_passwords(self.conf("bind"), "bind")

    def slapd_log(self):
        with open(self.ldap.path("slapd.log"), errors="replace") as f:
            return f.read()

    def test_empty_password_never_binds(self):
        conf = self.conf("bind")
        self.assertStatus(self.query(conf, "auth", "demo@example.test", "demo"), "ok")
        before = self.slapd_log().count('BIND dn="mail=demo@example.test')
        self.assertGreaterEqual(before, 1)
        self.assertStatus(self.query(conf, "auth", "demo@example.test", ""), "notfound")
        self.assertEqual(self.slapd_log().count('BIND dn="mail=demo@example.test'), before)

    def test_injection_shaped_names(self):
        conf, bind = self.conf(), self.conf("bind")
        for name in INJECTIONS:
            for cmd in (("user", name), ("alias", name), ("domain", name),
                        ("auth", name, "demo"), ("sender", name, "@catchall.test"),
                        ("sender", "demo@example.test", name)):
                # notfound, not tempfail "2 or more entries match": nothing broad.
                self.assertStatus(self.query(conf, *cmd), "notfound", f"{cmd}")
            self.assertStatus(self.query(bind, "auth", name, "demo"), "notfound", name)
        # slapd saw the escaped value as one assertion.
        self.assertIn("(mail=\\2a\\29\\28uid=\\2a)", self.slapd_log().lower())

    def test_entry_added_with_ldapadd_is_found_at_once(self):
        mail = "newbie@example.test"
        conf, bind = self.conf(), self.conf("bind")
        self.assertStatus(self.query(conf, "user", mail), "notfound")
        self.ldap.add_ldif(
            f"dn: mail={mail},mailroomDomainName=example.test,ou=domains,{self.ldap.suffix}\n"
            "objectClass: inetOrgPerson\nobjectClass: mailroomUser\ncn: New\nsn: New\n"
            f"mail: {mail}\nuserPassword: {services.ssha('fresh-pw')}\n"
            "mailroomMailbox: example.test/newbie/\nmailroomEnabledService: imap\n")
        got = self.query(conf, "user", mail)
        self.assertStatus(got, "ok")
        self.assertEqual((got["maildir"], got["services"], got["active"], got["quota_bytes"]),
                         ("example.test/newbie/", "imap", "yes", "104857600"))
        for c in (conf, bind):
            self.assertStatus(self.query(c, "auth", mail, "fresh-pw"), "ok")
            self.assertStatus(self.query(c, "auth", mail, "fresh-px"), "notfound")

    def test_status_change_seen_at_once(self):
        mail = "switch@catchall.test"
        conf = self.conf()
        dn = f"mail={mail},mailroomDomainName=catchall.test,ou=domains,{self.ldap.suffix}"
        self.ldap.add_ldif(f"dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: mailroomUser\n"
                           f"cn: S\nsn: S\nmail: {mail}\nmailroomStatus: active\n")
        got = self.query(conf, "user", mail)
        self.assertEqual((got["active"], got["maildir"]), ("yes", "catchall.test/switch/"))
        self.ldap.ldap("ldapmodify", "-x", "-D", self.ldap.root_dn, "-w", self.ldap.root_pw,
                       input=f"dn: {dn}\nchangetype: modify\nreplace: mailroomStatus\n"
                             "mailroomStatus: disabled\n")
        self.assertEqual(self.query(conf, "user", mail)["active"], "no")

    def test_two_entries_for_one_login_are_refused(self):
        # A second entry with the same mail elsewhere in the tree.
        self.ldap.add_ldif(
            f"dn: mail=twin@example.test,mailroomDomainName=catchall.test,ou=domains,"
            f"{self.ldap.suffix}\nobjectClass: inetOrgPerson\nobjectClass: mailroomUser\n"
            "cn: T\nsn: T\nmail: twin@example.test\n")
        self.ldap.add_ldif(
            f"dn: mail=twin@example.test,mailroomDomainName=example.test,ou=domains,"
            f"{self.ldap.suffix}\nobjectClass: inetOrgPerson\nobjectClass: mailroomUser\n"
            "cn: T\nsn: T\nmail: twin@example.test\n")
        got = self.query(self.conf(), "user", "twin@example.test")
        self.assertStatus(got, "tempfail")
        self.assertIn("entries match", got["error"])

    def test_pool_serves_parallel_requests(self):
        q = Query(self.conf("bind", ldap_pool_size="2"))
        try:
            got = q.ask("parallel", "24", "auth", "demo@example.test", "demo")
            self.assertEqual((got["ok"], got["tempfail"]), ("24", "0"), got)
            got = q.ask("parallel", "24", "auth", "demo@example.test", "wrong")
            self.assertEqual((got["notfound"], got["tempfail"]), ("24", "0"), got)
            # The handles went back to the service account after the user binds.
            got = q.ask("parallel", "8", "user", "alice@example.test")
            self.assertEqual(got["ok"], "8", got)
        finally:
            q.close()

    def test_failover_to_the_second_uri(self):
        dead = f"ldap://127.0.0.1:{mrtest.free_port()}/"
        conf = self.conf(uris=[dead, self.ldap.uri])
        for cmd in (("user", "demo@example.test"), ("alias", "team@example.test"),
                    ("domain", "example.test"), ("auth", "demo@example.test", "demo")):
            self.assertStatus(self.query(conf, *cmd), "ok", cmd)
        got = self.query(self.conf(uris=[dead]), "user", "demo@example.test")
        self.assertStatus(got, "tempfail")
        self.assertIn(dead, got["error"])

    def test_starttls_refused_is_never_used_in_clear(self):
        got = self.query(self.conf(ldap_starttls="yes"), "user", "demo@example.test")
        self.assertStatus(got, "tempfail")
        self.assertIn("StartTLS", got["error"])

    def test_example_configs_load(self):
        for path in EXAMPLE_CONFS:
            got = self.query(path, "domain", "example.test",
                             opts=[f"ldap_uris=ldap://127.0.0.1:{mrtest.free_port()}/"])
            self.assertStatus(got, "tempfail", path)
            self.assertIn("Can't contact LDAP server", got["error"])
        got = self.query(MAILROOM_CONF, "auth", "demo@example.test", "demo",
                         opts=["ldap_uris=" + self.ldap.uri,
                               "ldap_base=ou=domains," + self.ldap.suffix,
                               "ldap_bind_dn=" + self.ldap.root_dn,
                               "ldap_bind_password=" + self.ldap.root_pw])
        self.assertStatus(got, "ok")

    def test_mailroom_example_holds_every_key_with_its_default(self):
        defaults = subprocess.run([QUERY, "--print-defaults"], capture_output=True,
                                  text=True, check=True, timeout=QUERY_TIMEOUT).stdout
        with open(MAILROOM_CONF) as f:
            settings = [ln for ln in f.read().splitlines() if ln and not ln.startswith("#")]
        self.assertEqual(settings, [ln for ln in defaults.splitlines()
                                    if ln and not ln.startswith("#")])

    def test_bad_configuration_stops_start_up(self):
        for key, value in (("ldap_user_filter", "(mail=%x)"),
                           ("ldap_alias_filter", "(mail=%s"),
                           ("ldap_uris", "http://127.0.0.1/"),
                           ("ldap_domain_filter", "")):
            got = self.query(self.conf(**{key: value}), "user", "demo@example.test")
            self.assertEqual(got["rc"], 3, f"{key}: {got}")
            self.assertIn("ldap_", got["stderr"])


class OutageTest(LdapTestCase):
    """A server that stops or freezes answers tempfail, and is used again
    once back, by the same running process."""

    @classmethod
    def setUpClass(cls):
        cls.start_ldap()

    def ask_all(self, q):
        return [q.ask(*cmd) for cmd in (("user", "demo@example.test"),
                                        ("alias", "team@example.test"),
                                        ("domain", "example.test"),
                                        ("sender", "demo@example.test", "@catchall.test"),
                                        ("auth", "demo@example.test", "demo"),
                                        ("auth", "demo@example.test", "wrong"))]

    def wait_ok(self, q, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = q.ask("user", "demo@example.test")
            if got["status"] == "ok":
                return got
            time.sleep(0.2)
        self.fail("no recovery after the server came back")

    def test_stopped_server_tempfails_and_recovers(self):
        for mode in ("compare", "bind"):
            q = Query(self.conf(mode, ldap_pool_size="2"))
            try:
                answers = self.ask_all(q)
                self.assertEqual([a["status"] for a in answers],
                                 ["ok"] * 5 + ["notfound"], mode)
                self.ldap.halt()
                try:
                    for a in self.ask_all(q):
                        self.assertStatus(a, "tempfail", mode)
                        self.assertTrue(a.get("error"), a)
                finally:
                    self.ldap.resume()
                self.wait_ok(q)
                self.assertEqual([a["status"] for a in self.ask_all(q)],
                                 ["ok"] * 5 + ["notfound"], mode)
            finally:
                q.close()

    def test_restart_between_requests_costs_no_request(self):
        # A pooled connection to the old server process is replaced at once.
        q = Query(self.conf())
        try:
            self.assertStatus(q.ask("user", "demo@example.test"), "ok")
            self.ldap.halt()
            self.ldap.resume()
            self.assertStatus(q.ask("user", "demo@example.test"), "ok")
        finally:
            q.close()

    def test_frozen_server_times_out_as_tempfail(self):
        q = Query(self.conf(ldap_timeout="1s"))
        try:
            self.assertStatus(q.ask("user", "demo@example.test"), "ok")
            mrtest.stop_process(self.ldap.pid)
            try:
                began = time.monotonic()
                got = q.ask("user", "demo@example.test")
                took = time.monotonic() - began
                self.assertStatus(got, "tempfail")
                self.assertLess(took, 10)
                self.assertStatus(q.ask("auth", "demo@example.test", "demo"), "tempfail")
            finally:
                os.kill(self.ldap.pid, signal.SIGCONT)
            self.wait_ok(q)
        finally:
            q.close()


class AuthdLdapTest(LdapTestCase):
    """mailroom-authd with backend = ldap, through its lookup socket."""

    @classmethod
    def setUpClass(cls):
        cls.start_ldap()
        cls.sock = cls.ldap.path("lookup")
        cls.config = os.path.join(cls.tmp, "authd.conf")
        with open(cls.config, "w") as f:
            f.write(f"""listen = {cls.sock} service=lookup
user =
log_dest = stderr
log_level = debug
backend = ldap
mail_root = /srv/mail
cache_ttl = 1s
cache_negative_ttl = 1s
ldap_uris = {cls.ldap.uri}
ldap_base = ou=domains,{cls.ldap.suffix}
ldap_bind_dn = {cls.ldap.root_dn}
ldap_bind_password = {cls.ldap.root_pw}
ldap_timeout = 2s
ldap_retry_interval = 1s
""")
        cls.log = os.path.join(cls.tmp, "authd.log")
        with open(cls.log, "ab") as log:
            cls.proc = subprocess.Popen([AUTHD, "--foreground", "--config", cls.config],
                                        stdout=log, stderr=log)
        try:
            cls.wait_started()
        except BaseException:
            cls.stop_authd()
            cls.ldap.stop()
            raise

    @classmethod
    def wait_started(cls):
        # The socket file exists a moment before it accepts: wait for the log.
        deadline = time.monotonic() + QUERY_TIMEOUT
        while time.monotonic() < deadline:
            with open(cls.log, errors="replace") as f:
                if "started listeners=" in f.read():
                    return
            if cls.proc.poll() is not None:
                raise RuntimeError("mailroom-authd exited: " + open(cls.log).read())
            time.sleep(0.05)
        raise TimeoutError("mailroom-authd did not start")

    @classmethod
    def stop_authd(cls):
        cls.proc.send_signal(signal.SIGTERM)
        try:
            cls.proc.wait(timeout=QUERY_TIMEOUT)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait()

    @classmethod
    def tearDownClass(cls):
        cls.stop_authd()
        super().tearDownClass()

    def setUp(self):
        self.c = Lookup(self.sock)

    def tearDown(self):
        self.c.close()

    def assertAnswer(self, request, *want):
        self.assertEqual(self.c.ask(*request), [request[0], *want], request)

    def test_user(self):
        self.assertAnswer(("1", "USER", "demo@example.test"), "OK",
                          "user=demo@example.test", "maildir=/srv/mail/example.test/demo/",
                          "quota_bytes=1073741824", "quota_messages=0",
                          "services=smtp,imap,pop3,deliver", "status=active")
        got = self.c.ask("2", "USER", "bob@example.test")
        self.assertEqual(got[1], "OK")
        self.assertIn("status=disabled", got)
        self.assertIn("quota_bytes=104857600", got)
        self.assertAnswer(("3", "USER", "nobody@example.test"), "NOTFOUND")

    def test_rcpt(self):
        demo = ["local=demo@example.test", "maildir=/srv/mail/example.test/demo/"]
        alice = ["local=alice@example.test", "maildir=/srv/mail/example.test/alice/"]
        self.assertAnswer(("1", "RCPT", "demo@example.test"), "OK", "kind=mailbox", *demo)
        self.assertAnswer(("2", "RCPT", "postmaster@example.test"), "OK", "kind=alias", *demo)
        got = self.c.ask("3", "RCPT", "team@example.test")
        self.assertEqual(got[:3], ["3", "OK", "kind=alias"])
        # alice keeps a copy and forwards one.
        self.assertEqual(sorted(got[3:]),
                         sorted(demo + alice + ["remote=alice@remote.invalid"]))
        got = self.c.ask("4", "RCPT", "anyone@catchall.test")
        self.assertEqual(got[:3], ["4", "OK", "kind=alias"])
        self.assertIn("local=info@catchall.test", got)
        got = self.c.ask("5", "RCPT", "demo@alias.test")
        self.assertEqual(got[1], "OK")
        self.assertIn("local=demo@example.test", got)
        got = self.c.ask("6", "RCPT", "chain-a@example.test")
        self.assertEqual(got[1:], ["OK", "kind=alias", *demo])
        self.assertEqual(self.c.ask("7", "RCPT", "loop-a@example.test")[1], "FAIL")
        self.assertIn("remote=alice@remote.invalid", self.c.ask("8", "RCPT", "alice@example.test"))
        self.assertIn("local=alice@example.test", self.c.ask("9", "RCPT", "alice@example.test"))
        self.assertAnswer(("10", "RCPT", "old@example.test"), "NOTFOUND")
        self.assertAnswer(("11", "RCPT", "x@nowhere.test"), "NOTFOUND")
        self.assertEqual(self.c.ask("12", "RCPT", "demo.user@example.test")[1:],
                         ["OK", "kind=alias", *demo])

    def test_domain_and_sender(self):
        self.assertAnswer(("1", "DOMAIN", "example.test"), "OK", "type=hosted", "status=active")
        self.assertAnswer(("2", "DOMAIN", "alias.test"), "OK", "type=alias", "status=active",
                          "target=example.test")
        self.assertEqual(self.c.ask("3", "DOMAIN", "disabled.test")[1], "OK")
        self.assertAnswer(("4", "DOMAIN", "nowhere.test"), "NOTFOUND")
        self.assertAnswer(("5", "SENDER", "demo@example.test", "x@catchall.test"), "OK")
        self.assertAnswer(("6", "SENDER", "alice@example.test", "sales@example.test"), "OK")
        self.assertAnswer(("7", "SENDER", "alice@example.test", "x@catchall.test"), "NOTFOUND")

    def test_injection_shaped_names(self):
        for i, name in enumerate(INJECTIONS):
            name = name.replace("\\", "\\\\")  # the lookup protocol's escaping
            self.assertAnswer((f"u{i}", "USER", name), "NOTFOUND")
            self.assertAnswer((f"r{i}", "RCPT", name), "NOTFOUND")
            self.assertAnswer((f"s{i}", "SENDER", "demo@example.test", name), "NOTFOUND")
        self.assertAnswer(("d", "DOMAIN", "*)(mailroomDomainName=*"), "NOTFOUND")

    def test_entry_added_with_ldapadd(self):
        mail = "late@example.test"
        self.assertAnswer(("1", "USER", mail), "NOTFOUND")
        self.ldap.add_ldif(
            f"dn: mail={mail},mailroomDomainName=example.test,ou=domains,{self.ldap.suffix}\n"
            "objectClass: inetOrgPerson\nobjectClass: mailroomUser\ncn: L\nsn: L\n"
            f"mail: {mail}\n")
        # After the negative cache's TTL at most.
        deadline = time.monotonic() + QUERY_TIMEOUT
        while self.c.ask("2", "USER", mail)[1] != "OK":
            self.assertLess(time.monotonic(), deadline, "new entry never found")
            time.sleep(0.2)
        self.assertIn("maildir=/srv/mail/example.test/late/", self.c.ask("3", "USER", mail))

    def test_zz_outage_answers_tempfail_then_recovers(self):
        self.assertEqual(self.c.ask("1", "USER", "carol@example.test")[1], "OK")
        self.ldap.halt()
        try:
            # Past the cache's TTL, nothing may turn into NOTFOUND.
            time.sleep(1.5)
            # Names never asked before: the core may answer known ones from
            # its cache while the backend is down.
            for i, req in enumerate((("USER", "unseen@example.test"),
                                     ("RCPT", "someone@unseen2.test"),
                                     ("DOMAIN", "unseen.test"),
                                     ("SENDER", "carol@example.test", "x@unseen.test"))):
                got = self.c.ask(f"t{i}", *req)
                self.assertEqual(got[1], "TEMPFAIL", got)
        finally:
            self.ldap.resume()
        deadline = time.monotonic() + QUERY_TIMEOUT
        while self.c.ask("2", "USER", "unseen2@example.test")[1] != "NOTFOUND":
            self.assertLess(time.monotonic(), deadline, "no recovery")
            time.sleep(0.2)
        self.assertEqual(self.c.ask("3", "USER", "carol@example.test")[1], "OK")


if __name__ == "__main__":
    unittest.main()
