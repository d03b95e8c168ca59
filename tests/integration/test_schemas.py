"""The shipped SQL and LDAP schemas, loaded into private MariaDB and slapd.

These pin down the facts authd's lookups will rely on: how a mailbox, its
self-alias, a forward, a catch-all and an alias domain look in the tables
and in the directory, what the defaults are, that the extras file is safe
to load again, and that the servers refuse malformed entries.  Passwords
are checked with openssl and with slapd's own {CRYPT} bind, never with
Mailroom code.
"""
import os
import re
import subprocess
import unittest

import mrtest
import services

SQL_DIR = os.path.join(mrtest.SRCDIR, "sql")
SCHEMA_DIR = os.path.join(mrtest.SRCDIR, "schema")
SCHEMA_SQL = os.path.join(SQL_DIR, "schema.sql")
EXTRAS_SQL = os.path.join(SQL_DIR, "mailroom-extras.sql")
SAMPLE_SQL = os.path.join(SQL_DIR, "sample-data.sql")
SCHEMA_LDIF = os.path.join(SCHEMA_DIR, "mailroom.ldif")
SCHEMA_FILE = os.path.join(SCHEMA_DIR, "mailroom.schema")
SAMPLE_LDIF = os.path.join(SCHEMA_DIR, "sample.ldif")

TABLES = ("domain", "mailbox", "alias", "alias_domain", "sender_acl")
SERVICES = ("smtp_active", "enable_imap", "enable_pop3", "enable_deliver")
MAX_ALIAS_HOPS = 10
# mailAlternateAddress, eleven mailroom* attribute types, three object classes.
SCHEMA_DEFINITIONS = 15


def openssl_crypt(scheme_flag, salt, password):
    """The crypt(3) string openssl computes for password with salt."""
    res = subprocess.run(["openssl", "passwd", scheme_flag, "-salt", salt, password],
                         capture_output=True, text=True, timeout=30, check=True)
    return res.stdout.strip()


def split_goto(goto):
    return [t.strip() for t in goto.split(",") if t.strip()]


def read_sample_ldif():
    with open(SAMPLE_LDIF) as f:
        return services.parse_ldif(f.read())


class SqlSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = services.MariaDB()
        cls.db.start()
        try:
            for path in (SCHEMA_SQL, EXTRAS_SQL, SAMPLE_SQL):
                cls.db.load(path)
        except BaseException:
            cls.db.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.db.stop()

    def sql(self, statement, **kw):
        return self.db.sql(statement, **kw)

    def one(self, statement):
        rows = self.sql(statement)
        self.assertEqual(len(rows), 1, f"{statement!r} gave {rows}")
        return rows[0]

    def table_shapes(self):
        return {t: self.sql(f"SHOW CREATE TABLE `{t}`")[0][1] for t in TABLES}

    def test_postfixadmin_columns_and_types(self):
        want = {
            ("domain", "domain"): "varchar(255)", ("domain", "aliases"): "int(10)",
            ("domain", "mailboxes"): "int(10)", ("domain", "maxquota"): "bigint(20)",
            ("domain", "quota"): "bigint(20)", ("domain", "transport"): "varchar(255)",
            ("domain", "backupmx"): "tinyint(1)", ("domain", "active"): "tinyint(1)",
            ("mailbox", "username"): "varchar(255)", ("mailbox", "password"): "varchar(255)",
            ("mailbox", "maildir"): "varchar(255)", ("mailbox", "quota"): "bigint(20)",
            ("mailbox", "local_part"): "varchar(255)", ("mailbox", "created"): "datetime",
            ("mailbox", "modified"): "datetime", ("alias", "address"): "varchar(255)",
            ("alias", "goto"): "text", ("alias", "domain"): "varchar(255)",
            ("alias_domain", "alias_domain"): "varchar(255)",
            ("alias_domain", "target_domain"): "varchar(255)",
        }
        rows = self.sql("SELECT table_name, column_name, column_type FROM "
                        "information_schema.columns WHERE table_schema = DATABASE()")
        have = {(t, c): ty for t, c, ty in rows}
        for key, ty in want.items():
            self.assertEqual(have.get(key), ty, key)
        engines = self.sql("SELECT table_name, engine, table_collation FROM "
                           "information_schema.tables WHERE table_schema = DATABASE()")
        for table, engine, collation in engines:
            self.assertEqual(engine, "InnoDB", table)
            self.assertTrue(collation.startswith("utf8mb4_"), (table, collation))

    def test_mailbox_row_and_its_self_alias(self):
        maildir, quota, local, domain = self.one(
            "SELECT maildir, quota, local_part, domain FROM mailbox "
            "WHERE username = 'demo@example.test' AND active = 1")
        self.assertEqual((maildir, quota, local, domain),
                         ("example.test/demo/", str(1 << 30), "demo", "example.test"))
        (goto,) = self.one("SELECT goto FROM alias WHERE address = 'demo@example.test' "
                           "AND active = 1")
        self.assertEqual(goto, "demo@example.test")

    def test_every_mailbox_has_an_alias_row_naming_itself(self):
        rows = self.sql("SELECT m.username, a.goto FROM mailbox m "
                        "LEFT JOIN alias a ON a.address = m.username")
        self.assertGreaterEqual(len(rows), 6)
        for username, goto in rows:
            self.assertIn(username, split_goto(goto), username)
            local, domain = username.split("@")
            self.assertEqual(self.one(f"SELECT maildir FROM mailbox WHERE username = "
                                      f"'{username}'")[0], f"{domain}/{local}/")

    def test_address_lookups_ignore_case(self):
        # Addresses are compared case-insensitively, as SMTP domains are.
        (username,) = self.one("SELECT username FROM mailbox WHERE username = "
                               "'Demo@EXAMPLE.test'")
        self.assertEqual(username, "demo@example.test")
        with self.assertRaises(services.ServiceError):
            self.sql("INSERT INTO alias (address, goto, domain) VALUES "
                     "('DEMO@example.test', 'x@example.test', 'example.test')")

    def test_catch_all_is_an_at_domain_alias(self):
        (goto,) = self.one("SELECT goto FROM alias WHERE address = '@catchall.test' "
                           "AND active = 1")
        self.assertEqual(goto, "info@catchall.test")
        # A catch-all only answers when asked for by its own key.
        self.assertEqual(self.sql("SELECT goto FROM alias "
                                  "WHERE address = 'nobody@catchall.test'"), [])

    def test_alias_domain_maps_to_target(self):
        self.assertEqual(self.one("SELECT target_domain, active FROM alias_domain "
                                  "WHERE alias_domain = 'alias.test'"), ("example.test", "1"))
        # PostfixAdmin also lists the alias domain itself among the domains.
        self.assertEqual(self.one("SELECT active FROM domain WHERE domain = 'alias.test'"),
                         ("1",))

    def test_forwards(self):
        (goto,) = self.one("SELECT goto FROM alias WHERE address = 'alice@example.test'")
        self.assertEqual(split_goto(goto), ["alice@example.test", "alice@remote.invalid"])
        (goto,) = self.one("SELECT goto FROM alias WHERE address = 'sales@example.test'")
        self.assertEqual(split_goto(goto), ["partner@remote.invalid"])
        self.assertEqual(self.sql("SELECT 1 FROM mailbox WHERE username = "
                                  "'sales@example.test'"), [])

    def test_disabled_flags(self):
        self.assertEqual(self.one("SELECT active FROM domain WHERE domain = 'disabled.test'"),
                         ("0",))
        self.assertEqual(self.one("SELECT active FROM domain WHERE domain = 'example.test'"),
                         ("1",))
        # bob's mailbox is off but his alias row stays on, as PostfixAdmin leaves it.
        self.assertEqual(self.one("SELECT m.active, a.active FROM mailbox m JOIN alias a "
                                  "ON a.address = m.username "
                                  "WHERE m.username = 'bob@example.test'"), ("0", "1"))
        self.assertEqual(self.one("SELECT active FROM alias WHERE address = "
                                  "'old@example.test'"), ("0",))
        cols = ", ".join(SERVICES)
        self.assertEqual(self.one(f"SELECT {cols} FROM mailbox WHERE username = "
                                  "'carol@example.test'"), ("1", "0", "1", "1"))
        self.assertEqual(self.one(f"SELECT {cols} FROM mailbox WHERE username = "
                                  "'demo@example.test'"), ("1", "1", "1", "1"))

    def test_service_columns_default_to_allowed(self):
        # A row written by PostfixAdmin knows nothing of Mailroom's columns.
        self.sql("INSERT INTO mailbox (username, password, name, maildir, quota, "
                 "local_part, domain) VALUES ('fresh@example.test', '', 'Fresh', "
                 "'example.test/fresh/', 0, 'fresh', 'example.test')")
        try:
            cols = ", ".join(SERVICES + ("active",))
            self.assertEqual(self.one(f"SELECT {cols} FROM mailbox "
                                      "WHERE username = 'fresh@example.test'"),
                             ("1",) * 5)
        finally:
            self.sql("DELETE FROM mailbox WHERE username = 'fresh@example.test'")

    def test_loading_again_changes_nothing(self):
        before = self.table_shapes()
        counts = [self.sql(f"SELECT COUNT(*) FROM `{t}`") for t in TABLES]
        for path in (EXTRAS_SQL, SCHEMA_SQL, EXTRAS_SQL, SAMPLE_SQL):
            self.db.load(path)
        self.assertEqual(self.table_shapes(), before)
        self.assertEqual([self.sql(f"SELECT COUNT(*) FROM `{t}`") for t in TABLES], counts)

    def test_extras_keep_postfixadmin_smtp_active(self):
        # A PostfixAdmin database that already has its own smtp_active column.
        self.sql("CREATE DATABASE pfa", database="mysql")
        try:
            self.db.load(SCHEMA_SQL, database="pfa")
            self.sql("ALTER TABLE mailbox ADD COLUMN smtp_active tinyint(1) NOT NULL "
                     "DEFAULT 1; INSERT INTO mailbox (username, password, maildir, "
                     "local_part, domain, smtp_active) VALUES ('x@pfa.test', '', "
                     "'pfa.test/x/', 'x', 'pfa.test', 0)", database="pfa")
            self.db.load(EXTRAS_SQL, database="pfa")
            self.assertEqual(self.db.sql("SELECT " + ", ".join(SERVICES) + " FROM mailbox",
                                         database="pfa"), [("0", "1", "1", "1")])
        finally:
            self.sql("DROP DATABASE pfa", database="mysql")

    def test_sha512_crypt_sample_verifies_with_openssl(self):
        (stored,) = self.one("SELECT password FROM mailbox WHERE username = "
                             "'demo@example.test'")
        m = re.fullmatch(r"\{SHA512-CRYPT\}(\$6\$([^$]+)\$[./0-9A-Za-z]{86})", stored)
        self.assertIsNotNone(m, stored)
        crypted, salt = m.group(1), m.group(2)
        self.assertEqual(openssl_crypt("-6", salt, "demo"), crypted)
        self.assertNotEqual(openssl_crypt("-6", salt, "Demo"), crypted)

    def test_sha256_crypt_sample_verifies_with_openssl(self):
        (stored,) = self.one("SELECT password FROM mailbox WHERE username = "
                             "'alice@example.test'")
        m = re.fullmatch(r"\{SHA256-CRYPT\}(\$5\$([^$]+)\$[./0-9A-Za-z]{43})", stored)
        self.assertIsNotNone(m, stored)
        self.assertEqual(openssl_crypt("-5", m.group(2), "alice"), m.group(1))
        self.assertNotEqual(openssl_crypt("-5", m.group(2), "bob"), m.group(1))

    def resolve(self, address):
        """Follow single-target aliases; return (final address, hops) or None on a loop."""
        seen = []
        while address not in seen and len(seen) < MAX_ALIAS_HOPS:
            seen.append(address)
            rows = self.sql(f"SELECT goto FROM alias WHERE address = '{address}' "
                            "AND active = 1")
            targets = split_goto(rows[0][0]) if rows else []
            if targets == [address] or not targets:
                return address, len(seen) - 1
            address = targets[0]
        return None

    def test_alias_chain_and_loop(self):
        self.assertEqual(self.resolve("chain-a@example.test"), ("demo@example.test", 3))
        self.assertEqual(self.resolve("postmaster@example.test"), ("demo@example.test", 1))
        self.assertIsNone(self.resolve("loop-a@example.test"))

    def test_sender_acl(self):
        rows = self.sql("SELECT sender FROM sender_acl WHERE login = 'demo@example.test' "
                        "AND active = 1")
        self.assertEqual(rows, [("@catchall.test",)])
        with self.assertRaises(services.ServiceError):
            self.sql("INSERT INTO sender_acl (login, sender) VALUES "
                     "('demo@example.test', '@CATCHALL.test')")

    def test_test_user_reads_over_tcp(self):
        # authd connects over TCP as an ordinary user, not as root.
        self.assertEqual(self.sql("SELECT COUNT(*) FROM mailbox WHERE active = 1",
                                  tcp=True), [("5",)])

    def test_sample_ldif_holds_the_same_accounts_and_aliases(self):
        entries = read_sample_ldif()
        users = {e["mail"][0]: e for e in entries if "mailroomUser" in e["objectClass"]}
        aliases = {e["mail"][0]: e["mailroomForwardTo"] for e in entries
                   if "mailroomAlias" in e["objectClass"]}
        alternates = {a: u for u, e in users.items() for a in e.get("mailAlternateAddress", [])}
        self.assertEqual(set(users), {u for (u,) in self.sql("SELECT username FROM mailbox")})
        for address, goto in self.sql("SELECT address, goto FROM alias"):
            targets = split_goto(goto)
            if address in users:
                forwards = [t for t in targets if t != address]
                self.assertEqual(users[address].get("mailroomForwardTo", []), forwards)
            elif address in alternates:
                self.assertEqual(targets, [alternates[address]])
            else:
                self.assertEqual(aliases.get(address), targets, address)


class LdapSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ldap = services.Slapd(extra_schemas=[SCHEMA_LDIF])
        cls.ldap.start()
        try:
            cls.ldap.add_ldif(SAMPLE_LDIF)
        except BaseException:
            cls.ldap.stop()
            raise
        cls.base = "ou=domains," + cls.ldap.suffix

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()

    def find(self, filter, *attrs):
        return self.ldap.search(self.base, filter, attrs)

    def user_dn(self, address):
        domain = address.split("@", 1)[1]
        return f"mail={address},mailroomDomainName={domain},{self.base}"

    def add(self, ldif):
        return self.ldap.ldap("ldapadd", "-x", "-D", self.ldap.root_dn, "-w",
                              self.ldap.root_pw, input=ldif, check=False)

    def test_user_by_mail(self):
        found = self.find("(&(objectClass=mailroomUser)(mail=demo@example.test))",
                          "mailroomMailbox", "mailroomQuotaBytes", "mailroomStatus")
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0]["dn"], [self.user_dn("demo@example.test")])
        self.assertEqual(found[0]["mailroomMailbox"], ["example.test/demo/"])
        self.assertEqual(found[0]["mailroomQuotaBytes"], [str(1 << 30)])
        self.assertEqual(found[0]["mailroomStatus"], ["active"])

    def test_user_by_alternate_address_any_case(self):
        flt = ("(&(objectClass=mailroomUser)(|(mail={0})(mailAlternateAddress={0})))"
               .format("Demo.User@EXAMPLE.test"))
        found = self.find(flt, "mail")
        self.assertEqual([e["mail"] for e in found], [["demo@example.test"]])
        self.assertEqual(self.find("(mailAlternateAddress=nobody@example.test)"), [])

    def test_alias_forward_targets(self):
        found = self.find("(&(objectClass=mailroomAlias)(mail=team@example.test))",
                          "mailroomForwardTo")
        self.assertEqual(sorted(found[0]["mailroomForwardTo"]),
                         ["alice@example.test", "demo@example.test"])
        found = self.find("(&(objectClass=mailroomAlias)(mail=@catchall.test))",
                          "mailroomForwardTo")
        self.assertEqual(found[0]["mailroomForwardTo"], ["info@catchall.test"])
        # Who forwards to demo: the reverse lookup a sender check can use.
        found = self.find("(&(objectClass=mailroomAlias)(mailroomStatus=active)"
                          "(mailroomForwardTo=demo@example.test))", "mail")
        self.assertEqual(sorted(e["mail"][0] for e in found),
                         ["chain-c@example.test", "postmaster@example.test",
                          "team@example.test"])

    def test_user_forward_keeps_a_copy(self):
        found = self.find("(mail=alice@example.test)", "mailroomForwardTo",
                          "mailroomEnabledService")
        self.assertEqual(found[0]["mailroomForwardTo"], ["alice@remote.invalid"])
        self.assertIn("deliver", found[0]["mailroomEnabledService"])

    def test_enabled_services(self):
        found = self.find("(mail=demo@example.test)", "mailroomEnabledService")
        self.assertEqual(sorted(found[0]["mailroomEnabledService"]),
                         ["deliver", "imap", "pop3", "smtp"])
        self.assertEqual(self.find("(&(mail=carol@example.test)"
                                   "(mailroomEnabledService=IMAP))"), [])
        self.assertEqual(len(self.find("(&(mail=carol@example.test)"
                                       "(mailroomEnabledService=pop3))")), 1)

    def test_disabled_account_and_domain(self):
        self.assertEqual(self.find("(mail=bob@example.test)", "mailroomStatus")[0]
                         ["mailroomStatus"], ["disabled"])
        found = self.find("(&(objectClass=mailroomDomain)(mailroomStatus=disabled))",
                          "mailroomDomainName")
        self.assertEqual([e["mailroomDomainName"] for e in found], [["disabled.test"]])

    def test_alias_domain(self):
        found = self.find("(&(objectClass=mailroomDomain)(mailroomDomainName=alias.test))",
                          "mailroomAliasTargetDomain")
        self.assertEqual(found[0]["mailroomAliasTargetDomain"], ["example.test"])

    def test_quota_compares_as_integer(self):
        found = self.find("(mailroomQuotaBytes>=200000000)", "mail")
        self.assertEqual([e["mail"] for e in found], [["demo@example.test"]])

    def test_crypt_passwords_bind(self):
        for address, good, bad in (("demo@example.test", "demo", "demo "),
                                   ("alice@example.test", "alice", "Alice")):
            ok = self.ldap.whoami(self.user_dn(address), good)
            self.assertEqual(ok.returncode, 0, ok.stderr)
            self.assertIn(self.user_dn(address), ok.stdout)
            self.assertEqual(self.ldap.whoami(self.user_dn(address), bad).returncode, 49)

    def add_account(self, name, *lines):
        """ldapadd an inetOrgPerson + mailroomUser entry cn=name with extra lines."""
        return self.add(f"dn: cn={name},{self.base}\nobjectClass: inetOrgPerson\n"
                        f"objectClass: mailroomUser\ncn: {name}\nsn: {name}\n"
                        + "".join(line + "\n" for line in lines))

    def test_user_without_mail_is_refused(self):
        res = self.add_account("nomail")
        self.assertEqual(res.returncode, 65, res.stderr)  # objectClassViolation
        self.assertIn("mail", res.stderr)

    def test_non_integer_quota_is_refused(self):
        res = self.add_account("badquota", "mail: badquota@example.test",
                               "mailroomQuotaBytes: 10M")
        self.assertEqual(res.returncode, 21, res.stderr)  # invalidAttributeSyntax
        self.assertIn("mailroomQuotaBytes", res.stderr)

    def test_second_quota_value_is_refused(self):
        res = self.add_account("twoquotas", "mail: twoquotas@example.test",
                               "mailroomQuotaBytes: 1", "mailroomQuotaBytes: 2")
        self.assertEqual(res.returncode, 19, res.stderr)  # constraintViolation
        self.assertEqual(self.find("(mail=twoquotas@example.test)"), [])

    def test_well_formed_account_is_accepted(self):
        # The refusals above are about their one fault, not the entry's shape.
        res = self.add_account("fine", "mail: fine@example.test", "mailroomQuotaBytes: 10")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(len(self.find("(&(objectClass=mailroomUser)(mail=fine@example.test))")),
                         1)

    def test_alias_without_target_is_refused(self):
        res = self.add(f"dn: mail=empty@example.test,mailroomDomainName=example.test,"
                       f"{self.base}\nobjectClass: mailroomAlias\nmail: empty@example.test\n")
        self.assertEqual(res.returncode, 65, res.stderr)


def schema_definitions(ldif_text):
    """(attribute, definition) pairs of a cn=config schema entry, whitespace folded."""
    unfolded = re.sub(r"\n ", "", ldif_text)
    defs = []
    for entry in services.parse_ldif(unfolded):
        for attr in ("olcAttributeTypes", "olcObjectClasses"):
            defs += [(attr, " ".join(v.split())) for v in entry.get(attr, [])]
    return defs


class SchemaFormsTest(unittest.TestCase):
    def test_schema_and_ldif_define_the_same(self):
        with open(SCHEMA_FILE) as f:
            from_schema = schema_definitions(services.schema_to_ldif(f.read(), "mailroom"))
        with open(SCHEMA_LDIF) as f:
            from_ldif = schema_definitions(f.read())
        self.assertEqual(len(from_schema), SCHEMA_DEFINITIONS)
        self.assertEqual(from_ldif, from_schema)

    def test_oids_sit_under_one_placeholder_arc(self):
        with open(SCHEMA_FILE) as f:
            oids = re.findall(r"^(?:attributetype|objectclass) \( ([0-9.]+)", f.read(), re.M)
        own = [o for o in oids if not o.startswith("2.16.840.1.113730.")]
        self.assertEqual(len(own), SCHEMA_DEFINITIONS - 1)
        self.assertEqual(len(set(oids)), len(oids))
        for oid in own:
            self.assertTrue(oid.startswith("1.3.6.1.4.1.99999.1."), oid)


if __name__ == "__main__":
    unittest.main()
