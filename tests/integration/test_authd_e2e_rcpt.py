"""The same sample data (sql/sample-data.sql and schema/sample.ldif) gives
the same recipient answers through mailroom-authd's lookup socket with
backend = mysql and backend = ldap, although PostfixAdmin's schema keeps
a self-alias row for every mailbox and the directory has none."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_authd_e2e_ldap as e2e_ldap  # noqa: E402
import test_authd_e2e_mysql as e2e_mysql  # noqa: E402

DEMO = ["local=demo@example.test", "maildir=/srv/mail/example.test/demo/"]
ALICE = ["local=alice@example.test", "maildir=/srv/mail/example.test/alice/"]
INFO = ["local=info@catchall.test", "maildir=/srv/mail/catchall.test/info/"]
CAROL = ["local=carol@example.test", "maildir=/srv/mail/example.test/carol/"]

# What the sample data means, written out from its comments.
EXPECTED = {
    "demo@example.test": ["OK", "kind=mailbox", *DEMO],
    "carol@example.test": ["OK", "kind=mailbox", *CAROL],
    "info@catchall.test": ["OK", "kind=mailbox", *INFO],
    "demo+news@example.test": ["OK", "kind=mailbox", "detail=news", *DEMO],
    # alice keeps a copy and forwards one.
    "alice@example.test": ["OK", "kind=alias", *ALICE, "remote=alice@remote.invalid"],
    "team@example.test": ["OK", "kind=alias", *DEMO, *ALICE, "remote=alice@remote.invalid"],
    "postmaster@example.test": ["OK", "kind=alias", *DEMO],
    "demo.user@example.test": ["OK", "kind=alias", *DEMO],
    "sales@example.test": ["OK", "kind=alias", "remote=partner@remote.invalid"],
    "chain-a@example.test": ["OK", "kind=alias", *DEMO],
    "anyone@catchall.test": ["OK", "kind=alias", *INFO],
    "demo@alias.test": ["OK", "kind=alias", *DEMO],
    "alice@alias.test": ["OK", "kind=alias", *ALICE, "remote=alice@remote.invalid"],
    "team@alias.test": ["OK", "kind=alias", *DEMO, *ALICE, "remote=alice@remote.invalid"],
    "anyone@alias.test": ["NOTFOUND"],
    "old@example.test": ["NOTFOUND"],
    "bob@example.test": ["NOTFOUND"],
    "dave@disabled.test": ["NOTFOUND"],
    "nobody@example.test": ["NOTFOUND"],
    "x@nowhere.test": ["NOTFOUND"],
}


class SameAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        db = e2e_mysql.start_db()
        cls.addClassCleanup(db.stop)
        ldap = e2e_ldap.start_slapd()
        cls.addClassCleanup(ldap.stop)
        cls.daemons = {"mysql": e2e_mysql.authd_for(db, name="rcpt-mysql"),
                       "ldap": e2e_ldap.authd_for(ldap, "compare")}
        for d in cls.daemons.values():
            cls.addClassCleanup(d.stop)
        cls.lookups = {name: d.lookup_client() for name, d in cls.daemons.items()}
        for c in cls.lookups.values():
            cls.addClassCleanup(c.close)

    def answers(self, addr):
        return {name: c.ask("RCPT", addr) for name, c in self.lookups.items()}

    def test_sample_recipients(self):
        for addr, want in EXPECTED.items():
            for backend, got in self.answers(addr).items():
                with self.subTest(addr=addr, backend=backend):
                    # Targets come in the backend's order: compare them as a set.
                    self.assertEqual(got[:2], want[:2])
                    if want[0] == "OK" and want[1] == "kind=mailbox":
                        self.assertEqual(got, want)
                    else:
                        self.assertEqual(sorted(got[2:]), sorted(want[2:]))

    def test_loop_fails_alike(self):
        got = self.answers("loop-a@example.test")
        self.assertEqual(got["mysql"][0], "FAIL")
        self.assertEqual(got["mysql"], got["ldap"])

    def test_user_lookups_agree(self):
        """The USER answers differ only where the data does (the directory's
        domain default quota for mailboxes that set none)."""
        for user in ("demo@example.test", "alice@example.test", "carol@example.test",
                     "bob@example.test"):
            got = {name: c.ask("USER", user) for name, c in self.lookups.items()}
            if user in ("carol@example.test", "bob@example.test"):
                # No quota of their own: 0 in SQL, the domain's in LDAP.
                self.assertIn("quota_bytes=0", got["mysql"])
                self.assertIn("quota_bytes=104857600", got["ldap"])
                got = {name: [f for f in fields if not f.startswith("quota_bytes=")]
                       for name, fields in got.items()}
            self.assertEqual(got["mysql"], got["ldap"], user)


if __name__ == "__main__":
    unittest.main()
