"""authd's MySQL backend against private MariaDB servers.

tests/authd/backend-query runs one backend primitive and prints the answer;
the expected values come from the database itself (read with the mariadb
client) or from the sample data's documented facts, never from Mailroom
code.  Outages must come out as a temporary failure (exit 75), never as
"not found".
"""
import os
import select
import socket
import signal
import subprocess
import time
import unittest

import mrtest
import services

QUERY = os.path.join(mrtest.BUILDDIR, "tests", "authd", "backend-query")
AUTHD = os.path.join(mrtest.BUILDDIR, "authd", "mailroom-authd")
SQL_DIR = os.path.join(mrtest.SRCDIR, "sql")
ETC_DIR = os.path.join(mrtest.SRCDIR, "etc")
SQL_FILES = [os.path.join(SQL_DIR, f)
             for f in ("schema.sql", "mailroom-extras.sql", "sample-data.sql")]
EXIT_OK, EXIT_NOTFOUND, EXIT_TEMPFAIL, EXIT_CONFIG = 0, 1, 75, 78
TIMEOUT = 30
SERVICE_WORDS = ("smtp", "imap", "pop3", "deliver")
FLAG_COLUMNS = ("smtp_active", "enable_imap", "enable_pop3", "enable_deliver")


def closed_port():
    """A loopback port nothing listens on (it was free a moment ago)."""
    return mrtest.free_port()


def parse(stdout):
    """key=value lines as a dict; repeated 'target' keys as a list."""
    out = {"target": []}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "target":
            out["target"].append(value)
        else:
            out[key] = value
    return out


def start_db():
    db = services.MariaDB()
    db.start()
    try:
        for path in SQL_FILES:
            db.load(path)
    except BaseException:
        db.stop()
        raise
    return db


def write_config(db, path, servers=None, extra=""):
    servers = servers if servers is not None else [f"127.0.0.1:{db.port}"]
    lines = ["backend = mysql"] + [f"mysql_servers = {s}" for s in servers] + [
        f"mysql_user = {db.user}", f"mysql_password = {db.password}",
        f"mysql_database = {db.database}", "mysql_connect_timeout = 2s",
        "mysql_read_timeout = 2s", "mysql_write_timeout = 2s",
        "mysql_retry_interval = 1s", "mysql_pool_wait = 2s"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + extra)
    return path


def run(config, *args, options=()):
    argv = [QUERY]
    for opt in options:
        argv += ["-o", opt]
    res = subprocess.run(argv + [config] + list(args), capture_output=True, text=True,
                         timeout=TIMEOUT)
    return res.returncode, parse(res.stdout), res.stderr


class Probe:
    """One backend-query process answering commands on stdin, so a backend
    instance (and its pooled connections) lives across server restarts."""

    def __init__(self, config, options=()):
        argv = [QUERY]
        for opt in options:
            argv += ["-o", opt]
        self.proc = subprocess.Popen(argv + [config, "-"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pending = b""

    def ask(self, line, timeout=TIMEOUT):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while b"\n.\n" not in b"\n" + self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise TimeoutError(f"no answer to {line!r}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError(f"backend-query exited on {line!r}")
            self.pending += chunk
        text, _, self.pending = (b"\n" + self.pending).partition(b"\n.\n")
        return parse(text.decode())

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


class SampleDataTest(unittest.TestCase):
    """Every primitive for every sample row, with the default queries."""

    @classmethod
    def setUpClass(cls):
        cls.db = start_db()
        cls.conf = write_config(cls.db, cls.db.path("authd.conf"))

    @classmethod
    def tearDownClass(cls):
        cls.db.stop()

    def user(self, addr):
        code, out, err = run(self.conf, "user", addr)
        self.assertEqual(code, EXIT_OK, f"{addr}: {out} {err}")
        return out

    def test_every_mailbox(self):
        rows = self.db.sql("SELECT m.username, m.password, m.maildir, m.quota, m.active, "
                           "d.active, " + ", ".join("m." + c for c in FLAG_COLUMNS) +
                           " FROM mailbox m JOIN domain d ON d.domain = m.domain")
        self.assertEqual(len(rows), 6)
        for row in rows:
            out = self.user(row[0])
            self.assertEqual(out["user"], row[0])
            self.assertEqual(out["password"], row[1])
            self.assertEqual(out["maildir"], row[2])
            self.assertEqual(out["quota_bytes"], row[3])
            self.assertEqual(out["quota_messages"], "0")
            self.assertEqual(out["active"], row[4])
            self.assertEqual(out["domain_active"], row[5])
            want = [w for w, flag in zip(SERVICE_WORDS, row[6:]) if flag == "1"]
            self.assertEqual(out["services"], ",".join(want), row[0])

    def test_documented_cases(self):
        self.assertEqual(self.user("demo@example.test")["quota_bytes"], str(1 << 30))
        self.assertEqual(self.user("bob@example.test")["active"], "0")
        dave = self.user("dave@disabled.test")
        self.assertEqual((dave["active"], dave["domain_active"]), ("1", "0"))
        self.assertEqual(self.user("carol@example.test")["services"], "smtp,pop3,deliver")
        self.assertTrue(self.user("alice@example.test")["password"].startswith(
            "{SHA256-CRYPT}$5$alicesalt$"))

    def test_case_of_the_address(self):
        out = self.user("DEMO@Example.TEST")
        self.assertEqual(out["user"], "demo@example.test")

    def test_unknown(self):
        for prim, arg in (("user", "nobody@example.test"), ("alias", "nobody@example.test"),
                          ("domain", "unknown.test"), ("user", "demo@alias.test"),
                          ("alias", "nobody@catchall.test")):
            code, out, err = run(self.conf, prim, arg)
            self.assertEqual(code, EXIT_NOTFOUND, f"{prim} {arg}: {out} {err}")
            self.assertEqual(out["status"], "notfound")

    def test_every_alias(self):
        rows = self.db.sql("SELECT address, goto, active FROM alias")
        self.assertGreater(len(rows), 10)
        for address, goto, active in rows:
            code, out, err = run(self.conf, "alias", address)
            if active == "1":
                self.assertEqual(code, EXIT_OK, f"{address}: {err}")
                self.assertEqual(out["target"], [t for t in goto.split(",") if t])
            else:
                self.assertEqual(code, EXIT_NOTFOUND, address)

    def test_forward_catchall_and_alias_domain(self):
        code, out, _ = run(self.conf, "alias", "alice@example.test")
        self.assertEqual(out["target"], ["alice@example.test", "alice@remote.invalid"])
        code, out, _ = run(self.conf, "alias", "@catchall.test")
        self.assertEqual((code, out["target"]), (EXIT_OK, ["info@catchall.test"]))
        code, out, _ = run(self.conf, "domain", "alias.test")
        self.assertEqual((code, out["alias_target"], out["active"]),
                         (EXIT_OK, "example.test", "1"))

    def test_every_domain(self):
        rows = self.db.sql("SELECT d.domain, d.active, d.backupmx, "
                           "COALESCE(a.target_domain, '') FROM domain d "
                           "LEFT JOIN alias_domain a ON a.alias_domain = d.domain")
        self.assertEqual(len(rows), 4)
        for domain, active, backupmx, target in rows:
            code, out, err = run(self.conf, "domain", domain)
            self.assertEqual(code, EXIT_OK, f"{domain}: {err}")
            self.assertEqual((out["active"], out["relay"], out["alias_target"]),
                             (active, backupmx, target), domain)
            self.assertEqual(out["hosted"], "1" if backupmx == "0" else "0")

    def test_sender_grants(self):
        for login, sender, code in (("demo@example.test", "@catchall.test", EXIT_OK),
                                    ("alice@example.test", "sales@example.test", EXIT_OK),
                                    ("alice@example.test", "@catchall.test", EXIT_NOTFOUND),
                                    ("demo@example.test", "sales@example.test",
                                     EXIT_NOTFOUND)):
            got, out, err = run(self.conf, "sender", login, sender)
            self.assertEqual(got, code, f"{login} {sender}: {out} {err}")

    def test_injection_shaped_names(self):
        names = ["' OR 1=1 --", "' OR '1'='1", "a'@example.test", "\\", "\\'@example.test",
                 "demo@example.test' -- ", "%", "_emo@example.test", "demo@example.test\\",
                 '" OR ""="', "demo@example.test;DROP TABLE mailbox"]
        for name in names:
            for prim in ("user", "alias", "domain"):
                code, out, err = run(self.conf, prim, name)
                self.assertEqual(code, EXIT_NOTFOUND, f"{prim} {name!r}: {out} {err}")
            code, _, _ = run(self.conf, "sender", "demo@example.test", name)
            self.assertEqual(code, EXIT_NOTFOUND, name)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM mailbox"), [("6",)])

    def test_quotes_in_stored_names_are_matched_exactly(self):
        odd = ["a'b@example.test", "back\\slash@example.test"]
        for name in odd:
            q = services.sql_string(name)
            self.db.sql("INSERT INTO mailbox (username, password, maildir, local_part, "
                        f"domain) VALUES ({q}, 'x', 'example.test/odd/', 'odd', "
                        "'example.test')")
        try:
            for name in odd:
                self.assertEqual(self.user(name)["user"], name)
            code, _, _ = run(self.conf, "user", "a'b@example.tes")
            self.assertEqual(code, EXIT_NOTFOUND)
        finally:
            for name in odd:
                self.db.sql(f"DELETE FROM mailbox WHERE username = {services.sql_string(name)}")

    def test_changes_are_seen_at_once(self):
        probe = Probe(self.conf)
        try:
            self.assertEqual(probe.ask("user new@example.test")["status"], "notfound")
            self.db.sql("INSERT INTO mailbox (username, password, maildir, local_part, domain) "
                        "VALUES ('new@example.test', '{PLAIN}x', 'example.test/new/', 'new', "
                        "'example.test')")
            out = probe.ask("user new@example.test")
            self.assertEqual((out["status"], out["active"]), ("ok", "1"))
            self.db.sql("UPDATE mailbox SET active = 0 WHERE username = 'new@example.test'")
            self.assertEqual(probe.ask("user new@example.test")["active"], "0")
            self.db.sql("UPDATE mailbox SET enable_pop3 = 0 WHERE username = 'new@example.test'")
            self.assertEqual(probe.ask("user new@example.test")["services"], "smtp,imap,deliver")
        finally:
            probe.close()
            self.db.sql("DELETE FROM mailbox WHERE username = 'new@example.test'")

    def test_parallel_lookups_share_a_small_pool(self):
        res = subprocess.run([QUERY, "-o", "mysql_pool_size=2", self.conf, "--threads", "8",
                              "--repeat", "50", "user", "demo@example.test"],
                             capture_output=True, text=True, timeout=TIMEOUT * 2)
        self.assertEqual(res.returncode, EXIT_OK, res.stdout + res.stderr)
        self.assertEqual(parse(res.stdout)["ok"], "400")
        rows = self.db.sql("SELECT COUNT(*) FROM information_schema.processlist "
                           f"WHERE user = {services.sql_string(self.db.user)}")
        self.assertEqual(rows, [("0",)])  # all closed at the end

    def test_unix_socket(self):
        code, out, err = run(self.conf, "user", "demo@example.test",
                             options=[f"mysql_servers={self.db.socket}"])
        self.assertEqual(code, EXIT_OK, err)
        code, out, err = run(self.conf, "user", "demo@example.test",
                             options=[f"mysql_servers={self.db.socket}.missing"])
        self.assertEqual(code, EXIT_TEMPFAIL, err)
        self.assertIn(".missing", out["reason"])

    def test_custom_query_columns_by_name(self):
        query = ("SELECT CONCAT(local_part, '@', UPPER(domain)) AS user, 'deliver,imap' AS "
                 "services, 5 AS quota_messages, 'y' AS domain_active FROM mailbox "
                 "WHERE local_part = %l AND domain = %d")
        code, out, err = run(self.conf, "user", "alice@example.test",
                             options=["mysql_user_query=" + query])
        self.assertEqual(code, EXIT_OK, err)
        self.assertEqual((out["user"], out["services"], out["quota_messages"],
                          out["maildir"], out["active"], out["password"]),
                         ("alice@example.test", "imap,deliver", "5",
                          "example.test/alice/", "1", ""))

    def test_bad_queries(self):
        # Rejected when the configuration is read.
        for key, query in (("mysql_user_query", "SELECT * FROM mailbox WHERE username = '%u'"),
                           ("mysql_user_query", "SELECT 1 AS user WHERE 1 = ?"),
                           ("mysql_alias_query", "SELECT goto AS targets FROM alias "
                                                 "WHERE address = %s"),
                           ("mysql_user_query", "SELECT 1 AS user WHERE 'x' = %x")):
            code, _, err = run(self.conf, "user", "demo@example.test",
                               options=[f"{key}={query}"])
            self.assertEqual(code, EXIT_CONFIG, f"{query}: {err}")
        # Only the server can tell: a temporary failure with the reason.
        for query, reason in (("SELECT username AS user, 1 AS enable_imapp FROM mailbox "
                               "WHERE username = %u", "enable_imapp"),
                              ("SELECT password FROM mailbox WHERE username = %u",
                               "no column named user"),
                              ("SELECT username AS user FROM nosuchtable WHERE x = %u",
                               "nosuchtable"),
                              ("SELECT username AS user FROM mailbox", "rows for one")):
            code, out, err = run(self.conf, "user", "demo@example.test",
                                 options=["mysql_user_query=" + query])
            self.assertEqual(code, EXIT_TEMPFAIL, f"{query}: {out} {err}")
            self.assertIn(reason, out["reason"])

    def test_postfixadmin_example_is_the_default(self):
        path = os.path.join(ETC_DIR, "authd-mysql-postfixadmin.conf")
        conf = self.db.path("pfa.conf")
        with open(path) as f, open(conf, "w") as out:
            for line in f:
                if not line.startswith(("mysql_servers", "mysql_user ", "mysql_password",
                                        "mysql_database")):
                    out.write(line)
        opts = [f"mysql_servers=127.0.0.1:{self.db.port}", f"mysql_user={self.db.user}",
                f"mysql_password={self.db.password}", f"mysql_database={self.db.database}"]
        for args in (("user", "carol@example.test"), ("alias", "team@example.test"),
                     ("domain", "alias.test"), ("sender", "demo@example.test", "@catchall.test")):
            want = run(self.conf, *args)
            got = run(conf, *args, options=opts)
            self.assertEqual(got[:2], want[:2], args)
            self.assertEqual(got[0], EXIT_OK, got)


class DaemonTest(unittest.TestCase):
    """mailroom-authd with backend = mysql, through its lookup socket."""

    @classmethod
    def setUpClass(cls):
        cls.db = start_db()
        sock = cls.db.path("lookup")
        conf = write_config(cls.db, cls.db.path("authd.conf"),
                            extra=f"listen = {sock} service=lookup\nuser =\n")
        cls.proc = subprocess.Popen([AUTHD, "-c", conf, "-F"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            mrtest.wait_path(sock, timeout=TIMEOUT)
            cls.sock = socket.socket(socket.AF_UNIX)
            cls.sock.settimeout(TIMEOUT)
            cls.sock.connect(sock)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait(timeout=TIMEOUT)
        cls.db.stop()

    def ask(self, *fields):
        self.sock.sendall(("q\t" + "\t".join(fields) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = self.sock.recv(65536)
            self.assertTrue(chunk, "authd closed the connection")
            data += chunk
        return data.decode().rstrip("\n").split("\t")[1:]

    def test_user_lookups(self):
        demo = self.ask("USER", "demo@example.test")
        self.assertEqual(demo[0], "OK")
        self.assertIn("quota_bytes=1073741824", demo)
        self.assertIn("status=active", demo)
        self.assertIn("status=disabled", self.ask("USER", "bob@example.test"))
        self.assertIn("services=smtp,pop3,deliver", self.ask("USER", "carol@example.test"))
        self.assertEqual(self.ask("USER", "' OR 1=1 --"), ["NOTFOUND"])

    def test_recipients(self):
        team = self.ask("RCPT", "team@example.test")
        self.assertEqual(team[:2], ["OK", "kind=alias"])
        self.assertIn("local=demo@example.test", team)
        self.assertIn("local=alice@example.test", team)
        self.assertIn("local=info@catchall.test", self.ask("RCPT", "x@catchall.test"))
        self.assertIn("local=demo@example.test", self.ask("RCPT", "demo@alias.test"))
        self.assertEqual(self.ask("RCPT", "nobody@example.test"), ["NOTFOUND"])


class ExampleConfigTest(unittest.TestCase):
    def test_examples_are_accepted(self):
        # A closed port: the configuration must load (not 78) and the
        # lookup fail temporarily, which is as far as it gets without a server.
        for name in ("postfixadmin", "iredmail", "ispconfig"):
            path = os.path.join(ETC_DIR, f"authd-mysql-{name}.conf")
            for args in (("user", "a@b.test"), ("alias", "@b.test"), ("domain", "b.test")):
                code, out, err = run(path, *args,
                                     options=[f"mysql_servers=127.0.0.1:{closed_port()}"])
                self.assertEqual(code, EXIT_TEMPFAIL, f"{name} {args}: {err}")


class OutageTest(unittest.TestCase):
    """Failover, outages and recovery: never 'not found'."""

    def setUp(self):
        self.db = start_db()
        self.conf = write_config(self.db, self.db.path("authd.conf"))

    def tearDown(self):
        if self.db.proc is not None:
            try:
                os.kill(self.db.pid, signal.SIGCONT)
            except OSError:
                pass
        self.db.stop()

    def restart_db(self):
        """Stop mariadbd and start a new one on the same port and data."""
        self.db._end_process()
        self.db._launch()

    def test_failover_to_second_server(self):
        conf = write_config(self.db, self.db.path("two.conf"),
                            [f"127.0.0.1:{closed_port()}", f"127.0.0.1:{self.db.port}"])
        code, out, err = run(conf, "user", "demo@example.test")
        self.assertEqual(code, EXIT_OK, err)
        self.assertIn("mysql server failed", err)
        code, out, err = run(conf, "alias", "nobody@example.test")
        self.assertEqual(code, EXIT_NOTFOUND, err)

    def test_all_servers_down(self):
        conf = write_config(self.db, self.db.path("down.conf"),
                            [f"127.0.0.1:{closed_port()}", f"[::1]:{closed_port()}"])
        for args in (("user", "demo@example.test"), ("alias", "nobody@example.test"),
                     ("domain", "example.test"), ("sender", "a@b", "c@d")):
            code, out, err = run(conf, *args)
            self.assertEqual(code, EXIT_TEMPFAIL, args)
            self.assertEqual(out["status"], "tempfail")
            self.assertIn("no server answered", out["reason"])

    def test_wrong_password_is_tempfail(self):
        code, out, _ = run(self.conf, "user", "nobody@example.test",
                           options=["mysql_password=wrong"])
        self.assertEqual(code, EXIT_TEMPFAIL)
        self.assertIn("Access denied", out["reason"])

    def test_reconnect_after_restart(self):
        probe = Probe(self.conf)
        try:
            self.assertEqual(probe.ask("user demo@example.test")["status"], "ok")
            self.restart_db()
            # The pooled connection is dead; the lookup retries on a new one.
            out = probe.ask("user demo@example.test")
            self.assertEqual(out["status"], "ok", out)
        finally:
            err = probe.close()
        self.assertIn("retrying on a new connection", err)

    def test_down_then_back(self):
        probe = Probe(self.conf)
        try:
            self.assertEqual(probe.ask("user demo@example.test")["status"], "ok")
            self.db._end_process()
            out = probe.ask("user demo@example.test")
            self.assertEqual(out["status"], "tempfail", out)
            out = probe.ask("alias @catchall.test")
            self.assertEqual(out["status"], "tempfail", out)
            self.db._launch()
            time.sleep(1.2)  # past mysql_retry_interval
            self.assertEqual(probe.ask("user demo@example.test")["status"], "ok")
        finally:
            probe.close()

    def test_stopped_server_times_out(self):
        probe = Probe(self.conf)
        try:
            self.assertEqual(probe.ask("user demo@example.test")["status"], "ok")
            mrtest.stop_process(self.db.pid)
            began = time.monotonic()
            out = probe.ask("user demo@example.test")
            took = time.monotonic() - began
            self.assertEqual(out["status"], "tempfail", out)
            self.assertLess(took, 20)
            os.kill(self.db.pid, signal.SIGCONT)
            time.sleep(1.2)
            deadline = time.monotonic() + 15
            while probe.ask("user demo@example.test")["status"] != "ok":
                self.assertLess(time.monotonic(), deadline, "no recovery after SIGCONT")
                time.sleep(0.2)
        finally:
            os.kill(self.db.pid, signal.SIGCONT)
            probe.close()


if __name__ == "__main__":
    unittest.main()
