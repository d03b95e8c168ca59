"""Shared helpers for Mailroom's Python integration tests.

Paths come from the environment that `make check` sets (top_builddir,
top_srcdir); run by hand, they default to the current directory.
"""
import os
import random
import socket
import subprocess
import time

BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
SRCDIR = os.path.abspath(os.environ.get("top_srcdir", "."))


class LineClient:
    """A protocol spoken by hand on a socket: CRLF lines in, bytes out.
    Bytes read past a line stay in buf for the next read."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed; buffered {self.buf[-200:]!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")


def make_cert(cn, cert, key, days=2):
    """A self-signed RSA certificate for cn (also its subjectAltName)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days),
         "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn,
         "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def ephemeral_low():
    """The lowest port the kernel hands out to outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host, picked below the
    kernel's ephemeral range: a port the kernel hands out to outgoing
    connections could be taken by any client before the daemon binds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    high = min(ephemeral_low(), 65536) - 1
    for _ in range(50):
        port = random.randint(20000, high) if high > 20000 else 0
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=10.0):
    """Wait until something accepts on host:port; raise on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port}")
            time.sleep(0.05)


def wait_path(path, timeout=10.0):
    """Wait until path exists; raise on timeout."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)


def stop_process(pid, timeout=10.0):
    """SIGSTOP pid and wait until every one of its threads is stopped, so a
    test's next request cannot be served by a thread still running."""
    import signal
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    task_dir = f"/proc/{pid}/task"
    while True:
        states = []
        for tid in os.listdir(task_dir):
            try:
                with open(f"{task_dir}/{tid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                continue
        if states and all(s in ("T", "t") for s in states):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"pid {pid} did not stop: {states}")
        time.sleep(0.01)
