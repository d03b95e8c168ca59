#!/usr/bin/env python3
"""Throughput of mailroom-authd next to Dovecot's auth service.

Both daemons read the same private MariaDB (PostfixAdmin schema, N
generated domains, mailboxes and aliases with SHA512-CRYPT passwords) and
are driven by the same clients, one process per connection, each with one
request in flight:

  login cached    AUTH PLAIN (secured) over the Dovecot auth protocol for a
                  small set of users repeated, after a warm-up pass
  login uncached  the same with the cache off, every user in turn
  rcpt            authd: RCPT over the lookup socket, a mix of mailboxes,
                  aliases, catch-all and unknown addresses.  Dovecot has no
                  recipient resolution; its nearest operation is a userdb
                  lookup over auth-userdb for the same addresses, which is
                  a lighter operation (one query, no alias expansion)

Nothing here is a test: it prints figures and ratios (Mailroom/Dovecot,
same machine, same run).  Every loop is bounded in time and count, all
traffic is on UNIX sockets, and every process started is ended on exit,
Ctrl-C included.
"""
import argparse
import base64
import contextlib
import datetime
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "bench"))
import services  # noqa: E402  (a private MariaDB)
from benchlib import (Started, bench_main, BenchError, children_of, comm, dovecot_version,  # noqa: E402
                      end_group, machine, pct, proc_mem, tail, wait_for)

BUILD = os.environ.get("MR_BUILD", os.path.join(TOP, "build"))
AUTHD = os.path.join(BUILD, "authd", "mailroom-authd")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 10.0
MAX_OPS_PER_CLIENT = 5_000_000  # a bound beside the time limit
CACHED_USERS = 20
MAIL_ROOT = "/var/vmail/"
SPID_START = 100000  # CPIDs the clients announce; unique per connection


# ------------------------------------------------------------- data set

def password_of(i):
    return f"pw-{i:06d}"


def mailbox(i, domains):
    return f"user{i:06d}@{domains[i % len(domains)]}"


def sha512_crypt(passwords):
    """{SHA512-CRYPT} hashes for passwords, one openssl process for all."""
    res = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input="\n".join(passwords)
                         + "\n", capture_output=True, text=True, timeout=300, check=True)
    hashes = res.stdout.split()
    if len(hashes) != len(passwords) or not all(h.startswith("$6$") for h in hashes):
        raise BenchError("openssl passwd -6 gave unexpected output")
    return ["{SHA512-CRYPT}" + h for h in hashes]


def sql_rows(table, columns, rows, chunk=500):
    """Multi-row INSERT statements."""
    q = services.sql_string
    out = []
    for start in range(0, len(rows), chunk):
        values = ",\n".join("(" + ",".join(q(str(v)) for v in row) + ")"
                            for row in rows[start:start + chunk])
        out.append(f"INSERT INTO `{table}` ({','.join(columns)}) VALUES\n{values};")
    return "\n".join(out)


class DataSet:
    """N mailboxes over N/100 domains (each mailbox with its PostfixAdmin
    self-alias), N/2 forwarding aliases, a catch-all on every even domain."""

    def __init__(self, n):
        self.n = n
        self.domains = [f"bench{d:03d}.test" for d in range(max(2, n // 100))]
        self.users = [mailbox(i, self.domains) for i in range(n)]
        self.aliases = [f"alias{i:06d}@{self.domains[i % len(self.domains)]}"
                        for i in range(n // 2)]
        ndom = len(self.domains)
        # Unknown local parts: in a catch-all domain (even) and in one without (odd).
        self.catchall = [f"nobody{i:06d}@{self.domains[2 * (i % (ndom // 2))]}"
                         for i in range(n // 4)]
        self.unknown = [f"nobody{i:06d}@{self.domains[2 * (i % (ndom // 2)) + 1]}"
                        for i in range(n // 4)]

    def sql(self):
        hashes = sha512_crypt([password_of(i) for i in range(self.n)])
        dom = [(d, f"bench domain {d}") for d in self.domains]
        mbox, alias = [], []
        for i, user in enumerate(self.users):
            local, d = user.split("@")
            mbox.append((user, hashes[i], f"{d}/{local}/", 1 << 30, local, d))
            alias.append((user, user, d))
        for i, addr in enumerate(self.aliases):
            d = addr.split("@")[1]
            # Two mailboxes of the alias's domain and a forward.
            targets = [self.users[i % self.n], self.users[(i + len(self.domains)) % self.n]]
            alias.append((addr, ",".join(targets + [f"fwd{i}@remote.invalid"]), d))
        for k, d in enumerate(self.domains):
            if k % 2 == 0:
                alias.append(("@" + d, self.users[k], d))
        return "\n".join([
            "SET NAMES utf8mb4;",
            sql_rows("domain", ["domain", "description"], dom),
            sql_rows("mailbox", ["username", "password", "maildir", "quota", "local_part",
                                 "domain"], mbox),
            sql_rows("alias", ["address", "goto", "domain"], alias),
        ]) + "\n"

    def rcpt_mix(self):
        """(address, kind) in a fixed interleaved order: 4 mailbox, 3 alias,
        1.5 catch-all, 1.5 unknown in every 10."""
        pools = [(self.users, "mailbox"), (self.aliases, "alias"),
                 (self.catchall, "catchall"), (self.unknown, "unknown")]
        pattern = [0, 1, 0, 2, 1, 0, 3, 1, 0, 2, 0, 1, 3, 0, 1, 0, 2, 1, 0, 3]
        pos = [0, 0, 0, 0]
        out = []
        for k in range(self.n):
            p = pattern[k % len(pattern)]
            pool, kind = pools[p]
            out.append((pool[pos[p] % len(pool)], kind))
            pos[p] += 1
        return out


# ------------------------------------------------------------- processes

class Daemon(Started):
    """One daemon in its own process group and temp dir."""

    name = "daemon"

    def __init__(self, db, cache):
        self.db, self.cache = db, cache
        self.dir = tempfile.mkdtemp(prefix=f"mr-bench-{self.name}-", dir="/tmp")
        self.log = os.path.join(self.dir, "log")
        self.proc = None

    def spawn(self, argv):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)

    def stop(self):
        end_group(self.proc)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


class Authd(Daemon):
    name = "authd"
    kinds = {"login": "auth", "rcpt": "rcpt", "user": "user"}

    def start(self):
        self.auth = os.path.join(self.dir, "auth")
        self.lookup_socket = os.path.join(self.dir, "lookup")
        conf = os.path.join(self.dir, "authd.conf")
        with open(conf, "w") as f:
            f.write(f"listen = {self.auth} service=auth mode=0600\n"
                    f"listen = {self.lookup_socket} service=lookup mode=0600\n"
                    "user =\nlog_dest = stderr\nlog_level = info\n"
                    f"mail_root = {MAIL_ROOT}\n"
                    f"cache_size = {10000 if self.cache else 0}\n"
                    "cache_ttl = 1h\ncache_negative_ttl = 1h\n"
                    "backend = mysql\n"
                    f"mysql_servers = {self.db.socket}\n"
                    f"mysql_user = {self.db.user}\nmysql_password = {self.db.password}\n"
                    f"mysql_database = {self.db.database}\n")
        self.spawn([AUTHD, "--foreground", "--config", conf])
        wait_for(lambda: os.path.exists(self.auth) and os.path.exists(self.lookup_socket)
                 and "started" in tail(self.log), self.proc, "mailroom-authd", self.log)

    def pids(self):
        return [self.proc.pid] if self.proc else []


DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/log
protocols =
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_cache_size = {cache_size}
auth_cache_ttl = 1 hour
auth_cache_negative_ttl = 1 hour
# SHA512-CRYPT is slow: verify cached passwords in the workers too, as
# Dovecot's documentation advises for expensive schemes.
auth_cache_verify_password_with_worker = yes
mail_location = maildir:{mail_root}%d/%n
passdb {{
  driver = sql
  args = {dir}/dovecot-sql.conf.ext
}}
userdb {{
  driver = sql
  args = {dir}/dovecot-sql.conf.ext
}}
# Root, like the workers: the private MariaDB's socket is in a directory
# only root may enter.
service auth {{
  user = root
  unix_listener auth-client {{
    mode = 0600
  }}
  unix_listener auth-userdb {{
    mode = 0600
  }}
}}
service auth-worker {{
  user = root
}}
"""

# The same join and checks as authd's default PostfixAdmin user query.
DOVECOT_SQL = """\
driver = mysql
connect = host={socket} dbname={database} user={user} password={password}
default_pass_scheme = SHA512-CRYPT
password_query = SELECT m.username AS user, m.password FROM mailbox m \
JOIN domain d ON d.domain = m.domain \
WHERE m.username = '%u' AND m.active = 1 AND d.active = 1 AND m.enable_imap = 1
user_query = SELECT CONCAT('{mail_root}', m.maildir) AS home, 5000 AS uid, 5000 AS gid, \
CONCAT('*:bytes=', m.quota) AS quota_rule FROM mailbox m \
JOIN domain d ON d.domain = m.domain \
WHERE m.username = '%u' AND m.active = 1 AND d.active = 1 AND m.enable_deliver = 1
"""


class Dovecot(Daemon):
    name = "dovecot"
    kinds = {"login": "auth", "rcpt": "userdb", "user": "userdb"}

    def start(self):
        program = shutil.which("dovecot", path=os.environ.get("PATH", "") + ":/usr/sbin")
        if program is None:
            raise BenchError("dovecot not installed (scripts/setup installs dovecot-core "
                             "and dovecot-mysql)")
        if not os.path.exists("/usr/lib/dovecot/modules/libdriver_mysql.so"):
            raise BenchError("Dovecot's MySQL driver is missing (package dovecot-mysql)")
        conf = os.path.join(self.dir, "dovecot.conf")
        sqlconf = os.path.join(self.dir, "dovecot-sql.conf.ext")
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF.format(dir=self.dir, mail_root=MAIL_ROOT,
                                        cache_size="10M" if self.cache else "0"))
        with open(sqlconf, "w") as f:
            f.write(DOVECOT_SQL.format(socket=self.db.socket, database=self.db.database,
                                       user=self.db.user, password=self.db.password,
                                       mail_root=MAIL_ROOT))
        os.chmod(sqlconf, 0o600)
        self.auth = os.path.join(self.dir, "run", "auth-client")
        self.lookup_socket = os.path.join(self.dir, "run", "auth-userdb")
        self.spawn([program, "-c", conf, "-F"])
        wait_for(lambda: os.path.exists(self.auth) and os.path.exists(self.lookup_socket),
                 self.proc, "dovecot", self.log)

    def pids(self):
        """The auth process and its workers (not master, log, config, anvil)."""
        if not self.proc:
            return []
        return [p for p in children_of(self.proc.pid) if comm(p) == "auth"]


def max_mem(a, b):
    return max(a[0], b[0]), max(a[1], b[1])


def memory(daemon):
    rss = hwm = 0
    for pid in daemon.pids():
        r, h = proc_mem(pid)
        rss, hwm = rss + r, hwm + h
    return rss, hwm


# ------------------------------------------------------------- clients

class Conn:
    """A line-based UNIX socket client."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.connect(path)
        self.buf = b""

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError(f"connection closed; pending {self.buf[:200]!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def close(self):
        self.sock.close()


class AuthClient(Conn):
    """The Dovecot auth client protocol (the same for both daemons)."""

    def __init__(self, path, cpid):
        super().__init__(path)
        self.send(f"VERSION\t1\t2\nCPID\t{cpid}")
        while self.line() != "DONE":
            pass
        self.rid = 0

    def ask(self, user, password):
        self.rid += 1
        resp = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        self.send(f"AUTH\t{self.rid}\tPLAIN\tservice=imap\tsecured\tresp={resp}")
        answer = self.line().split("\t")
        if answer[:2] != ["OK", str(self.rid)]:
            return "login failed: " + "\t".join(answer)
        return None


class RcptClient(Conn):
    """authd's lookup protocol: RCPT."""

    COMMAND = "RCPT"
    EXPECT = {"mailbox": "OK", "alias": "OK", "catchall": "OK", "unknown": "NOTFOUND"}

    def __init__(self, path, cpid):
        super().__init__(path)
        self.rid = 0

    def ask(self, addr, kind):
        self.rid += 1
        self.send(f"{self.rid}\t{self.COMMAND}\t{addr}")
        answer = self.line().split("\t")
        if answer[0] != str(self.rid) or answer[1:2] != [self.EXPECT[kind]]:
            return f"{self.COMMAND} {addr} ({kind}): " + "\t".join(answer)
        return None


class UserClient(RcptClient):
    """authd's lookup protocol: USER, the same question as Dovecot's userdb."""

    COMMAND = "USER"
    EXPECT = {"mailbox": "OK", "alias": "NOTFOUND", "catchall": "NOTFOUND",
              "unknown": "NOTFOUND"}


class UserdbClient(Conn):
    """Dovecot's auth master protocol on auth-userdb: USER lookups."""

    EXPECT = {"mailbox": "USER", "alias": "NOTFOUND", "catchall": "NOTFOUND",
              "unknown": "NOTFOUND"}

    def __init__(self, path, cpid):
        super().__init__(path)
        self.send("VERSION\t1\t0")
        self.rid = 0

    def ask(self, addr, kind):
        self.rid += 1
        self.send(f"USER\t{self.rid}\t{addr}\tservice=lmtp")
        answer = self.line()
        while answer.startswith(("VERSION\t", "SPID\t")):
            answer = self.line()
        fields = answer.split("\t")
        if fields[1:2] != [str(self.rid)] or fields[0] != self.EXPECT[kind]:
            return f"USER {addr} ({kind}): {answer}"
        return None


CLIENTS = {"auth": AuthClient, "rcpt": RcptClient, "user": UserClient,
           "userdb": UserdbClient}


def client_run(job):
    """One connection asking its share of requests in a loop until the
    deadline (or MAX_OPS_PER_CLIENT); returns (count, errors, latencies)."""
    kind, path, cpid, requests, seconds, limit = job
    client = CLIENTS[kind](path, cpid)
    lat, errors = [], []
    deadline = time.perf_counter() + seconds
    try:
        i = 0
        while i < limit:
            t0 = time.perf_counter()
            if t0 >= deadline:
                break
            err = client.ask(*requests[i % len(requests)])
            lat.append(time.perf_counter() - t0)
            if err is not None and len(errors) < 10:
                errors.append(err)
            elif err is not None:
                errors.append(None)
            i += 1
    finally:
        client.close()
    return len(lat), errors, lat, deadline - seconds, time.perf_counter()


def client_init():
    # The parent handles Ctrl-C and SIGTERM and then terminates the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Runner:
    """Client processes reused across runs, terminated on exit."""

    def __init__(self, clients):
        self.clients = clients
        self.pool = multiprocessing.get_context("fork").Pool(clients, client_init)
        self.cpid = SPID_START

    def close(self):
        self.pool.terminate()
        self.pool.join()

    def once(self, kind, path, requests):
        """Every request once over one connection (warm-up and checks)."""
        self.cpid += 1
        return self.pool.apply(client_run, ((kind, path, self.cpid, requests, 600.0,
                                             len(requests)),))

    def measure(self, kind, path, requests, seconds):
        jobs = []
        for c in range(self.clients):
            self.cpid += 1
            share = requests[c::self.clients] or requests
            jobs.append((kind, path, self.cpid, share, seconds, MAX_OPS_PER_CLIENT))
        results = self.pool.map_async(client_run, jobs).get(timeout=seconds + 60)
        count = sum(r[0] for r in results)
        errors = [e for r in results for e in r[1]]
        lat = sorted(x for r in results for x in r[2])
        span = max(r[4] for r in results) - min(r[3] for r in results)
        return {"ops": count / span if span > 0 else 0.0, "count": count,
                "errors": errors, "p50": pct(lat, 50), "p99": pct(lat, 99)}


def warm(runner, kind, path, requests, what):
    """One pass over requests (bounded by their count); every answer must
    be the expected one, or the figures would measure errors."""
    count, errors, _, _, _ = runner.once(kind, path, requests[:20000])
    if errors:
        raise BenchError(f"{what}: {len(errors)} unexpected answers, first: {errors[0]}")
    return count


# ------------------------------------------------------------- the bench

def refuses_wrong_password(runner, d, user):
    """A login rate means something only if wrong passwords fail."""
    _, errors, _, _, _ = runner.once("auth", d.auth, [(user, "not-" + password_of(0))])
    if len(errors) != 1:
        raise BenchError(f"{d.name} accepted a wrong password for {user}")

def touch(d):
    """One handshake on each socket, so the daemon's processes exist
    (Dovecot starts its auth process on the first connection)."""
    AuthClient(d.auth, 1).close()
    Conn(d.lookup_socket).close()


def median_round(results):
    """The round with the median rate, with the spread of all rounds."""
    ranked = sorted(results, key=lambda r: r["ops"])
    best = dict(ranked[len(ranked) // 2])
    best["spread"] = (ranked[0]["ops"], ranked[-1]["ops"])
    best["errors"] = [e for r in results for e in r["errors"]]
    return best


def bench_cache_setting(impls, cache, db, data, runner, args, log):
    """Both implementations side by side with the cache on or off, each
    measurement alternating between them round by round (so load from
    elsewhere on the machine hits both alike): {impl name: {op: result}}."""
    logins = [(u, password_of(i)) for i, u in enumerate(data.users)]
    mix = data.rcpt_mix()
    suffix = " cached" if cache else " uncached"
    ops = [("login" + suffix, "login", logins[:CACHED_USERS] if cache else logins),
           ("rcpt" + suffix, "rcpt", mix), ("user" + suffix, "user", mix)]
    out = {cls.name: {} for cls in impls}
    with contextlib.ExitStack() as stack:
        daemons = [stack.enter_context(cls(db, cache)) for cls in impls]
        mem0, peak = {}, {}
        for d in daemons:
            touch(d)
            mem0[d.name] = peak[d.name] = memory(d)
        for op, kind, requests in ops:
            for d in daemons:
                k = d.kinds[kind]
                path = d.auth if k == "auth" else d.lookup_socket
                if cache:
                    warm(runner, k, path, requests, f"{d.name} {op}")
            rounds = {d.name: [] for d in daemons}
            for r in range(args.rounds):
                order = daemons if r % 2 == 0 else daemons[::-1]
                for d in order:
                    k = d.kinds[kind]
                    path = d.auth if k == "auth" else d.lookup_socket
                    res = runner.measure(k, path, requests, args.seconds)
                    # Sampled after every run: Dovecot ends idle workers.
                    peak[d.name] = max_mem(peak[d.name], memory(d))
                    log(f"  {op:15} round {r + 1} {d.name:8} {res['ops']:9.0f} ops/s")
                    rounds[d.name].append(res)
            for d in daemons:
                out[d.name][op] = median_round(rounds[d.name])
                # Last: a failure slows Dovecot's next logins by seconds.
                if kind == "login":
                    refuses_wrong_password(runner, d, requests[0][0])
        for d in daemons:
            mem = (mem0[d.name], peak[d.name])
            for op, _, _ in ops:
                out[d.name][op]["mem"] = mem
    return out


OPERATIONS = [
    ("login cached", "login, cached (AUTH PLAIN, SHA512-CRYPT)"),
    ("login uncached", "login, uncached (AUTH PLAIN, SHA512-CRYPT)"),
    ("user cached", "user lookup, cached (authd USER, Dovecot userdb USER)"),
    ("user uncached", "user lookup, uncached (authd USER, Dovecot userdb USER)"),
    ("rcpt cached", "recipient resolution, cached (authd RCPT; Dovecot userdb USER)*"),
    ("rcpt uncached", "recipient resolution, uncached (authd RCPT; Dovecot userdb USER)*"),
]


def fmt_mem(mem):
    (rss0, _), (rss1, hwm1) = mem
    return f"{rss0 / 1024:.1f} → {rss1 / 1024:.1f} (peak {hwm1 / 1024:.1f})"


def fmt_ops(r):
    lo, hi = r["spread"]
    return f"{r['ops']:.0f} ({lo:.0f}–{hi:.0f})"


def table(mr, dc):
    head = ["operation", "Mailroom ops/s", "Dovecot ops/s", "ratio Mailroom/Dovecot",
            "Mailroom p50/p99 ms", "Dovecot p50/p99 ms", "Mailroom RSS MiB",
            "Dovecot RSS MiB"]
    rows = []
    for key, label in OPERATIONS:
        m, d = mr[key], dc.get(key) if dc else None
        row = [label, fmt_ops(m)]
        if d:
            ratio = m["ops"] / d["ops"] if d["ops"] else float("inf")
            row += [fmt_ops(d), f"{ratio:.2f}"]
        else:
            row += ["n/a", "n/a"]
        row.append(f"{m['p50']:.2f} / {m['p99']:.2f}")
        row.append(f"{d['p50']:.2f} / {d['p99']:.2f}" if d else "n/a")
        row.append(fmt_mem(m["mem"]))
        row.append(fmt_mem(d["mem"]) if d else "n/a")
        rows.append(row)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=2000, help="mailboxes generated")
    ap.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    ap.add_argument("--clients", type=int, default=4, help="concurrent connections")
    ap.add_argument("--rounds", type=int, default=3,
                    help="measurements per row and daemon, alternating; the median counts")
    ap.add_argument("--out", help="also write the report here (markdown)")
    ap.add_argument("--no-dovecot", action="store_true", help="Mailroom figures only")
    args = ap.parse_args()
    if not 40 <= args.users <= 200000:
        ap.error("--users must be 40..200000")
    if not 0.5 <= args.seconds <= 300:
        ap.error("--seconds must be 0.5..300")
    if not 1 <= args.rounds <= 15:
        ap.error("--rounds must be 1..15")
    if not 1 <= args.clients <= 64:
        ap.error("--clients must be 1..64")
    return args


def run(args, log):
    if not os.access(AUTHD, os.X_OK):
        raise BenchError(f"{AUTHD} not built; run scripts/test or scripts/setup first")
    began = time.monotonic()
    data = DataSet(args.users)
    runner = None
    db = services.MariaDB(database="mailroom_bench")
    try:
        db.start()
        for name in ("schema.sql", "mailroom-extras.sql"):
            db.load(os.path.join(TOP, "sql", name))
        sqlfile = os.path.join(db.dir, "bench-data.sql")
        with open(sqlfile, "w") as f:
            f.write(data.sql())
        db.load(sqlfile)
        log(f"set-up: {len(data.users)} mailboxes, {len(data.aliases)} aliases, "
            f"{len(data.domains)} domains in {time.monotonic() - began:.1f}s")
        runner = Runner(args.clients)
        impls, why = [Authd], None
        if args.no_dovecot:
            why = "--no-dovecot given"
        else:
            try:
                with Dovecot(db, True) as d:
                    touch(d)
                impls.append(Dovecot)
            except (BenchError, OSError) as e:
                why = str(e)
                log(f"dovecot cannot be measured: {why}")
        res = {cls.name: {} for cls in impls}
        for cache in (True, False):
            for name, ops in bench_cache_setting(impls, cache, db, data, runner, args,
                                                 log).items():
                res[name].update(ops)
        mr, dc = res["authd"], res.get("dovecot")
    finally:
        if runner is not None:
            runner.close()
        db.stop()
    return mr, dc, why


def report(args, mr, dc, why):
    errs = [f"- {k} {name}: {len(r['errors'])} unexpected answers, first: "
            f"{next((e for e in r['errors'] if e), '')}"
            for name, res in (("Mailroom", mr), ("Dovecot", dc or {})) for k, r in res.items()
            if r["errors"]]
    lines = [
        f"## mailroom-authd vs Dovecot auth ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {machine()}. Dovecot {dovecot_version() if dc else '(not run)'}; "
        f"MariaDB over its UNIX socket for both.",
        f"{args.users} mailboxes (SHA512-CRYPT, 5000 rounds), {args.clients} client "
        f"connections (one process each, one request in flight), {args.seconds:g} s "
        f"per measurement, {args.rounds} rounds alternating between the daemons: "
        f"the median round (lowest–highest in brackets). Cached rows ran after a "
        f"warm-up pass; cached logins repeat {CACHED_USERS} users; uncached rows "
        f"ran on daemons with the cache off (authd cache_size = 0, Dovecot "
        f"auth_cache_size = 0).",
        "",
        table(mr, dc),
        "",
        "User lookups are the same question on both (one mailbox query per "
        "address; the same address mix, so mailboxes are found and aliases, "
        "catch-all and unknown addresses are not).",
        "\\* Not the same operation: Dovecot has no recipient resolution, so its "
        "row repeats the user lookup; authd's RCPT resolves each address (domain, "
        "aliases, mailbox, catch-all: several queries when uncached).",
        "RSS: before the runs → the most seen after any run on that daemon "
        "(VmHWM in brackets); Dovecot's is the sum over its auth process and "
        "auth-worker processes.",
        f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
        "cores. Other work on the machine moves absolute rates (see the spreads); "
        "the ratios, from alternating rounds, move less.",
    ]
    if why:
        lines += ["", f"Dovecot not measured: {why}"]
    if errs:
        lines += ["", "Errors:"] + errs
    return "\n".join(lines) + "\n"


def main():
    args = parse_args()
    return bench_main(args, lambda log: run(args, log), lambda r: report(args, *r),
                      (services.ServiceError,))


if __name__ == "__main__":
    sys.exit(main())
