"""The daemon skeleton, connection layer and TLS, driven through
mailroom-testd with Python's own socket and ssl modules as clients."""
import atexit
import os
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest

from mrtest import BUILDDIR, free_port, make_cert, wait_path, wait_port

TESTD = os.path.join(BUILDDIR, "tests", "testd", "mailroom-testd")
TMP = None
TIMEOUT = 10


def setup_tmp():
    """Certificates for every test (taprun loads this file without
    module fixtures, so classes call this; it runs once)."""
    global TMP
    if TMP is not None:
        return
    TMP = tempfile.TemporaryDirectory(prefix="mr-skeleton-")
    atexit.register(TMP.cleanup)
    d = TMP.name
    os.mkdir(os.path.join(d, "sni"))
    make_cert("localhost", os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
    for name in ("mail.example.test", "*.wild.test"):
        pem = os.path.join(d, "sni", name + ".pem")
        make_cert(name, pem, pem + ".key")
        with open(pem, "a") as out, open(pem + ".key") as key:
            out.write(key.read())
        os.unlink(pem + ".key")


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def client_ctx(minv=None, maxv=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    return ctx


class Daemon:
    """One mailroom-testd in the foreground with its own config file."""

    def __init__(self, name, settings, listen, args=(), spawn=True):
        self.dir = os.path.join(TMP.name, name)
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "testd.conf")
        self.log = os.path.join(self.dir, "log")
        self.write_config(settings, listen)
        self.proc = None
        if not spawn:
            return
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [TESTD, "--foreground", "--config", self.config, *args],
                stdout=log, stderr=log)
        for spec in listen:
            addr = spec.split()[0]
            if addr.startswith("/"):
                wait_path(addr)
            else:
                host, port = addr.rsplit(":", 1)
                wait_port(host.replace("*", "127.0.0.1"), int(port))
        self.wait_log("started listeners=")

    def wait_log(self, text):
        """Wait for text in the log: ports open before privileges drop."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log) as f:
                if text in f.read():
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{text!r} not logged in {self.log}")

    def write_config(self, settings, listen):
        base = {"user": "", "log_dest": "stderr", "log_level": "debug",
                "tls_cert": os.path.join(TMP.name, "cert.pem"),
                "tls_key": os.path.join(TMP.name, "key.pem"),
                "tls_cert_dir": os.path.join(TMP.name, "sni")}
        base.update(settings)
        with open(self.config, "w") as f:
            for key, value in base.items():
                f.write(f"{key} = {value}\n")
            for spec in listen:
                f.write(f"listen = {spec}\n")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def status(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split()[1:]
        raise KeyError(field)


class Client:
    """A line client over a connected (possibly TLS) socket."""

    def __init__(self, sock):
        sock.settimeout(TIMEOUT)
        self.sock = sock
        self.buf = b""

    @classmethod
    def tcp(cls, port, host="127.0.0.1", source=None):
        return cls(socket.create_connection(
            (host, port), timeout=TIMEOUT,
            source_address=(source, 0) if source else None))

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.line()

    def info(self):
        reply = self.cmd("INFO")
        self_ok = reply.startswith("+OK ")
        assert self_ok, reply
        return dict(kv.split("=", 1) for kv in reply[4:].split())

    def closed_without_reply(self):
        """True when the server closes (or resets) without sending data."""
        try:
            return self.sock.recv(100) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class SharedDaemonTest(unittest.TestCase):
    """Tests that can share one running daemon."""

    @classmethod
    def setUpClass(cls):
        setup_tmp()
        cls.ports = {k: free_port() for k in ("plain", "tls", "starttls", "proxy")}
        cls.sock_path = os.path.join(TMP.name, "shared", "testd.sock")
        os.makedirs(os.path.dirname(cls.sock_path), exist_ok=True)
        p = cls.ports
        cls.d = Daemon("shared", {"proxy_trusted_networks": "127.0.0.2/32"}, [
            f"127.0.0.1:{p['plain']}",
            f"127.0.0.1:{p['tls']} tls=implicit",
            f"127.0.0.1:{p['starttls']} tls=starttls service=testd",
            f"*:{p['proxy']} proxy_protocol=yes",
            f"{cls.sock_path} mode=0600",
        ])

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        # Non-zero would also be how a sanitizer build reports a finding.
        if cls.d.proc.returncode != 0:
            with open(cls.d.log) as f:
                raise AssertionError(f"shared daemon exited {cls.d.proc.returncode}:\n"
                                     + f.read()[-3000:])

    def plain(self, **kw):
        c = Client.tcp(self.ports["plain"], **kw)
        self.addCleanup(c.close)
        self.assertEqual(c.line(), "+OK testd ready")
        return c

    def tls(self, ctx=None, sni=None):
        ctx = ctx or client_ctx()
        raw = socket.create_connection(("127.0.0.1", self.ports["tls"]), timeout=TIMEOUT)
        c = Client(ctx.wrap_socket(raw, server_hostname=sni))
        self.addCleanup(c.close)
        return c

    # ------------------------------------------------------------- TLS

    def test_implicit_tls_echo(self):
        c = self.tls()
        self.assertEqual(c.line(), "+OK testd ready")
        self.assertEqual(c.cmd("ECHO over tls"), "+OK over tls")
        self.assertTrue(c.info()["tls"].startswith("TLSv1."))

    def test_tls11_refused(self):
        ctx = client_ctx(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with self.assertRaises(ssl.SSLError) as cm:
            self.tls(ctx).line()
        # Refused by the server's alert, not by our own client settings.
        self.assertNotIn("NO_PROTOCOLS_AVAILABLE", str(cm.exception))
        self.assertTrue("PROTOCOL_VERSION" in str(cm.exception)
                        or "UNSUPPORTED_PROTOCOL" in str(cm.exception), cm.exception)

    def test_tls12_and_tls13_accepted(self):
        for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                              (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            c = self.tls(client_ctx(version, version))
            self.assertEqual(c.line(), "+OK testd ready")
            self.assertEqual(c.info()["tls"], name)

    def peer_cn(self, sni):
        c = self.tls(sni=sni)
        c.line()
        der = c.sock.getpeercert(binary_form=True)
        pem = ssl.DER_cert_to_PEM_cert(der)
        out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem,
                             capture_output=True, text=True, check=True).stdout
        return out.strip().split("CN", 1)[1].lstrip(" =")

    def test_sni_selects_certificate(self):
        self.assertEqual(self.peer_cn("mail.example.test"), "mail.example.test")
        self.assertEqual(self.peer_cn("MAIL.Example.TEST"), "mail.example.test")
        self.assertEqual(self.peer_cn("imap.wild.test"), "*.wild.test")
        self.assertEqual(self.peer_cn("unknown.test"), "localhost")
        self.assertEqual(self.peer_cn(None), "localhost")

    def test_sni_reported(self):
        c = self.tls(sni="mail.example.test")
        c.line()
        self.assertEqual(c.info()["sni"], "mail.example.test")

    def test_starttls(self):
        c = Client.tcp(self.ports["starttls"])
        self.addCleanup(c.close)
        self.assertEqual(c.line(), "+OK testd ready")
        self.assertEqual(c.info()["tls"], "no")
        self.assertEqual(c.cmd("STARTTLS"), "+OK begin TLS")
        c.sock = client_ctx().wrap_socket(c.sock)
        self.assertEqual(c.cmd("ECHO secret"), "+OK secret")
        self.assertTrue(c.info()["tls"].startswith("TLSv1."))

    def test_starttls_drops_pipelined_input(self):
        c = Client.tcp(self.ports["starttls"])
        self.addCleanup(c.close)
        c.line()
        c.send(b"STARTTLS\r\nECHO injected\r\n")
        self.assertEqual(c.line(), "+OK begin TLS")
        self.assertEqual(c.buf, b"")
        c.sock = client_ctx().wrap_socket(c.sock)
        # The next reply must answer this command, not the injected one.
        self.assertEqual(c.cmd("ECHO after"), "+OK after")

    def test_starttls_unavailable_on_plain_listener(self):
        c = self.plain()
        self.assertEqual(c.cmd("STARTTLS"), "-ERR TLS not available")
        self.assertEqual(c.cmd("ECHO still plain"), "+OK still plain")

    # ----------------------------------------------------------- PROXY

    def proxy_client(self, header, source="127.0.0.2"):
        c = Client.tcp(self.ports["proxy"], source=source)
        self.addCleanup(c.close)
        c.send(header)
        return c

    def test_proxy_v1(self):
        c = self.proxy_client(b"PROXY TCP4 192.0.2.7 192.0.2.1 40000 25\r\n")
        self.assertEqual(c.line(), "+OK testd ready")
        info = c.info()
        self.assertEqual((info["rip"], info["rport"], info["proxied"]),
                         ("192.0.2.7", "40000", "yes"))
        self.assertEqual((info["lip"], info["lport"]), ("192.0.2.1", "25"))

    def v2(self, command, family, addrs):
        sig = b"\r\n\r\n\x00\r\nQUIT\n"
        return sig + bytes([0x20 | command, family]) + struct.pack("!H", len(addrs)) + addrs

    def test_proxy_v2(self):
        addrs = socket.inet_aton("198.51.100.9") + socket.inet_aton("203.0.113.5") + \
            struct.pack("!HH", 50000, 143)
        c = self.proxy_client(self.v2(1, 0x11, addrs) + b"INFO\r\n")
        self.assertEqual(c.line(), "+OK testd ready")
        info = dict(kv.split("=", 1) for kv in c.line()[4:].split())
        self.assertEqual((info["rip"], info["rport"], info["proxied"]),
                         ("198.51.100.9", "50000", "yes"))

    def test_proxy_v2_ipv6(self):
        addrs = socket.inet_pton(socket.AF_INET6, "2001:db8::7") + \
            socket.inet_pton(socket.AF_INET6, "2001:db8::1") + struct.pack("!HH", 4242, 993)
        c = self.proxy_client(self.v2(1, 0x21, addrs))
        c.line()
        info = c.info()
        self.assertEqual((info["rip"], info["rport"]), ("2001:db8::7", "4242"))

    def test_proxy_v2_local_keeps_peer(self):
        c = self.proxy_client(self.v2(0, 0x00, b""))
        self.assertEqual(c.line(), "+OK testd ready")
        info = c.info()
        self.assertEqual((info["rip"], info["proxied"]), ("127.0.0.2", "no"))

    def test_proxy_header_from_untrusted_refused(self):
        try:
            c = self.proxy_client(b"PROXY TCP4 192.0.2.7 192.0.2.1 40000 25\r\nINFO\r\n",
                                  source="127.0.0.3")
        except (ConnectionResetError, BrokenPipeError):
            return  # refused before the header was even sent
        self.assertTrue(c.closed_without_reply())

    def test_proxy_trusted_without_header_refused(self):
        c = self.proxy_client(b"INFO\r\n")
        self.assertTrue(c.closed_without_reply())

    def test_proxy_header_trickled(self):
        c = self.proxy_client(b"")
        for b in b"PROXY TCP4 192.0.2.8 192.0.2.1 40001 25\r\n":
            c.send(bytes([b]))
            time.sleep(0.001)
        self.assertEqual(c.line(), "+OK testd ready")
        self.assertEqual(c.info()["rip"], "192.0.2.8")

    # ------------------------------------------------------ line protocol

    def test_plain_info_and_unknown(self):
        c = self.plain()
        info = c.info()
        self.assertEqual((info["tls"], info["rip"], info["proxied"]), ("no", "127.0.0.1", "no"))
        self.assertEqual(info["lport"], str(self.ports["plain"]))
        self.assertEqual(info["rport"], str(c.sock.getsockname()[1]))
        self.assertEqual(len(info["sid"]), 11)
        self.assertEqual(c.cmd("FROB"), "-ERR unknown command")

    def test_overlong_line_answered_and_connection_survives(self):
        c = self.plain()
        c.send(b"ECHO " + b"x" * 5000 + b"\r\nECHO ok\r\n")
        self.assertEqual(c.line(), "-ERR line too long")
        self.assertEqual(c.line(), "+OK ok")

    def test_literal(self):
        data = os.urandom(100000)
        c = self.plain()
        c.send(b"LITERAL %d\r\n" % len(data) + data + b"ECHO next\r\n")
        self.assertEqual(c.line(), f"+OK got {len(data)} bytes sha={fnv1a(data):08x}")
        self.assertEqual(c.line(), "+OK next")

    def test_slow_pauses_pipelined_commands(self):
        c = self.plain()
        start = time.monotonic()
        c.send(b"SLOW 1\r\nECHO later\r\n")
        self.assertEqual(c.line(), "+OK slept 1")
        self.assertEqual(c.line(), "+OK later")
        self.assertGreaterEqual(time.monotonic() - start, 0.9)

    def test_quit(self):
        c = self.plain()
        self.assertEqual(c.cmd("QUIT"), "+OK bye")
        self.assertEqual(c.sock.recv(10), b"")

    def test_unix_socket(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock_path)
        c = Client(s)
        self.addCleanup(c.close)
        self.assertEqual(c.line(), "+OK testd ready")
        self.assertEqual(c.info()["rip"], "unix")
        self.assertEqual(os.stat(self.sock_path).st_mode & 0o777, 0o600)

    def test_back_pressure(self):
        total = 200_000_000
        c = self.plain()
        rss_before = int(self.d.status("VmRSS")[0])
        c.send(b"BIG %d\r\n" % total)
        time.sleep(1.5)  # the client does not read meanwhile
        rss = int(self.d.status("VmRSS")[0])
        self.assertLess(rss - rss_before, 32 * 1024, "daemon grew (kB)")
        got = 0
        last = b""
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        while got < total:
            chunk = c.sock.recv(1 << 20)
            self.assertTrue(chunk, f"EOF after {got} bytes")
            got += len(chunk)
            last = chunk
        self.assertEqual(got, total)
        self.assertTrue(last.endswith(b"\n") or total % 64 != 0)
        self.assertEqual(c.cmd("ECHO done"), "+OK done")


class OwnDaemonTest(unittest.TestCase):
    """Tests that stop, reload or reconfigure a daemon of their own."""

    @classmethod
    def setUpClass(cls):
        setup_tmp()

    def start(self, name, settings=None, listen=None, **kw):
        port = free_port()
        d = Daemon(name, settings or {}, listen or [f"127.0.0.1:{port}"], **kw)
        d.port = port
        self.addCleanup(d.stop)
        return d

    def test_graceful_stop(self):
        d = self.start("stop", {"shutdown_timeout": "5s"})
        c = Client.tcp(d.port)
        self.addCleanup(c.close)
        c.line()
        c.send(b"SLOW 2\r\n")
        time.sleep(0.3)
        start = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        refused = False
        while not refused and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", d.port), timeout=1).close()
                time.sleep(0.05)
            except ConnectionRefusedError:
                refused = True
        self.assertTrue(refused, "listener still accepting after SIGTERM")
        self.assertEqual(c.line(), "+OK slept 2")
        self.assertEqual(c.cmd("QUIT"), "+OK bye")
        self.assertEqual(d.proc.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - start, 5)

    def test_shutdown_timeout_closes_idle_sessions(self):
        d = self.start("stop-timeout", {"shutdown_timeout": "1s"})
        c = Client.tcp(d.port)
        self.addCleanup(c.close)
        c.line()
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.proc.wait(timeout=5), 0)
        self.assertTrue(c.closed_without_reply())

    def test_reload_changes_greeting(self):
        d = self.start("reload", {"greeting": "first"})
        old = Client.tcp(d.port)
        self.addCleanup(old.close)
        self.assertEqual(old.line(), "+OK first")
        d.write_config({"greeting": "second"}, [f"127.0.0.1:{d.port}"])
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        greeting = None
        while greeting != "+OK second" and time.monotonic() < deadline:
            c = Client.tcp(d.port)
            greeting = c.line()
            c.close()
            time.sleep(0.05)
        self.assertEqual(greeting, "+OK second")
        self.assertEqual(old.cmd("ECHO alive"), "+OK alive")

    def test_reload_with_bad_config_keeps_running(self):
        d = self.start("reload-bad", {"greeting": "kept"})
        with open(d.config, "a") as f:
            f.write("no_such_key = 1\n")
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        c = Client.tcp(d.port)
        self.addCleanup(c.close)
        self.assertEqual(c.line(), "+OK kept")
        with open(d.log) as f:
            self.assertIn("reload failed", f.read())

    def test_idle_timeout(self):
        d = self.start("idle", {"idle_timeout": "1s"})
        c = Client.tcp(d.port)
        self.addCleanup(c.close)
        c.line()
        start = time.monotonic()
        self.assertEqual(c.line(), "-ERR timeout")
        self.assertEqual(c.sock.recv(10), b"")
        self.assertLess(time.monotonic() - start, 3)

    def test_connection_limit_per_ip(self):
        d = self.start("limit", {"max_connections_per_ip": "2"})
        time.sleep(0.3)  # let the start-up probe connection go away
        clients = [Client.tcp(d.port) for _ in range(2)]
        for c in clients:
            self.addCleanup(c.close)
            self.assertEqual(c.line(), "+OK testd ready")
        extra = Client.tcp(d.port)
        self.addCleanup(extra.close)
        self.assertEqual(extra.line(), "-ERR too busy")
        other = Client.tcp(d.port, source="127.0.0.4")
        self.addCleanup(other.close)
        self.assertEqual(other.line(), "+OK testd ready")

    def test_pid_file(self):
        pid_file = os.path.join(TMP.name, "testd.pid")
        d = self.start("pid", {"pid_file": pid_file})
        with open(pid_file) as f:
            self.assertEqual(int(f.read()), d.proc.pid)
        second = subprocess.run(
            [TESTD, "--foreground", "--config", d.config, "-o",
             f"listen=127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=10)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn("is running", second.stderr)
        d.stop()
        self.assertEqual(d.proc.returncode, 0)
        self.assertFalse(os.path.exists(pid_file))

    def test_background_start(self):
        pid_file = os.path.join(TMP.name, "bg.pid")
        port = free_port()
        d = Daemon("bg", {"pid_file": pid_file}, [f"127.0.0.1:{port}"], spawn=False)
        run = subprocess.run([TESTD, "--config", d.config], capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(run.returncode, 0, run.stderr)
        # The starter has exited: the port must already be open.
        c = Client.tcp(port)
        self.assertEqual(c.line(), "+OK testd ready")
        c.close()
        with open(pid_file) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + TIMEOUT
        while os.path.exists(pid_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(pid_file))

    def test_stale_pid_file_replaced(self):
        pid_file = os.path.join(TMP.name, "stale.pid")
        with open(pid_file, "w") as f:
            f.write("999999999\n")
        d = self.start("stale", {"pid_file": pid_file})
        with open(pid_file) as f:
            self.assertEqual(int(f.read()), d.proc.pid)

    def test_print_defaults_loads_back(self):
        out = subprocess.run([TESTD, "--print-defaults"], capture_output=True,
                             text=True, check=True, timeout=10).stdout
        self.assertIn("greeting = testd ready", out)
        self.assertIn("tls_min_version = TLSv1.2", out)
        path = os.path.join(TMP.name, "defaults.conf")
        with open(path, "w") as f:
            f.write(out)
        check = subprocess.run([TESTD, "--check-config", "--config", path],
                               capture_output=True, text=True, timeout=10)
        self.assertEqual(check.returncode, 0, check.stderr)

    def check_config(self, text):
        path = os.path.join(TMP.name, "bad.conf")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([TESTD, "--check-config", "--config", path],
                           capture_output=True, text=True, timeout=10)
        return path, r

    def test_bad_config_reports_file_and_line(self):
        cases = [
            ("user =\nlog_level = info\nbogus_key = 1\n", 3),
            ("user =\nlisten = 127.0.0.1:25 tls=maybe\n", 2),
            ("listen = 127.0.0.1:99999\n", 1),
            ("user =\n\nlog_level = loud\n", 3),
        ]
        for text, line in cases:
            path, r = self.check_config(text)
            self.assertNotEqual(r.returncode, 0, text)
            self.assertIn(f"{path}:{line}:", r.stderr, text)

    def test_bad_listener_combinations(self):
        path, r = self.check_config("listen = 127.0.0.1:25 tls=implicit\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("needs tls_cert", r.stderr)
        path, r = self.check_config("listen = 127.0.0.1:25 service=nope\n")
        self.assertIn("unknown service", r.stderr)
        r = subprocess.run([TESTD, "--check-config", "-o", "listen=127.0.0.1:1 mode=9"],
                           capture_output=True, text=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)

    def test_port_in_use_fails_start(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = subprocess.run([TESTD, "--foreground", "-o", "user=", "-o",
                                f"listen=127.0.0.1:{port}"],
                               capture_output=True, text=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("address already in use", r.stderr)

    def test_drop_privileges(self):
        if os.geteuid() != 0:
            self.skipTest("not root: cannot test user=nobody")
        import pwd
        nobody = pwd.getpwnam("nobody")
        d = self.start("priv", {"user": "nobody"})
        uids = d.status("Uid")
        gids = d.status("Gid")
        self.assertEqual(uids, [str(nobody.pw_uid)] * 4)
        self.assertEqual(gids, [str(nobody.pw_gid)] * 4)
        # Keys were read before the drop: TLS still works.
        raw = socket.create_connection(("127.0.0.1", d.port), timeout=TIMEOUT)
        c = Client(raw)
        self.addCleanup(c.close)
        self.assertEqual(c.line(), "+OK testd ready")


if __name__ == "__main__":
    unittest.main()
