"""The private MariaDB and slapd of tests/lib/services.py start, hold data,
check passwords, and leave neither a process nor a directory behind."""
import os
import signal
import socket
import subprocess
import unittest

import mrtest
import services

DATA = os.path.join(mrtest.SRCDIR, "tests", "data")
ALICE = "uid=alice,ou=people,dc=example,dc=test"
ALICE_PW = "correct horse battery staple"


def note(text):
    print("# " + text, flush=True)


def mysql_greeting(host, port):
    """The server's first packet: protocol version and version string."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.settimeout(5)
        head = b""
        while len(head) < 4:
            chunk = s.recv(4 - len(head))
            if not chunk:
                raise AssertionError("connection closed before the handshake")
            head += chunk
        length = int.from_bytes(head[:3], "little")
        body = b""
        while len(body) < length:
            chunk = s.recv(length - len(body))
            if not chunk:
                raise AssertionError("handshake packet cut short")
            body += chunk
    return head[3], body[0], body[1:body.index(b"\0", 1)].decode()


class ServiceCase(unittest.TestCase):
    def started(self, service):
        """Report how long service took to start; its pid and directory."""
        note(f"{service.name} started in {service.start_seconds:.2f}s")
        return service.pid, service.dir

    def assertGone(self, pid, directory):
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)
        found = subprocess.run(["pgrep", "-f", directory], capture_output=True, text=True)
        self.assertEqual(found.stdout, "", f"processes still running from {directory}")
        self.assertFalse(os.path.exists(directory))


class TestMariaDB(ServiceCase):
    def test_load_query_and_stop(self):
        db = services.MariaDB()
        with db:
            pid, directory = self.started(db)
            db.load(os.path.join(DATA, "services-test.sql"), tcp=True)
            rows = db.sql("SELECT address, quota_mb FROM mailbox ORDER BY id", tcp=True)
            self.assertEqual(rows, [("alice@example.test", "100"),
                                    ("bob@example.test", "250"),
                                    ("zoë@example.test", "0")])
            seq, proto, version = mysql_greeting(db.host, db.port)
            self.assertEqual((seq, proto), (0, 10))
            self.assertIn("MariaDB", version)
        self.assertIsNone(db.dir)
        self.assertGone(pid, directory)

    def test_wrong_password_refused(self):
        with services.MariaDB() as db:
            self.assertEqual(db.sql("SELECT 1", tcp=True), [("1",)])
            db.password = "not-" + db.password
            with self.assertRaisesRegex(services.ServiceError, "Access denied"):
                db.sql("SELECT 1", tcp=True)

    def test_quotes_in_names(self):
        with services.MariaDB(database="we`ird", user="o'neil", password="p'w\\x") as db:
            rows = db.sql("SELECT current_user(), database()", tcp=True)
            self.assertEqual(rows, [("o'neil@127.0.0.1", "we`ird")])

    def test_root_has_no_tcp_account(self):
        with services.MariaDB() as db:
            rows = db.sql("SELECT host FROM mysql.user WHERE user = 'root'", database="mysql")
            self.assertEqual(rows, [("localhost",)])

    def test_two_side_by_side(self):
        with services.MariaDB() as one, services.MariaDB() as two:
            self.assertNotEqual(one.port, two.port)
            one.sql("CREATE TABLE t (v INT); INSERT INTO t VALUES (1)", tcp=True)
            two.sql("CREATE TABLE t (v INT); INSERT INTO t VALUES (2)", tcp=True)
            self.assertEqual(one.sql("SELECT v FROM t", tcp=True), [("1",)])
            self.assertEqual(two.sql("SELECT v FROM t", tcp=True), [("2",)])
            gone = [self.started(one), self.started(two)]
        for pid, directory in gone:
            self.assertGone(pid, directory)

    def test_stop_after_crash(self):
        db = services.MariaDB()
        db.start()
        pid, directory = db.pid, db.dir
        os.kill(pid, signal.SIGKILL)
        db.stop()
        db.stop()
        self.assertGone(pid, directory)


class TestSlapd(ServiceCase):
    def test_add_search_bind_and_stop(self):
        ldap = services.Slapd()
        with ldap:
            pid, directory = self.started(ldap)
            ldap.add_ldif(os.path.join(DATA, "services-test.ldif"))
            found = ldap.search("ou=people," + ldap.suffix, "(mail=alice@example.test)",
                                attrs=["uid", "cn", "homeDirectory"])
            self.assertEqual(found, [{"dn": [ALICE], "uid": ["alice"],
                                      "cn": ["Alice Example"],
                                      "homeDirectory": ["/var/mail/example.test/alice"]}])
            good = ldap.whoami(ALICE, ALICE_PW)
            self.assertEqual((good.returncode, good.stdout.strip()), (0, "dn:" + ALICE))
            bad = ldap.whoami(ALICE, ALICE_PW + "x")
            self.assertEqual(bad.returncode, 49, bad.stderr)  # invalidCredentials
        self.assertIsNone(ldap.dir)
        self.assertGone(pid, directory)

    def test_password_hidden_from_other_users(self):
        with services.Slapd() as ldap:
            ldap.add_ldif(os.path.join(DATA, "services-test.ldif"))
            as_alice = ldap.search(ALICE, attrs=["userPassword", "uid"], scope="base",
                                   bind_dn=ALICE, password=ALICE_PW)
            self.assertEqual(as_alice, [{"dn": [ALICE], "uid": ["alice"]}])
            as_root = ldap.search(ALICE, attrs=["userPassword"], scope="base")
            self.assertEqual(as_root[0]["userPassword"], [ALICE_PW])

    def test_ldapi_socket(self):
        with services.Slapd() as ldap:
            res = ldap.ldap("ldapsearch", "-x", "-LLL", "-b", "", "-s", "base",
                            "namingContexts", uri=ldap.ldapi_uri)
            self.assertIn("namingContexts: " + ldap.suffix, res.stdout)

    def test_extra_schemas(self):
        entry = f"""dn: {ALICE}
changetype: modify
add: objectClass
objectClass: mrTestMailbox
objectClass: mrTestAliased
-
add: mrTestQuota
mrTestQuota: 250
-
add: mrTestAlias
mrTestAlias: a.example@example.test
"""
        schemas = [os.path.join(DATA, "services-test.schema"),
                   os.path.join(DATA, "services-test-schema.ldif")]
        with services.Slapd(extra_schemas=schemas) as ldap:
            ldap.add_ldif(os.path.join(DATA, "services-test.ldif"))
            ldap.ldap("ldapmodify", "-x", "-D", ldap.root_dn, "-w", ldap.root_pw,
                      input=entry)
            found = ldap.search(ldap.suffix, "(mrTestQuota=250)", attrs=["mrTestAlias"])
            self.assertEqual(found, [{"dn": [ALICE], "mrTestAlias": ["a.example@example.test"]}])
        with services.Slapd() as ldap:
            ldap.add_ldif(os.path.join(DATA, "services-test.ldif"))
            res = ldap.ldap("ldapmodify", "-x", "-D", ldap.root_dn, "-w", ldap.root_pw,
                            input=entry, check=False)
            # invalidAttributeSyntax: an unknown objectClass name
            self.assertEqual(res.returncode, 21, res.stderr)

    def test_bad_schema_fails_and_cleans_up(self):
        path = os.path.join(DATA, "services-test.sql")  # neither .schema nor .ldif
        ldap = services.Slapd(extra_schemas=[path])
        with self.assertRaisesRegex(services.ServiceError, "end in .schema or .ldif"):
            ldap.start()
        self.assertIsNone(ldap.dir)
        self.assertIsNone(ldap.proc)


class TestSchemaConversion(unittest.TestCase):
    def test_continuations_and_oid_macros(self):
        text = ("# comment\nobjectidentifier x 1.2.3\n"
                "attributetype ( x.1 NAME 'a'\n\tEQUALITY integerMatch\n    SYNTAX 1.2 )\n")
        ldif = services.schema_to_ldif(text, "t")
        self.assertEqual(ldif.splitlines()[3:], [
            "olcObjectIdentifier: x 1.2.3",
            "olcAttributeTypes: ( x.1 NAME 'a' EQUALITY integerMatch SYNTAX 1.2 )"])

    def test_unknown_statement(self):
        with self.assertRaisesRegex(services.ServiceError, "unknown statement 'include'"):
            services.schema_to_ldif("include /etc/ldap/schema/core.schema\n", "t")

    def test_non_ascii_value_is_base64(self):
        ldif = services.schema_to_ldif("attributetype ( 1.1 DESC 'zoë' )\n", "t")
        self.assertIn("olcAttributeTypes:: ", ldif)


class TestLastingHome(ServiceCase):
    """home= keeps the directory; detach() leaves the server running for a
    later stop_pidfile(), as scripts/quickstart uses them."""

    def test_detached_slapd_outlives_its_object_and_stops_by_pid_file(self):
        import tempfile
        with tempfile.TemporaryDirectory(prefix="mr-home-", dir="/tmp") as home:
            port = mrtest.free_port()
            ldap = services.Slapd(home=os.path.join(home, "ldap"), port=port)
            ldap.start()
            pid = ldap.pid
            self.assertEqual(ldap.port, port)
            ldap.detach()
            ldap.stop()  # a detached server is no longer this object's to stop
            os.kill(pid, 0)
            mrtest.wait_port("127.0.0.1", port)
            pidfile = os.path.join(home, "ldap", "slapd.pid")
            self.assertTrue(services.stop_pidfile(pidfile))
            with self.assertRaises(OSError):
                os.kill(pid, 0)
            self.assertTrue(os.path.isdir(os.path.join(home, "ldap", "data")))
            self.assertFalse(services.stop_pidfile(pidfile))


if __name__ == "__main__":
    unittest.main()
