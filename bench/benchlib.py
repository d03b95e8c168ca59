"""What the benches share: processes, memory, machine, ratios.

Started processes live in their own process group and are ended with it;
memory is read from /proc (VmRSS/VmHWM, Pss from smaps_rollup, the
kernel's share from /proc/meminfo and /proc/net/sockstat).  Nothing here
opens a network connection other than to 127.0.0.1.
"""
import os
import platform
import resource
import signal
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import mrtest  # noqa: E402  (free_port, wait_port)
import services  # noqa: E402  (a private MariaDB; the log tail helper)

BUILD = os.environ.get("MR_BUILD", os.path.join(TOP, "build"))
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
DOVECOT_BIN = "/usr/sbin/dovecot"


class Started:
    """A with block around start() and stop(); stop() also runs when
    start() fails half-way."""

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class BenchError(Exception):
    pass


# The last lines of a log, as services.py shows them on failure.
tail = services._tail


# ------------------------------------------------------------- processes

def proc_mem(pid):
    """(VmRSS, VmHWM) of pid in KiB, or (0, 0) when it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def pss_kib(pid):
    """Proportional set size: shared pages split among their users, so a
    sum over many processes does not count libraries once per process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def children_of(pid):
    """Every descendant of pid (from /proc), breadth first."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                parent[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    kids_of = {}
    for c, pp in parent.items():
        kids_of.setdefault(pp, []).append(c)
    out, todo = [], [pid]
    while todo and len(out) < 100000:
        p = todo.pop(0)
        kids = kids_of.get(p, [])
        out += kids
        todo += kids
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def running(pid):
    """pid exists and is not a zombie: a daemonized master is nobody's
    child here, and a PID 1 that does not reap leaves it as one."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def end_group(proc, timeout=STOP_TIMEOUT):
    """SIGTERM the process group of proc, then SIGKILL; waits bounded."""
    if proc is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children that outlive the leader stay in its group: end them too.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_for(check, proc, what, log, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with {proc.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not ready after {timeout:.0f}s:\n{tail(log)}")
        time.sleep(0.05)


def spawn(argv, log, **kw):
    """argv in its own session (process group), output appended to log."""
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, **kw)


def port_open(port):
    try:
        mrtest.wait_port("127.0.0.1", port, timeout=0.2)
        return True
    except TimeoutError:
        return False


def free_port():
    return mrtest.free_port()


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def raise_nofile(want):
    """Raises this process's RLIMIT_NOFILE (children inherit it) towards
    want; returns the soft limit reached."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    if hard < want and os.geteuid() == 0:
        try:
            with open("/proc/sys/fs/nr_open") as f:
                hard = max(hard, min(want, int(f.read())))
        except (OSError, ValueError):
            pass
    new = min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, soft if soft > 0 else want),
                                                    resource.getrlimit(
                                                        resource.RLIMIT_NOFILE)[1]))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ------------------------------------------------------------- memory

def meminfo():
    """/proc/meminfo in KiB by field name."""
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            name, rest = line.split(":", 1)
            out[name] = int(rest.split()[0])
    return out


def sockstat_tcp_kib():
    """Memory in TCP socket buffers (the 'mem' pages of /proc/net/sockstat)."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    fields = line.split()
                    pages = int(fields[fields.index("mem") + 1])
                    return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


# Kernel memory that grows with connections and processes: slab (socket,
# inode, file, epoll, task structures), kernel stacks, page tables.
KERNEL_FIELDS = ("Slab", "KernelStack", "PageTables")


def kernel_kib():
    m = meminfo()
    fields = {k: m.get(k, 0) for k in KERNEL_FIELDS}
    fields["tcp_mem"] = sockstat_tcp_kib()
    fields["total"] = sum(fields[k] for k in KERNEL_FIELDS) + fields["tcp_mem"]
    return fields


def drop_caches():
    """Reclaimable slab (dentries, inodes) moves with other work on the
    machine; shrink it before a kernel memory reading (root only)."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
    except OSError:
        pass


# ------------------------------------------------------------- reporting

def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}"


def dovecot_version():
    try:
        res = subprocess.run(["dovecot", "--version"], capture_output=True, text=True,
                             timeout=10, env=dict(os.environ, PATH=os.environ.get(
                                 "PATH", "") + ":/usr/sbin"))
        return res.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def pct(sorted_values, p):
    """The p-th percentile of sorted seconds, in ms."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))
    return sorted_values[k] * 1000.0


def ratio(a, b):
    """a/b as text, or n/a."""
    if a is None or b is None or not b:
        return "n/a"
    return f"{a / b:.2f}"


def md_table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def load_note():
    try:
        return f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    except OSError:
        return ""


def bench_main(args, measure, report, errors=()):
    """A bench's main(): SIGTERM stops it as ^C does, measure(log) runs
    the bench (everything it started is stopped on the way out), then
    report(result) is printed and written to args.out. Exit status 0,
    1 on BenchError (or one of errors), 130 when interrupted."""
    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    try:
        result = measure(log)
    except KeyboardInterrupt:
        log("interrupted; everything started has been stopped")
        return 130
    except (BenchError,) + tuple(errors) as e:
        log(f"bench failed: {e}")
        return 1
    text = report(result)
    print(text, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0
