#!/usr/bin/env python3
"""Throughput of mailroom-mta next to Postfix, both delivering to Maildirs.

Postfix's smtp-source drives, on loopback and with the same arguments,

  Mailroom  mailroom-authd (passwd-file backend) and mailroom-mta: group
            commit into the queue, local delivery into Maildirs
  Postfix   a private instance (postfix -c DIR): smtpd, cleanup, qmgr and
            the virtual(8) agent delivering into Maildirs

For each message size, rounds alternate between the two.  A round times
(a) smtp-source until it exits: every message has had its 250, so it is on
disk (accepted/s), and (b) until every message is a file in a Maildir
new/ directory (delivered/s, end to end).  Peak RSS is the most seen of
the sum of VmHWM over the daemons' processes, sampled during the round.

Nothing here is a test: it prints figures and ratios (Mailroom/Postfix,
same machine, same run).  Every loop is bounded in time and count, all
traffic stays on 127.0.0.1, and every process started is ended on exit,
Ctrl-C included.
"""
import argparse
import datetime
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, BENCH)
import mrtest  # noqa: E402  (free_port, wait_port)
from benchlib import (Started, bench_main, BenchError, children_of, end_group, machine,  # noqa: E402
                      port_open, proc_mem, pss_kib, running, tail, wait_for, write)

BUILD = os.environ.get("MR_BUILD", os.path.join(TOP, "build"))
AUTHD = os.path.join(BUILD, "authd", "mailroom-authd")
MTA = os.path.join(BUILD, "mta", "mailroom-mta")
SMTP_SOURCE = "/usr/sbin/smtp-source"
POSTFIX = "/usr/sbin/postfix"
DOMAIN = "bench.test"
SENDER = "sender@remote.test"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
SOURCE_TIMEOUT = 900.0    # one smtp-source run
DELIVERY_TIMEOUT = 600.0  # after smtp-source, for the last Maildir file
SAMPLE_EVERY = 0.1        # seconds between RSS samples and Maildir counts
VMAIL_UID = 65534         # Postfix's virtual agent refuses root: nobody


def mailbox(i):
    return f"u{i:03d}@{DOMAIN}"


def recipient(n, mailboxes):
    """smtp-source -N numbers recipients 1, 2, ...: "{n}rcpt@bench.test",
    an alias on both sides for one of the mailboxes."""
    return f"{n}rcpt@{DOMAIN}", mailbox(n % mailboxes)


def count_new(root):
    """Files in every Maildir new/ under root (a few levels, bounded)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if os.path.basename(dirpath) == "new":
            total += len(filenames)
            dirnames[:] = []
        elif dirpath.count(os.sep) - root.count(os.sep) >= 4:
            dirnames[:] = []
    return total


class Side(Started):
    """A system under test in its own dir below the run's temp dir."""

    name = "?"

    def __init__(self, top, mailboxes, max_messages):
        self.dir = os.path.join(top, self.name.lower())
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        self.mailboxes, self.max_messages = mailboxes, max_messages
        self.port = mrtest.free_port()
        self.vmail = os.path.join(self.dir, "vmail")

    def pids(self):
        raise NotImplementedError

    def memory_kib(self):
        """(sum of VmHWM, sum of Pss) over the side's processes now."""
        pids = self.pids()
        return sum(proc_mem(p)[1] for p in pids), sum(pss_kib(p) for p in pids)

    def delivered(self):
        return count_new(self.vmail)


class Mailroom(Side):
    name = "Mailroom"

    def __init__(self, *a):
        super().__init__(*a)
        self.authd = self.mta = None

    def spawn(self, name, argv):
        log = os.path.join(self.dir, name + ".log")
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True)
        return proc, log

    def start(self):
        d = self.dir
        os.mkdir(self.vmail, 0o700)
        os.mkdir(os.path.join(d, "queue"), 0o700)
        write(os.path.join(d, "users"), "".join(
            f"{mailbox(i)}:{{PLAIN}}x\n" for i in range(self.mailboxes)), 0o600)
        write(os.path.join(d, "aliases"), "".join(
            "%s: %s\n" % recipient(n, self.mailboxes)
            for n in range(1, self.max_messages + 1)), 0o600)
        write(os.path.join(d, "domains"), DOMAIN + "\n", 0o600)
        write(os.path.join(d, "authd.conf"), f"""\
listen = {d}/lookup mode=0600 service=lookup
user =
log_dest = stderr
log_level = info
pid_file = {d}/authd.pid
mail_root = {self.vmail}
backend = passwd-file
passwd_file = {d}/users
passwd_file_aliases = {d}/aliases
passwd_file_domains = {d}/domains
""", 0o600)
        self.authd, alog = self.spawn("authd", [AUTHD, "--foreground", "--config",
                                                f"{d}/authd.conf"])
        wait_for(lambda: os.path.exists(f"{d}/lookup") and "started" in tail(alog),
                 self.authd, "mailroom-authd", alog)
        write(os.path.join(d, "mta.conf"), f"""\
listen = 127.0.0.1:{self.port} service=smtp
hostname = mx.{DOMAIN}
user =
log_dest = stderr
pid_file = {d}/mta.pid
authd_lookup_socket = {d}/lookup
authd_auth_socket =
queue_directory = {d}/queue
rate_limit_per_minute = 0
max_connections_per_ip = 0
delivery_concurrency = 20
delivery_hold = no
""", 0o600)
        self.mta, mlog = self.spawn("mta", [MTA, "--foreground", "--config", f"{d}/mta.conf"])
        wait_for(lambda: port_open(self.port), self.mta, "mailroom-mta", mlog)

    def pids(self):
        return [p.pid for p in (self.mta, self.authd) if p and p.poll() is None]

    def check_alive(self):
        for proc, what in ((self.authd, "authd"), (self.mta, "mta")):
            if proc.poll() is not None:
                raise BenchError(f"mailroom-{what} exited:\n"
                                 f"{tail(os.path.join(self.dir, what + '.log'))}")

    def stop(self):
        end_group(self.mta)
        end_group(self.authd)
        self.mta = self.authd = None


POSTFIX_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
postlog unix-dgram n - n - 1 postlogd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
"""


class Postfix(Side):
    name = "Postfix"

    def __init__(self, *a):
        super().__init__(*a)
        self.etc = os.path.join(self.dir, "etc")
        self.started = False

    def postfix(self, *args, check=True):
        r = subprocess.run([POSTFIX, "-c", self.etc, *args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=STOP_TIMEOUT * 3)
        if check and r.returncode != 0:
            raise BenchError(f"postfix {' '.join(args)} failed: {r.stdout}\n"
                             f"{tail(os.path.join(self.dir, 'maillog'))}")
        return r

    def start(self):
        d = self.dir
        spool, data = os.path.join(d, "spool"), os.path.join(d, "data")
        for sub in (self.etc, spool, data, self.vmail):
            os.mkdir(sub, 0o755)
        shutil.chown(data, "postfix")
        os.chown(self.vmail, VMAIL_UID, VMAIL_UID)
        write(os.path.join(self.etc, "vmailbox"), "".join(
            f"{mailbox(i)} {DOMAIN}/{mailbox(i).split('@')[0]}/\n"
            for i in range(self.mailboxes)))
        write(os.path.join(self.etc, "valias"), "".join(
            "%s %s\n" % recipient(n, self.mailboxes)
            for n in range(1, self.max_messages + 1)))
        write(os.path.join(self.etc, "main.cf"), f"""\
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.{DOMAIN}
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {self.vmail}
virtual_mailbox_maps = texthash:{self.etc}/vmailbox
virtual_alias_maps = texthash:{self.etc}/valias
virtual_uid_maps = static:{VMAIL_UID}
virtual_gid_maps = static:{VMAIL_UID}
virtual_minimum_uid = 100
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
""")
        write(os.path.join(self.etc, "master.cf"), POSTFIX_MASTER_CF.format(port=self.port))
        self.started = True
        self.postfix("start")
        deadline = time.monotonic() + START_TIMEOUT
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise BenchError(f"postfix not listening after {START_TIMEOUT:.0f}s:\n"
                                 f"{tail(os.path.join(d, 'maillog'))}")
            time.sleep(0.05)

    def master(self):
        try:
            with open(os.path.join(self.dir, "spool", "pid", "master.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if running(pid) else None

    def pids(self):
        m = self.master()
        return [m] + children_of(m) if m else []

    def check_alive(self):
        if self.master() is None:
            raise BenchError(f"postfix master exited:\n{tail(os.path.join(self.dir, 'maillog'))}")

    def stop(self):
        if not self.started:
            return
        self.started = False
        pid = self.master()
        try:
            self.postfix("stop", check=False)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while pid and time.monotonic() < deadline:
            if not running(pid):
                return
            time.sleep(0.1)
        if pid:  # stop did not work in time: end master and children
            for p in [pid] + children_of(pid):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass


class Sampler(threading.Thread):
    """Peaks of the summed VmHWM and Pss of a side's processes, sampled
    every SAMPLE_EVERY s (Postfix's processes come and go)."""

    def __init__(self, side):
        super().__init__(daemon=True)
        self.side, self.hwm, self.pss = side, 0, 0
        self.done = threading.Event()

    def sample(self):
        hwm, pss = self.side.memory_kib()
        self.hwm, self.pss = max(self.hwm, hwm), max(self.pss, pss)

    def run(self):
        while not self.done.is_set():
            self.sample()
            self.done.wait(SAMPLE_EVERY)

    def finish(self):
        self.done.set()
        self.join(timeout=5)
        self.sample()
        return self.hwm, self.pss


def one_round(side, size, messages, sessions, log):
    """Returns (accepted/s, delivered/s, (peak VmHWM, peak Pss) in KiB);
    raises on a failure."""
    side.check_alive()
    before = side.delivered()
    argv = [SMTP_SOURCE, "-4", "-N", "-s", str(sessions), "-m", str(messages),
            "-l", str(size), "-M", "client.remote.test", "-f", SENDER,
            "-t", f"rcpt@{DOMAIN}", f"127.0.0.1:{side.port}"]
    sampler = Sampler(side)
    sampler.start()
    t0 = time.monotonic()
    src = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = src.communicate(timeout=SOURCE_TIMEOUT)
    except BaseException:
        end_group(src)
        sampler.finish()
        raise
    t_accept = time.monotonic() - t0
    if src.returncode != 0:
        sampler.finish()
        raise BenchError(f"smtp-source against {side.name} exited with {src.returncode}: "
                         f"{out.decode(errors='replace')[-2000:]}")
    target, got = before + messages, before
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while time.monotonic() < deadline:
        got = side.delivered()
        if got >= target:
            break
        side.check_alive()
        time.sleep(SAMPLE_EVERY / 2)
    t_deliver = time.monotonic() - t0
    peak = sampler.finish()
    if got < target:
        raise BenchError(f"{side.name}: {got - before} of {messages} messages in Maildirs "
                         f"after {DELIVERY_TIMEOUT:.0f}s")
    log(f"  {side.name:8} {size:>7} B: accepted {messages / t_accept:8.1f}/s "
        f"({t_accept:.2f}s), delivered {messages / t_deliver:8.1f}/s ({t_deliver:.2f}s), "
        f"peak RSS {peak[0] / 1024:.1f} MiB (Pss {peak[1] / 1024:.1f})")
    return messages / t_accept, messages / t_deliver, peak


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=None,
                   help="messages per round (default: 500 at 1 KiB, 200 above)")
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--sizes", default="1024,102400", help="bytes, comma-separated")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds per size")
    p.add_argument("--mailboxes", type=int, default=50)
    p.add_argument("--out", help="also write the markdown report here")
    p.add_argument("--dir", default="/var/tmp",
                   help="parent of the temp dir (queues and Maildirs; a real disk)")
    a = p.parse_args()
    try:
        a.sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    except ValueError:
        p.error("--sizes takes integers")
    if not a.sizes or any(not 1 <= s <= 10 << 20 for s in a.sizes):
        p.error("--sizes: 1 byte to 10 MiB each")
    if a.messages is not None and not 1 <= a.messages <= 100000:
        p.error("--messages: 1 to 100000")
    if not 1 <= a.sessions <= 200 or not 1 <= a.rounds <= 20 or not 1 <= a.mailboxes <= 10000:
        p.error("--sessions 1..200, --rounds 1..20, --mailboxes 1..10000")
    return a


def messages_for(args, size):
    if args.messages is not None:
        return args.messages
    return 500 if size <= 1024 else 200


def run(args, log):
    for path in (AUTHD, MTA):
        if not os.access(path, os.X_OK):
            raise BenchError(f"{path} missing: build first (scripts/setup)")
    for path in (SMTP_SOURCE, POSTFIX):
        if not os.access(path, os.X_OK):
            raise BenchError(f"{path} missing: install postfix (scripts/setup)")
    if os.geteuid() != 0:
        raise BenchError("run as root (Postfix's master and virtual agent need it)")
    most = max(messages_for(args, s) for s in args.sizes)
    top = tempfile.mkdtemp(prefix="mr-bench-mta-", dir=args.dir)
    os.chmod(top, 0o755)
    results = {}
    try:
        with Mailroom(top, args.mailboxes, most) as mr, Postfix(top, args.mailboxes, most) as pf:
            for size in args.sizes:
                n = messages_for(args, size)
                rows = {"Mailroom": [], "Postfix": []}
                for r in range(args.rounds):
                    log(f"size {size} B, round {r + 1}/{args.rounds}, {n} messages")
                    order = (mr, pf) if r % 2 == 0 else (pf, mr)
                    for side in order:
                        rows[side.name].append(one_round(side, size, n, args.sessions, log))
                results[size] = (n, rows)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return results


def med(rows, i):
    return statistics.median(r[i] for r in rows)


def fmt_mem(rows):
    hwm, pss = max(r[2][0] for r in rows), max(r[2][1] for r in rows)
    return f"{hwm / 1024:.1f} (Pss {pss / 1024:.1f})"


def report(args, results):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    version = subprocess.run(["postconf", "-dh", "mail_version"], capture_output=True,
                             text=True, timeout=30).stdout.strip() or "?"
    lines = [
        f"{now}. Machine: {machine()}. Postfix {version}.",
        f"smtp-source -s {args.sessions} -N (one message per connection, one recipient "
        f"each, spread over {args.mailboxes} mailboxes through aliases), "
        f"{args.rounds} round(s) per size alternating between the two "
        "(the median round).",
        "",
        "| size | messages | Mailroom accepted/s | Postfix accepted/s | ratio | "
        "Mailroom delivered/s | Postfix delivered/s | ratio | Mailroom peak RSS MiB | "
        "Postfix peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, (n, rows) in results.items():
        mr, pf = rows["Mailroom"], rows["Postfix"]
        ma, pa, md, pd = med(mr, 0), med(pf, 0), med(mr, 1), med(pf, 1)
        lines.append(
            f"| {size / 1024:g} KiB | {n} | {ma:.0f} | {pa:.0f} | {ma / pa:.2f} | "
            f"{md:.0f} | {pd:.0f} | {md / pd:.2f} | {fmt_mem(mr)} | {fmt_mem(pf)} |")
    lines += ["", "Ratios are Mailroom/Postfix. RSS: the most seen of the sum of VmHWM over "
              "the processes (Mailroom: mta + authd; Postfix: master and every child alive "
              "at a sample, so libraries count once per process); in brackets the most "
              "seen of the sum of Pss, which shares them out."]
    try:
        lines.append(f"Load average at the end: {os.getloadavg()[0]:.1f} on "
                     f"{os.cpu_count()} cores.")
    except OSError:
        pass
    return "\n".join(lines) + "\n"


def main():
    args = parse_args()
    return bench_main(args, lambda log: run(args, log), lambda r: report(args, r))


if __name__ == "__main__":
    sys.exit(main())
