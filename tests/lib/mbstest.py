"""A mailroom-mbs on 127.0.0.1 in front of an Authd (tests/lib/mtatest.py),
for the IMAP (and POP3/POP2) session tests, plus deliver(): a message put
into a user's Maildir the way a delivery agent does (tmp/ then new/)."""
import imaplib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

from mrtest import BUILDDIR, free_port, make_cert, wait_port
from mtatest import Authd, stop_process, wait_log  # noqa: F401  (Authd re-exported)

MBS = os.path.join(BUILDDIR, "mbs", "mailroom-mbs")
TIMEOUT = 10
HOSTNAME = "imap.example.test"


class MbsDaemon:
    """One mailroom-mbs in the foreground. services: which listeners, each
    on its own free port (imap: STARTTLS, imaps: implicit TLS, pop3: STLS,
    pop3s, pop2). extra: more config lines. kill9() and start() keep the
    config and the log, as a crash and a restart by a supervisor would."""

    LISTENERS = {"imap": "tls=starttls", "imaps": "tls=implicit", "pop3": "tls=starttls",
                 "pop3s": "tls=implicit", "pop2": "tls=none"}

    def __init__(self, authd, extra="", services=("imap", "imaps"), name="mbs",
                 mail_root=None, proxy=False, lookup=None):
        """proxy: every listener takes a PROXY header (from 127.0.0.0/8);
        lookup: another lookup socket than authd's."""
        self.authd = authd
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f"mr-{name}-")
        self.mail_root = mail_root or authd.mail_root
        self.ca_cert = os.path.join(self.tmp, "cert.pem")
        key = os.path.join(self.tmp, "key.pem")
        make_cert(HOSTNAME, self.ca_cert, key)
        self.ports = {s: free_port() for s in services}
        for s in self.LISTENERS:
            setattr(self, f"{s}_port", self.ports.get(s))
        self.log = os.path.join(self.tmp, f"{name}.log")
        self.config = os.path.join(self.tmp, f"{name}.conf")
        opts = " proxy_protocol=yes" if proxy else ""
        listen = "".join(f"listen = 127.0.0.1:{port} {self.LISTENERS[s]}{opts} service={s}\n"
                         for s, port in self.ports.items())
        if proxy:
            listen += "proxy_trusted_networks = 127.0.0.0/8\n"
        with open(self.config, "w") as f:
            f.write(listen +
                    f"tls_cert = {self.ca_cert}\ntls_key = {key}\n"
                    "user =\nlog_dest = stderr\nlog_level = debug\n"
                    f"pid_file = {self.tmp}/{name}.pid\nhostname = {HOSTNAME}\n"
                    f"authd_lookup_socket = {lookup or authd.lookup}\n"
                    f"authd_auth_socket = {authd.auth}\nauthd_timeout = 3s\n"
                    "max_connections_per_ip = 0\nshutdown_timeout = 5s\n" + extra)
        self.proc = None
        self.start()

    def start(self):
        offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([MBS, "--foreground", "--config", self.config],
                                         stdout=log, stderr=log)
        wait_log(self.log, "started listeners=", self.proc, offset=offset)
        if self.ports and "proxy_protocol=yes" not in open(self.config).read():
            wait_port("127.0.0.1", next(iter(self.ports.values())))

    def stop(self):
        """Stop the daemon (SIGTERM) and remove its directory."""
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca_cert)
        ctx.check_hostname = False
        return ctx

    def imaps(self):
        """An IMAP4_SSL client on the imaps port, the certificate verified."""
        return imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=self.ssl_context(),
                                 timeout=TIMEOUT)

    def imap(self, starttls=True):
        """An IMAP4 client on the imap port, after STARTTLS unless told not."""
        c = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=TIMEOUT)
        if starttls:
            c.starttls(ssl_context=self.ssl_context())
        return c

    def login(self, user="demo@example.test", password="demo"):
        """A logged-in client: over imaps when that listener exists, else
        over imap with STARTTLS."""
        c = self.imaps() if self.imaps_port is not None else self.imap()
        c.login(user, password)
        return c


def user_maildir(mail_root, user):
    """authd's default layout: <mail_root>/<domain>/<local>/."""
    local, domain = user.split("@", 1)
    return os.path.join(mail_root, domain, local)


_counter = 0


def deliver(mail_root, user, text, folder=""):
    """Write a message into user's Maildir (folder "" is INBOX, "A.B" the
    Maildir++ folder .A.B) through tmp/ and a rename into new/, as a
    delivery agent does. Returns the path in new/."""
    global _counter
    root = user_maildir(mail_root, user)
    d = os.path.join(root, "." + folder) if folder else root
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    if folder and not os.path.exists(os.path.join(d, "maildirfolder")):
        open(os.path.join(d, "maildirfolder"), "w").close()
    if isinstance(text, str):
        text = text.encode()
    _counter += 1
    now = time.time()
    # M: microseconds, zero-padded so that names sort in delivery order
    name = f"{int(now)}.M{int(now * 1e6) % 1000000:06d}P{os.getpid()}Q{_counter}.{socket.gethostname()}"
    tmp = os.path.join(d, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    new = os.path.join(d, "new", name)
    os.rename(tmp, new)
    return new
