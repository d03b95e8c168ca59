"""scripts/provision output, loaded into private MariaDB and slapd.

The generated SQL and LDIF must load into the shipped schemas as they are,
with names that need quoting kept exact, and the hashed passwords must be
accepted by independent checkers (openssl for the SQL hash, slapd's own
{CRYPT} bind for the LDIF one).
"""
import os
import subprocess
import sys
import unittest

import mrtest
import services

PROVISION = os.path.join(mrtest.SRCDIR, "scripts", "provision")
SQL_FILES = [os.path.join(mrtest.SRCDIR, "sql", f) for f in ("schema.sql", "mailroom-extras.sql")]
SCHEMA_LDIF = os.path.join(mrtest.SRCDIR, "schema", "mailroom.ldif")


def provision(*args, password=None):
    res = subprocess.run([sys.executable, PROVISION, *args], capture_output=True, text=True,
                         input=None if password is None else password + "\n", timeout=60)
    return res


def ok(*args, password=None):
    res = provision(*args, password=password)
    if res.returncode != 0:
        raise AssertionError(f"provision {args} failed: {res.stderr}")
    return res.stdout


class ProvisionSql(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = services.MariaDB()
        cls.db.start()
        try:
            for path in SQL_FILES:
                cls.db.load(path)
        except BaseException:
            cls.db.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.db.stop()

    def run_sql(self, text):
        self.db.sql(text)

    def test_domain_mailbox_alias_and_alias_domain(self):
        self.run_sql(ok("domain", "prov.test", "--description", "Prov's domain"))
        self.run_sql(ok("mailbox", "jo@prov.test", "--quota", "2G", "--password-stdin",
                        password="s3cret pass"))
        self.run_sql(ok("alias", "team@prov.test", "jo@prov.test", "ann@remote.invalid"))
        self.run_sql(ok("alias", "@prov.test", "jo@prov.test"))
        self.run_sql(ok("alias-domain", "prov-alias.test", "prov.test"))
        row = self.db.sql("SELECT username, maildir, quota, local_part, domain, active, "
                          "enable_imap, smtp_active FROM mailbox WHERE username='jo@prov.test'")
        self.assertEqual(row, [("jo@prov.test", "prov.test/jo/", str(2 << 30), "jo",
                                "prov.test", "1", "1", "1")])
        self.assertEqual(self.db.sql("SELECT goto FROM alias WHERE address='jo@prov.test'"),
                         [("jo@prov.test",)])
        self.assertEqual(self.db.sql("SELECT goto FROM alias WHERE address='team@prov.test'"),
                         [("jo@prov.test,ann@remote.invalid",)])
        self.assertEqual(self.db.sql("SELECT goto FROM alias WHERE address='@prov.test'"),
                         [("jo@prov.test",)])
        self.assertEqual(self.db.sql("SELECT target_domain FROM alias_domain "
                                     "WHERE alias_domain='prov-alias.test'"), [("prov.test",)])
        self.assertEqual(self.db.sql("SELECT description FROM domain WHERE domain='prov.test'"),
                         [("Prov's domain",)])

    def test_password_hash_verifies_with_openssl(self):
        self.run_sql(ok("mailbox", "pw@prov2.test", "--password-stdin", password="Tr0ub4dor&3"))
        (stored,), = self.db.sql("SELECT password FROM mailbox WHERE username='pw@prov2.test'")
        self.assertTrue(stored.startswith("{SHA512-CRYPT}$6$"), stored)
        crypt = stored[len("{SHA512-CRYPT}"):]
        salt = crypt.split("$")[2]
        for guess, match in (("Tr0ub4dor&3", True), ("tr0ub4dor&3", False)):
            out = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, guess],
                                 capture_output=True, text=True, check=True).stdout.strip()
            self.assertEqual(out == crypt, match, guess)

    def test_quotes_and_backslashes_are_kept_exact(self):
        self.run_sql(ok("mailbox", "o'brien@prov3.test", "--name", "O'Brien \\ Co",
                        "--password-stdin", password="x"))
        # HEX: the mariadb client escapes backslashes in its own output.
        row = self.db.sql("SELECT HEX(username), HEX(name) FROM mailbox WHERE domain='prov3.test'")
        self.assertEqual(row, [("o'brien@prov3.test".encode().hex().upper(),
                                "O'Brien \\ Co".encode().hex().upper())])
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM mailbox")[0][0],
                         self.db.sql("SELECT COUNT(*) FROM mailbox WHERE username <> ''")[0][0])

    def test_service_flags(self):
        self.run_sql(ok("mailbox", "pop@prov4.test", "--services", "pop3,deliver",
                        "--password-stdin", password="x"))
        row = self.db.sql("SELECT smtp_active, enable_imap, enable_pop3, enable_deliver "
                          "FROM mailbox WHERE username='pop@prov4.test'")
        self.assertEqual(row, [("0", "0", "1", "1")])

    def test_generated_password_is_printed(self):
        res = provision("mailbox", "gen@prov5.test")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stderr, r"password for gen@prov5\.test: \S{12,}")

    def test_bad_input_is_refused(self):
        for args in (("mailbox", "no-at-sign"), ("mailbox", "a..b@x.test"),
                     ("domain", "--", "-bad.test"), ("domain", "x'; DROP TABLE mailbox; --"),
                     ("alias", "a@x.test", "not an address"),
                     ("mailbox", "a@x.test", "--services", "ftp"),
                     ("alias-domain", "same.test", "same.test"),
                     ("mailbox", "a@x.test", "--quota", "lots")):
            res = provision(*args, password="x")
            self.assertEqual(res.returncode, 2, args)
            self.assertRegex(res.stderr, r"provision( \w[\w-]*)?: ")
            self.assertEqual(res.stdout, "")


class ProvisionLdif(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ldap = services.Slapd(extra_schemas=[SCHEMA_LDIF])
        cls.ldap.start()
        base = cls.ldap.suffix
        try:
            cls.ldap.add_ldif(f"dn: ou=domains,{base}\nobjectClass: organizationalUnit\n"
                              "ou: domains\n")
        except BaseException:
            cls.ldap.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()

    def add(self, *args, password=None):
        self.ldap.add_ldif(ok("--format", "ldif", "--base", self.ldap.suffix, *args,
                              password=password))

    def test_entries_load_and_the_password_binds(self):
        self.add("domain", "lprov.test")
        self.add("mailbox", "jo@lprov.test", "--quota", "1M", "--services", "imap,smtp",
                 "--password-stdin", password="bind me")
        self.add("alias", "team@lprov.test", "jo@lprov.test", "x@remote.invalid")
        self.add("alias-domain", "lprov-alias.test", "lprov.test")
        base = "ou=domains," + self.ldap.suffix
        user = self.ldap.search(base, "(mail=jo@lprov.test)",
                                ("mailroomMailbox", "mailroomQuotaBytes", "mailroomEnabledService"))
        self.assertEqual(len(user), 1)
        self.assertEqual(user[0]["mailroomMailbox"], ["lprov.test/jo/"])
        self.assertEqual(user[0]["mailroomQuotaBytes"], [str(1 << 20)])
        self.assertEqual(sorted(user[0]["mailroomEnabledService"]), ["imap", "smtp"])
        alias = self.ldap.search(base, "(mail=team@lprov.test)", ("mailroomForwardTo",))
        self.assertEqual(sorted(alias[0]["mailroomForwardTo"]),
                         ["jo@lprov.test", "x@remote.invalid"])
        dom = self.ldap.search(base, "(mailroomDomainName=lprov-alias.test)",
                               ("mailroomAliasTargetDomain",))
        self.assertEqual(dom[0]["mailroomAliasTargetDomain"], ["lprov.test"])
        dn = f"mail=jo@lprov.test,mailroomDomainName=lprov.test,{base}"
        self.assertEqual(self.ldap.whoami(dn, "bind me").returncode, 0)
        self.assertEqual(self.ldap.whoami(dn, "bind me!").returncode, 49)

    def test_dn_special_characters_are_escaped(self):
        self.add("domain", "lprov2.test")
        self.add("mailbox", "a+b=c@lprov2.test", "--password-stdin", password="x")
        base = "ou=domains," + self.ldap.suffix
        found = self.ldap.search(base, "(mail=a+b=c@lprov2.test)", ("mail",))
        self.assertEqual([e["mail"] for e in found], [["a+b=c@lprov2.test"]])


if __name__ == "__main__":
    unittest.main()
