#!/usr/bin/env python3
"""IMAP and POP3: mailroom-mbs next to Debian's Dovecot, same users, same mail.

Both servers get the same users (one passwd-file each, the same names and
passwords) and their own copy of the same Maildirs, and bench/imap-load
drives them on 127.0.0.1 with the same arguments:

  mix    login, SELECT, FETCH headers, FETCH bodies, STORE flags, APPEND,
         STORE \\Deleted, EXPUNGE, LOGOUT: ops/s and latency per command
  pop3   USER/PASS, STAT, RETR of every message, QUIT: messages/s, MB/s
  idle   N connections logged in, INBOX selected, in IDLE: the memory per
         connection of the whole system (the server's processes by Pss, and
         the kernel's slab, stacks, page tables and TCP buffers from
         /proc/meminfo and /proc/net/sockstat, less the client's share);
         Dovecot with and without imap-hibernate

Mailroom is mailroom-authd (passwd-file) and mailroom-mbs; Dovecot is
`dovecot -F` with a generated config (passdb and userdb passwd-file, mail
as nobody).  Rounds alternate between the servers, so load from elsewhere
hits both alike.  Nothing here is a test.  Every loop is bounded in time
and count, traffic stays on 127.0.0.1, and every process started is ended
on exit, Ctrl-C included.
"""
import argparse
import base64
import contextlib
import datetime
import json
import os
import pwd
import random
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
from benchlib import (Started, bench_main, BUILD, BenchError, children_of, comm, dovecot_version,  # noqa: E402
                      drop_caches, end_group, free_port, kernel_kib, load_note, machine,
                      md_table, meminfo, port_open, pss_kib, ratio, raise_nofile, spawn,
                      tail, wait_for, write)
from mrtest import make_cert  # noqa: E402  (tests/lib, on the path from benchlib)

AUTHD = os.path.join(BUILD, "authd", "mailroom-authd")
MBS = os.path.join(BUILD, "mbs", "mailroom-mbs")
LOAD = os.path.join(BUILD, "bench", "imap-load")
DOVECOT = "/usr/sbin/dovecot"
DOMAIN = "bench.test"
START_TIMEOUT = 30.0
RUN_GRACE = 60.0          # beyond --seconds for one imap-load run
IDLE_SETUP_MAX = 600.0    # seconds to open every idle connection
HIBERNATE_AFTER = 2       # Dovecot's imap_hibernate_timeout, seconds
MAIL_UID = pwd.getpwnam("nobody").pw_uid
MAIL_GID = pwd.getpwnam("nobody").pw_gid


# ------------------------------------------------------------- the mail

WORDS = ("mail server imap folder message client benchmark maildir flag header body "
         "account invoice meeting report quarterly draft review budget schedule notes "
         "the a of and to in is for on with as by at from this that").split()


def text(rng, size):
    out, n = [], 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))
        out.append(line)
        n += len(line) + 1
    return "\n".join(out) + "\n"


def message(rng, i):
    """One message: mostly small plain text, some with a base64 attachment."""
    kind = rng.random()
    size = (rng.randint(1500, 4000) if kind < 0.5 else rng.randint(6000, 20000)
            if kind < 0.85 else rng.randint(30000, 80000) if kind < 0.97
            else rng.randint(150000, 400000))
    head = (f"Return-Path: <sender{i % 17}@remote.test>\n"
            f"From: Sender {i % 17} <sender{i % 17}@remote.test>\n"
            f"To: Bench User <user@{DOMAIN}>\n"
            f"Subject: {text(rng, 30).strip()[:60]} #{i}\n"
            f"Date: {(datetime.datetime(2026, 1, 1) + datetime.timedelta(hours=i)).strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
            f"Message-ID: <{i}.{rng.randint(0, 1 << 30)}@remote.test>\n"
            "MIME-Version: 1.0\n")
    if size < 20000:
        return (head + "Content-Type: text/plain; charset=us-ascii\n\n"
                + text(rng, size)).encode()
    blob = rng.randbytes(size * 3 // 4)
    b64 = base64.encodebytes(blob).decode()
    return (head + 'Content-Type: multipart/mixed; boundary="b-' + str(i) + '"\n\n'
            f"--b-{i}\nContent-Type: text/plain; charset=us-ascii\n\n"
            + text(rng, 1500)
            + f"--b-{i}\nContent-Type: application/octet-stream; name=\"f{i}.bin\"\n"
            "Content-Transfer-Encoding: base64\n"
            f"Content-Disposition: attachment; filename=\"f{i}.bin\"\n\n"
            + b64 + f"--b-{i}--\n").encode()


def user(i):
    return f"user{i:04d}@{DOMAIN}", f"pw-{i:04d}"


def make_template(top, nusers, nmessages):
    """top/vmail/DOMAIN/userNNNN/{cur,new,tmp}: the same nmessages in each
    Maildir (seen flags on two in three); returns the bytes per Maildir."""
    rng = random.Random(5)
    msgs = [message(rng, i) for i in range(nmessages)]
    base = 1767225600
    for u in range(nusers):
        local = user(u)[0].split("@")[0]
        md = os.path.join(top, "vmail", DOMAIN, local)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        for i, body in enumerate(msgs):
            flags = "S" if i % 3 else ""
            name = f"{base + i}.M{i}P{u}.bench,S={len(body)}:2,{flags}"
            path = os.path.join(md, "cur", name)
            with open(path, "wb") as f:
                f.write(body)
            os.utime(path, (base + i, base + i))
    return sum(len(m) for m in msgs)


# ------------------------------------------------------------- the servers

def proc_cpu(pid, with_children=False):
    """utime + stime of pid in seconds (and of its reaped children)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


class Server(Started):
    """One system under test in its own dir with its own copy of the mail."""

    name = "?"
    hibernate = False

    def __init__(self, top, template, args):
        self.dir = tempfile.mkdtemp(prefix=self.label() + "-", dir=top)
        os.chmod(self.dir, 0o755)
        self.args = args
        self.vmail = os.path.join(self.dir, "vmail")
        shutil.copytree(os.path.join(template, "vmail"), self.vmail)
        self.imap_port, self.pop3_port = free_port(), free_port()
        self.pop3 = True
        self.procs = []

    def label(self):
        return self.name.lower().replace(" ", "-").replace("(", "").replace(")", "")

    def pids(self):
        raise NotImplementedError

    def pss(self):
        return sum(pss_kib(p) for p in self.pids())

    def cpu(self):
        raise NotImplementedError

    def stop(self):
        for p in reversed(self.procs):
            end_group(p)
        self.procs = []


class Mailroom(Server):
    name = "Mailroom"

    def start(self):
        d = self.dir
        users = "".join(f"{u}:{{PLAIN}}{p}\n" for u, p in
                        (user(i) for i in range(self.args.users)))
        write(os.path.join(d, "users"), users, 0o600)
        write(os.path.join(d, "domains"), DOMAIN + "\n", 0o600)
        write(os.path.join(d, "authd.conf"), f"""\
listen = {d}/lookup mode=0600 service=lookup
listen = {d}/auth mode=0600 service=auth
user =
log_dest = stderr
log_level = warn
pid_file = {d}/authd.pid
mail_root = {self.vmail}
backend = passwd-file
passwd_file = {d}/users
passwd_file_domains = {d}/domains
auth_allow_plaintext = yes
""", 0o600)
        alog = os.path.join(d, "authd.log")
        self.authd = spawn([AUTHD, "--foreground", "--config", f"{d}/authd.conf"], alog)
        self.procs.append(self.authd)
        wait_for(lambda: os.path.exists(f"{d}/auth") and os.path.exists(f"{d}/lookup"),
                 self.authd, "mailroom-authd", alog)
        mlog = os.path.join(d, "mbs.log")
        for pop3 in (True, False):
            tls = (f"tls_cert = {self.args.cert}\ntls_key = {self.args.key}\n"
                   if self.args.tls else "")
            imap, pop = (("imaps", "pop3s") if self.args.tls else ("imap", "pop3"))
            mode = " tls=implicit" if self.args.tls else ""
            listen = tls + f"listen = 127.0.0.1:{self.imap_port}{mode} service={imap}\n"
            if pop3:
                listen += f"listen = 127.0.0.1:{self.pop3_port}{mode} service={pop}\n"
            write(os.path.join(d, "mbs.conf"), listen + f"""\
hostname = mbs.{DOMAIN}
user =
log_dest = stderr
log_level = warn
pid_file = {d}/mbs.pid
authd_lookup_socket = {d}/lookup
authd_auth_socket = {d}/auth
auth_allow_plaintext = yes
max_connections = {self.args.connections + 100}
max_connections_per_ip = 0
""", 0o600)
            self.mbs = spawn([MBS, "--foreground", "--config", f"{d}/mbs.conf"], mlog)
            try:
                wait_for(lambda: port_open(self.imap_port), self.mbs, "mailroom-mbs", mlog,
                         timeout=START_TIMEOUT)
            except BenchError:
                if pop3 and "pop3" in tail(mlog):
                    # No POP3 in this build yet: IMAP only.
                    end_group(self.mbs)
                    self.pop3 = False
                    continue
                raise
            self.procs.append(self.mbs)
            break

    def pids(self):
        return [p.pid for p in self.procs if p.poll() is None]

    def cpu(self):
        return sum(proc_cpu(p) for p in self.pids())


DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:~
first_valid_uid = {uid}
pop3_uidl_format = %08Xu%08Xv
default_process_limit = {plimit}
default_client_limit = {climit}
default_vsz_limit = 1G
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
protocol imap {{
  mail_max_userip_connections = {climit}
}}
protocol pop3 {{
  mail_max_userip_connections = {climit}
}}
# Dovecot's high-performance login mode: a few login processes serving
# many connections each.
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
    {listener_ssl}
  }}
  inet_listener imaps {{
    port = 0
  }}
  service_count = 0
  process_min_avail = {cores}
  client_limit = {climit}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
    {listener_ssl}
  }}
  inet_listener pop3s {{
    port = 0
  }}
  service_count = 0
  process_min_avail = {cores}
  client_limit = {climit}
}}
service imap {{
  process_limit = {plimit}
{imap_extra}}}
service pop3 {{
  process_limit = {plimit}
}}
{hibernate}"""

HIBERNATE = """\
imap_hibernate_timeout = {after}s
service imap-hibernate {{
  unix_listener imap-hibernate {{
    mode = 0660
    group = $default_internal_group
  }}
}}
"""
HIBERNATE_IMAP = """\
  unix_listener imap-master {
    user = $default_internal_user
  }
  extra_groups = $default_internal_group
"""


class Dovecot(Server):
    name = "Dovecot"
    hibernate = False

    def start(self):
        d = self.dir
        for sub in ("run", "state"):
            os.mkdir(os.path.join(d, sub))
        write(os.path.join(d, "users"), "".join(
            f"{u}:{{PLAIN}}{p}:{MAIL_UID}:{MAIL_GID}::{self.vmail}/{DOMAIN}/"
            f"{u.split('@')[0]}::\n" for u, p in (user(i) for i in range(self.args.users))),
              0o600)
        # Dovecot's auth process reads it as its internal user.
        shutil.chown(os.path.join(d, "users"), "dovecot", "dovecot")
        for root, dirs, files in os.walk(self.vmail):
            for n in dirs + files + [""]:
                os.chown(os.path.join(root, n), MAIL_UID, MAIL_GID)
        climit = max(1000, 2 * self.args.connections + 1000)
        write(os.path.join(d, "dovecot.conf"), DOVECOT_CONF.format(
            d=d, uid=MAIL_UID, imap=self.imap_port, pop3=self.pop3_port,
            plimit=self.args.connections + 500, climit=climit, cores=os.cpu_count(),
            imap_extra=HIBERNATE_IMAP if self.hibernate else "",
            ssl=(f"ssl = yes\nssl_cert = <{self.args.cert}\nssl_key = <{self.args.key}"
                 if self.args.tls else "ssl = no"),
            listener_ssl="ssl = yes" if self.args.tls else "",
            hibernate=HIBERNATE.format(after=HIBERNATE_AFTER) if self.hibernate else ""))
        log = os.path.join(d, "dovecot.log")
        self.master = spawn([DOVECOT, "-c", f"{d}/dovecot.conf", "-F"],
                            os.path.join(d, "master.out"))
        self.procs.append(self.master)
        wait_for(lambda: port_open(self.imap_port) and port_open(self.pop3_port),
                 self.master, "dovecot", log, timeout=START_TIMEOUT)

    def pids(self):
        if not self.master or self.master.poll() is not None:
            return []
        return [self.master.pid] + children_of(self.master.pid)

    def cpu(self):
        pids = self.pids()
        if not pids:
            return 0.0
        # The master reaps its children: theirs counts in its cutime.
        return proc_cpu(pids[0], True) + sum(proc_cpu(p) for p in pids[1:])

    def count(self, name):
        return sum(1 for p in self.pids() if comm(p) == name)


class DovecotHibernate(Dovecot):
    name = "Dovecot (imap-hibernate)"
    hibernate = True


# ------------------------------------------------------------- the load

def users_file(top, n):
    path = os.path.join(top, "load-users")
    write(path, "".join(f"{u} {p}\n" for u, p in (user(i) for i in range(n))), 0o600)
    return path


def load(server, mode, users, extra, seconds):
    """One imap-load run to completion; its JSON."""
    port = server.pop3_port if mode == "pop3" else server.imap_port
    argv = [LOAD, "--mode", mode, "--port", str(port), "--users", users,
            "--seconds", str(seconds)] + extra + (["--tls"] if server.args.tls else [])
    try:
        res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=seconds + RUN_GRACE)
    except subprocess.TimeoutExpired:
        raise BenchError(f"imap-load {mode} against {server.name} did not end")
    try:
        out = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"imap-load {mode} against {server.name} exited with "
                         f"{res.returncode}: {res.stdout[-500:]} {res.stderr[-1000:]}")
    return out


def run_mix(servers, users, args, log, mode="mix"):
    rows = {s.name: [] for s in servers}
    for r in range(args.rounds):
        for s in (servers if r % 2 == 0 else servers[::-1]):
            cpu0 = s.cpu()
            out = load(s, mode, users, ["--sessions", str(args.sessions), "--cycles",
                                        str(args.cycles), "--seed", str(r + 1)],
                       args.seconds)
            out["server_cpu"] = s.cpu() - cpu0
            ops = sum(c["count"] for c in out["commands"].values())
            out["ops"] = ops / out["elapsed"]
            log(f"  {mode:5} round {r + 1} {s.name:26} {out['ops']:8.0f} commands/s, "
                f"errors {out['errors']}, load-gen CPU "
                f"{(out['cpu_user'] + out['cpu_sys']) / out['elapsed'] * 100:.0f} %"
                + (f" ({out['first_error']})" if out["errors"] else ""))
            rows[s.name].append(out)
    return {k: median_of(v, "ops") for k, v in rows.items()}


def run_pop3(servers, users, args, log):
    rows = {s.name: [] for s in servers if s.pop3}
    for r in range(args.rounds):
        for s in (servers if r % 2 == 0 else servers[::-1]):
            if not s.pop3:
                continue
            cpu0 = s.cpu()
            out = load(s, "pop3", users, ["--sessions", str(args.pop3_sessions)],
                       args.seconds)
            out["server_cpu"] = s.cpu() - cpu0
            out["ops"] = out["messages"] / out["elapsed"]
            out["mbps"] = out["message_bytes"] / out["elapsed"] / 1e6
            log(f"  pop3  round {r + 1} {s.name:26} {out['ops']:8.0f} messages/s "
                f"{out['mbps']:7.1f} MB/s, errors {out['errors']}"
                + (f" ({out['first_error']})" if out["errors"] else ""))
            rows[s.name].append(out)
    return {k: median_of(v, "ops") for k, v in rows.items()}


def median_of(rounds, key):
    ranked = sorted(rounds, key=lambda o: o[key])
    best = dict(ranked[len(ranked) // 2])
    best["spread"] = (ranked[0][key], ranked[-1][key])
    return best


# ------------------------------------------------------------- idle memory

def calibrate(n, log, times=3):
    """Kernel memory of n idle loopback TCP connections, both ends, with no
    server process: the client's share of an idle run is half of it.  The
    median of a few tries: the counters are system-wide."""
    tries = sorted(calibrate_once(n) for _ in range(times))
    per_pair = tries[len(tries) // 2]
    log(f"  calibration: {n} loopback connection pairs: {per_pair:.2f} KiB kernel per "
        f"pair (tries: {', '.join(f'{t:.2f}' for t in tries)})")
    return per_pair


def calibrate_once(n):
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1024)
    port = lst.getsockname()[1]
    drop_caches()
    k0 = kernel_kib()
    pairs = []
    try:
        for _ in range(n):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            a, _ = lst.accept()
            pairs.append((c, a))
        time.sleep(1)
        drop_caches()
        k1 = kernel_kib()
    finally:
        for c, a in pairs:
            c.close()
            a.close()
        lst.close()
    return (k1["total"] - k0["total"]) / n


def established(port):
    """Server-side TCP connections on port in state ESTABLISHED."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        count += 1
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return count


def idle_run(server, users, n, args, log, level="idle"):
    """n connections in IDLE on server; memory before and while they idle."""
    drop_caches()
    time.sleep(0.5)
    k0, p0 = kernel_kib(), server.pss()
    before = established(server.imap_port)
    argv = [LOAD, "--mode", "idle", "--port", str(server.imap_port), "--users", users,
            "--connections", str(n), "--seconds", str(IDLE_SETUP_MAX),
            "--hold", str(IDLE_SETUP_MAX), "--max-open", str(args.max_open),
            "--idle-level", level] + (["--tls"] if args.tls else [])
    if server.hibernate:
        # DONE would wake every hibernated client at once: as many imap
        # processes started together, which loads the machine for minutes
        # (and Dovecot drops some of them).  Closing ends them quietly.
        argv.append("--close-idle")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line, t0 = "", time.monotonic()
        while not line and time.monotonic() - t0 < IDLE_SETUP_MAX + 30:
            r, _, _ = select.select([proc.stdout], [], [], 5)
            if r:
                line = proc.stdout.readline()
                if not line:
                    break
        parts = line.split()
        if len(parts) != 4 or parts[0] != "ready":
            raise BenchError(f"imap-load idle against {server.name}: {line!r} "
                             f"{proc.stderr.read()[-500:] if proc.poll() is not None else ''}")
        ready, failed, secs = int(parts[1]), int(parts[2]), float(parts[3])
        if server.hibernate:
            # Until the imap processes have handed their clients over.
            deadline = time.monotonic() + HIBERNATE_AFTER + 60
            while time.monotonic() < deadline and server.count("imap") > 0:
                time.sleep(1)
        time.sleep(args.settle)
        drop_caches()
        time.sleep(0.5)
        k1, p1 = kernel_kib(), server.pss()
        nproc = len(server.pids())
        still = established(server.imap_port)
        client_pss = pss_kib(proc.pid)
        try:
            proc.stdin.write("stop\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass  # every session had ended already
        # Not communicate(): it would miss what readline() has buffered.
        # imap-load ends within its grace period once told to stop.
        out = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            end_group(proc)
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = {"errors": "?", "first_error": err[-300:]}
    if ready == 0:
        raise BenchError(f"{server.name}: no connection reached IDLE: {res.get('first_error')}")
    kd = {k: k1[k] - k0[k] for k in k1}
    log(f"  idle  {server.name:26} {ready} in IDLE ({failed} failed) in {secs:.1f}s, "
        f"{still} connected at the reading ({before} before); "
        f"Pss {p0 / 1024:.1f} → {p1 / 1024:.1f} MiB over {nproc} processes; kernel "
        f"+{kd['total'] / 1024:.1f} MiB (slab {kd['Slab'] / 1024:.1f}, stacks "
        f"{kd['KernelStack'] / 1024:.1f}, page tables {kd['PageTables'] / 1024:.1f}, "
        f"tcp {kd['tcp_mem'] / 1024:.1f})")
    return {"n": ready, "failed": failed, "connected": still, "setup_s": secs, "pss0": p0, "pss1": p1,
            "kernel": kd, "processes": nproc, "client_pss": client_pss,
            "errors": res.get("errors"), "first_error": res.get("first_error")}


def per_conn(r, pair_kib):
    """KiB per connection: (process Pss, kernel less the client's half of
    the socket pair, total)."""
    n = r["n"]
    proc = (r["pss1"] - r["pss0"]) / n
    kern = r["kernel"]["total"] / n - pair_kib / 2
    return proc, kern, proc + kern


INOTIFY_INSTANCES = "/proc/sys/fs/inotify/max_user_instances"


@contextlib.contextmanager
def inotify_instances(want, log):
    """Dovecot's imap processes take one inotify instance each, all under
    the mail user's uid, and only hibernate a client whose instance they can
    hand over: beyond 128 (the kernel's default per uid) IDLE falls back to
    polling and imap-hibernate stays unused.  Dovecot's log says to raise
    the limit; it is raised for Dovecot's runs and put back after."""
    try:
        with open(INOTIFY_INSTANCES) as f:
            old = int(f.read())
    except (OSError, ValueError):
        yield None
        return
    if want is None or old >= want:
        yield old
        return
    try:
        with open(INOTIFY_INSTANCES, "w") as f:
            f.write(f"{want}\n")
        log(f"  fs.inotify.max_user_instances {old} -> {want} for Dovecot")
    except OSError as e:
        log(f"  fs.inotify.max_user_instances stays {old}: {e}")
        yield old
        return
    try:
        yield want
    finally:
        with open(INOTIFY_INSTANCES, "w") as f:
            f.write(f"{old}\n")


def run_idle(classes, top, template, users, args, log):
    out = {}
    pair = calibrate(min(args.connections, 5000), log)
    for cls in classes:
        want = (None if cls is Mailroom or args.keep_inotify_limit
                else args.connections + 1000)
        with inotify_instances(want, log) as limit, cls(top, template, args) as s:
            warm(s, users, args, log)
            n = args.connections
            # A probe first: is n connections within the machine's memory?
            level = "idle"
            try:
                probe = idle_run(s, users, min(n, 200), args, log)
            except BenchError as e:
                log(f"  idle  {s.name}: {e}")
                out[s.name] = {"failed_run": str(e)}
                # A server without IDLE yet: the same memory reading with
                # the sessions held after SELECT, or after LOGIN.
                for level in ("select", "login"):
                    try:
                        probe = idle_run(s, users, min(n, 200), args, log, level)
                        break
                    except BenchError as e2:
                        log(f"  idle  {s.name} ({level}): {e2}")
                else:
                    continue
            name = s.name if level == "idle" else f"{s.name} (held after {level.upper()}, no IDLE)"
            need = per_conn(probe, pair)[2] * n
            avail = meminfo()["MemAvailable"]
            if need > avail * 0.4:
                n = max(200, int(avail * 0.4 / per_conn(probe, pair)[2]))
                log(f"  {s.name}: {args.connections} connections would need "
                    f"{need / 1024:.0f} MiB of {avail / 1024:.0f} MiB available: {n} instead")
            r = idle_run(s, users, n, args, log, level) if n > 200 else probe
            r["asked"] = args.connections
            r["inotify_limit"] = limit
            out[name] = r
        if not args.keep:
            shutil.rmtree(s.dir, ignore_errors=True)
    return out, pair


def warm(server, users, args, log):
    """Every user logs in and selects INBOX once (UID lists, Dovecot's
    indexes), so the measured rounds do not pay for first access."""
    out = load(server, "mix", users, ["--sessions", str(args.users), "--cycles", "1"],
               min(args.seconds, 3))
    sel = out["commands"].get("select", {})
    log(f"  warm-up {server.name}: {sel.get('count', 0) - sel.get('errors', 0)} SELECTs, "
        f"errors {out['errors']}" + (f" ({out['first_error']})" if out["errors"] else ""))


# ------------------------------------------------------------- report

MIX_ROWS = ["connect", "login", "select", "fetch_headers", "fetch_body", "store", "append",
            "expunge", "logout"]


def report(args, res, why, nbytes):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"{now}. Machine: {machine()}. Dovecot {dovecot_version()}.",
             f"{args.users} users, {args.messages} messages each "
             f"({nbytes / args.messages / 1024:.1f} KiB on average, "
             f"{nbytes / 1048576:.1f} MiB per Maildir), the same files for both servers; "
             f"{args.rounds} round(s) of {args.seconds:g} s alternating between them, "
             "the median round (lowest–highest in brackets). "
             + ("Implicit TLS (imaps, pop3s) on both. " if args.tls else
                "Plain text on loopback (no TLS). ") +
             f"RLIMIT_NOFILE {getattr(args, 'nofile', '?')} per process (the most "
             "IDLE connections this machine allows one process, less ~100).", ""]
    for w in why:
        lines.append(f"Not measured: {w}")
    if why:
        lines.append("")
    login = res.get("login")
    if login:
        lines += [f"### IMAP logins: {args.sessions} sessions, connect, LOGIN, LOGOUT, again", ""]
        head = ["server", "logins/s", "LOGIN p50/p99 ms", "connect+greeting p50 ms",
                "load-gen CPU %", "server CPU %", "errors"]
        rows = []
        for n, o in login.items():
            li, co = o["commands"].get("login", {}), o["commands"].get("connect", {})
            rate = li.get("count", 0) / o["elapsed"]
            o["rate"] = rate
            rows.append([n, f"{rate:.0f}", f"{li.get('p50', 0):.2f} / {li.get('p99', 0):.2f}",
                         f"{co.get('p50', 0):.2f}",
                         f"{(o['cpu_user'] + o['cpu_sys']) / o['elapsed'] * 100:.0f}",
                         f"{o['server_cpu'] / o['elapsed'] * 100:.0f}",
                         str(o["errors"]) + (f" ({o['first_error']})" if o["errors"] else "")])
        if "Mailroom" in login and "Dovecot" in login:
            rows.append(["ratio Mailroom/Dovecot", ratio(login["Mailroom"]["rate"],
                                                         login["Dovecot"]["rate"]),
                         "", "", "", "", ""])
        lines += [md_table(head, rows), ""]
    mix = res.get("mix")
    if mix:
        names = list(mix)
        mr, dc = mix.get("Mailroom"), mix.get("Dovecot")
        lines += [f"### IMAP mix: {args.sessions} sessions, {args.cycles} cycles per login",
                  ""]
        head = ["command"]
        for n in names:
            head += [f"{n} ops/s", f"{n} p50/p99 ms"]
        if mr and dc:
            head.append("ratio Mailroom/Dovecot")
        rows = []
        for c in MIX_ROWS + ["all"]:
            row = [c]
            rates, failing = {}, False
            for n in names:
                o = mix[n]
                if c == "all":
                    rate = o["ops"]
                    lo, hi = o["spread"]
                    row += [f"{rate:.0f} ({lo:.0f}–{hi:.0f})", ""]
                else:
                    cs = o["commands"].get(c)
                    rate = cs["count"] / o["elapsed"] if cs else None
                    row += [f"{rate:.1f}" if cs else "–",
                            f"{cs['p50']:.2f} / {cs['p99']:.2f}" +
                            (f" ({cs['errors']} errors)" if cs and cs["errors"] else "")
                            if cs else "–"]
                rates[n] = rate
                # A rate of failures compares nothing, nor does a run whose
                # sessions gave up early.
                failing = failing or o["errors"] > 0
            if mr and dc:
                row.append("n/a (errors)" if failing else
                           ratio(rates.get("Mailroom"), rates.get("Dovecot")))
            rows.append(row)
        lines += [md_table(head, rows), ""]
        for n in names:
            o = mix[n]
            lines.append(f"{n}: load generator CPU "
                         f"{(o['cpu_user'] + o['cpu_sys']) / o['elapsed'] * 100:.0f} % of "
                         f"one core, server CPU {o['server_cpu'] / o['elapsed'] * 100:.0f} % "
                         f"({o['server_cpu'] / max(1, sum(c['count'] for c in o['commands'].values())) * 1e6:.0f} µs per command); "
                         f"errors {o['errors']}" +
                         (f" (first: {o['first_error']})" if o["errors"] else ""))
        lines.append("")
    pop = res.get("pop3")
    if pop:
        lines += [f"### POP3 RETR: {args.pop3_sessions} sessions, every message of a "
                  "mailbox per login, nothing deleted", ""]
        head = ["server", "messages/s", "MB/s", "RETR p50/p99 ms", "load-gen CPU %",
                "server CPU %", "errors"]
        rows = []
        for n, o in pop.items():
            r = o["commands"].get("retr", {})
            rows.append([n, f"{o['ops']:.0f} ({o['spread'][0]:.0f}–{o['spread'][1]:.0f})",
                         f"{o['mbps']:.1f}",
                         f"{r.get('p50', 0):.2f} / {r.get('p99', 0):.2f}",
                         f"{(o['cpu_user'] + o['cpu_sys']) / o['elapsed'] * 100:.0f}",
                         f"{o['server_cpu'] / o['elapsed'] * 100:.0f}",
                         str(o["errors"]) + (f" ({o['first_error']})" if o["errors"] else "")])
        if "Mailroom" in pop and "Dovecot" in pop:
            rows.append(["ratio Mailroom/Dovecot", ratio(pop["Mailroom"]["ops"],
                                                         pop["Dovecot"]["ops"]),
                         ratio(pop["Mailroom"]["mbps"], pop["Dovecot"]["mbps"]),
                         "", "", "", ""])
        lines += [md_table(head, rows), ""]
    idle = res.get("idle")
    if idle:
        idle, pair = idle
        lines += [f"### IDLE: {args.connections} connections asked for", ""]
        head = ["server", "held (in IDLE)", "connected at the reading", "processes", "Pss KiB/conn", "kernel KiB/conn",
                "total KiB/conn", "goal ≤ 8 KB", "setup s"]
        head.append("inotify instances per uid")
        rows = []
        for n, r in idle.items():
            if "failed_run" in r:
                rows.append([n, "failed: " + r["failed_run"][:200]] + [""] * (len(head) - 2))
                continue
            p, k, t = per_conn(r, pair)
            rows.append([n, f"{r['n']}" + (f" ({r['failed']} failed)" if r["failed"] else ""),
                         r["connected"], r["processes"], f"{p:.1f}", f"{k:.1f}", f"{t:.1f}",
                         "yes" if t * 1024 <= 8000 else "no", f"{r['setup_s']:.1f}",
                         r.get("inotify_limit", "?")])
        lines += [md_table(head, rows), ""]
        lines.append(
            f"Kernel: the change in Slab + KernelStack + PageTables (/proc/meminfo) and TCP "
            f"buffer pages (/proc/net/sockstat) between before and during the idle run, "
            f"reclaimable caches dropped before each reading, less the client's half of a "
            f"loopback connection pair ({pair:.2f} KiB per pair, measured with no server). "
            f"System-wide counters: other work on the machine moves them.")
        for n, r in idle.items():
            if "failed_run" in r:
                continue
            kd = r["kernel"]
            lines.append(f"{n}: Pss {r['pss0'] / 1024:.1f} → {r['pss1'] / 1024:.1f} MiB; kernel "
                         f"+{kd['total'] / 1024:.1f} MiB (slab {kd['Slab'] / 1024:.1f}, "
                         f"stacks {kd['KernelStack'] / 1024:.1f}, page tables "
                         f"{kd['PageTables'] / 1024:.1f}, TCP {kd['tcp_mem'] / 1024:.1f})"
                         + (f"; errors after the reading, when told DONE and LOGOUT: "
                            f"{r['errors']} ({r['first_error']})"
                            if r.get("errors") else ""))
        lines.append("")
    lines.append(load_note())
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------- main

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=40)
    p.add_argument("--messages", type=int, default=100, help="per Maildir")
    p.add_argument("--sessions", type=int, help="IMAP mix sessions (default 20)")
    p.add_argument("--cycles", type=int, default=5, help="mix cycles per login")
    p.add_argument("--pop3-sessions", type=int, help="default 10")
    p.add_argument("--seconds", type=float, default=10.0, help="per round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--connections", type=int, default=10000, help="IDLE connections")
    p.add_argument("--max-open", type=int, default=100,
                   help="idle connections being set up at once")
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds between the last IDLE and the memory reading")
    p.add_argument("--parts", default="login,mix,pop3,idle")
    p.add_argument("--no-dovecot", action="store_true")
    p.add_argument("--no-mailroom", action="store_true")
    p.add_argument("--dir", default="/var/tmp")
    p.add_argument("--out")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    p.add_argument("--tls", action="store_true",
                   help="implicit TLS (imaps, pop3s) with a throwaway certificate on both")
    p.add_argument("--keep-inotify-limit", action="store_true",
                   help="do not raise fs.inotify.max_user_instances for Dovecot's IDLE runs")
    a = p.parse_args()
    a.parts = [x for x in a.parts.split(",") if x]
    if set(a.parts) - {"login", "mix", "pop3", "idle"}:
        p.error("--parts: login, mix, pop3, idle")
    if not 1 <= a.users <= 5000 or not 1 <= a.messages <= 10000:
        p.error("--users 1..5000, --messages 1..10000")
    a.sessions = a.sessions or min(20, a.users)
    a.pop3_sessions = a.pop3_sessions or min(10, a.users)
    if not 1 <= a.sessions <= a.users or not 1 <= a.pop3_sessions <= a.users:
        p.error("--sessions and --pop3-sessions: 1..--users (one session per mailbox)")
    if not 0.5 <= a.seconds <= 600 or not 1 <= a.rounds <= 15 or not 1 <= a.cycles <= 1000:
        p.error("--seconds 0.5..600, --rounds 1..15, --cycles 1..1000")
    if not 1 <= a.connections <= 100000:
        p.error("--connections 1..100000")
    return a


def run(args, log):
    if not os.access(LOAD, os.X_OK):
        raise BenchError(f"{LOAD} missing: build first (make -C build)")
    if os.geteuid() != 0:
        raise BenchError("run as root (Dovecot's master needs it)")
    why, classes = [], []
    if args.no_mailroom:
        why.append("Mailroom: --no-mailroom given")
    elif not (os.access(MBS, os.X_OK) and os.access(AUTHD, os.X_OK)):
        why.append(f"Mailroom: {MBS} not built")
    else:
        classes.append(Mailroom)
    if args.no_dovecot:
        why.append("Dovecot: --no-dovecot given")
    elif not os.access(DOVECOT, os.X_OK):
        why.append("Dovecot: not installed (dovecot-core, dovecot-imapd, dovecot-pop3d)")
    else:
        classes.append(Dovecot)
    if not classes:
        raise BenchError("nothing to measure: " + "; ".join(why))
    # One descriptor per connection in imap-load and in mailroom-mbs (each
    # of Dovecot's imap processes has its own few).
    nofile = raise_nofile(args.connections + 1000)
    log(f"RLIMIT_NOFILE: {nofile} per process")
    args.nofile = nofile
    if nofile < args.connections + 100:
        raise BenchError(f"RLIMIT_NOFILE {nofile} is too low for --connections "
                         f"{args.connections}: at most {nofile - 100} here")
    top = tempfile.mkdtemp(prefix="mr-bench-mbs-", dir=args.dir)
    os.chmod(top, 0o755)
    res = {}
    try:
        if args.tls:
            args.cert, args.key = os.path.join(top, "cert.pem"), os.path.join(top, "key.pem")
            make_cert(f"mail.{DOMAIN}", args.cert, args.key)
            os.chmod(args.key, 0o644)  # a throwaway key; Dovecot reads it as root
        template = os.path.join(top, "template")
        nbytes = make_template(template, args.users, args.messages)
        users = users_file(top, args.users)
        log(f"mail: {args.users} Maildirs of {args.messages} messages "
            f"({nbytes / 1048576:.1f} MiB each)")
        if set(args.parts) & {"login", "mix", "pop3"}:
            with contextlib.ExitStack() as stack:
                servers = []
                for cls in classes:
                    try:
                        servers.append(stack.enter_context(cls(top, template, args)))
                    except BenchError as e:
                        if cls is Dovecot or len(classes) == 1:
                            raise
                        why.append(f"{cls.name}: {e}")
                        log(f"{cls.name} cannot be measured: {e}")
                for s in servers:
                    warm(s, users, args, log)
                if "login" in args.parts:
                    res["login"] = run_mix(servers, users, args, log, "login")
                if "mix" in args.parts:
                    res["mix"] = run_mix(servers, users, args, log)
                if "pop3" in args.parts:
                    for s in servers:
                        if not s.pop3:
                            why.append(f"{s.name}: POP3 (no pop3 listener in this build)")
                    res["pop3"] = run_pop3(servers, users, args, log)
            for s in servers:
                if not args.keep:
                    shutil.rmtree(s.dir, ignore_errors=True)
        if "idle" in args.parts:
            idle_classes = list(classes)
            if Dovecot in classes:
                idle_classes.append(DovecotHibernate)
            res["idle"] = run_idle(idle_classes, top, template, users, args, log)
    finally:
        if args.keep:
            log(f"kept {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)
    return res, why, nbytes


def main():
    args = parse_args()
    return bench_main(args, lambda log: run(args, log), lambda r: report(args, *r))


if __name__ == "__main__":
    sys.exit(main())
