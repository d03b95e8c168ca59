"""Private MariaDB and OpenLDAP servers for integration tests.

Each server runs on 127.0.0.1 from a fresh temporary directory that holds
its data, its sockets and its logs, so tests never touch the system's own
services and several instances can run side by side:

    with services.MariaDB() as db:
        db.load("tests/data/accounts.sql")
        rows = db.sql("SELECT name FROM users")

    with services.Slapd(extra_schemas=["schema/mailroom.schema"]) as ldap:
        ldap.add_ldif("tests/data/people.ldif")
        entries = ldap.search("ou=people," + ldap.suffix, "(uid=alice)")

Both work as root (CI) and as an ordinary user. stop() (called on leaving
the with block, and at interpreter exit as a fallback) ends the process
within bounded time and removes the directory.
"""
import atexit
import base64
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import mrtest

# Unix socket paths must fit in sockaddr_un.sun_path (108 bytes with NUL).
SOCKET_PATH_MAX = 100
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLIENT_TIMEOUT = 30.0
START_ATTEMPTS = 3

_live = set()


class ServiceError(Exception):
    """A server failed to start, answer or stop; the message carries its log."""


def _program(name):
    """Full path of name, looking in the sbin directories a user's PATH may lack."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    found = shutil.which(name, path=path)
    if found is None:
        raise ServiceError(f"{name} not found; run scripts/setup")
    return found


def _tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"({path}: {e.strerror})"


def _port_in_use(text):
    return "Address already in use" in text or "errno=98" in text or "error: 98" in text


class _Service:
    """Temporary directory, one server process, bounded start and stop."""

    name = "service"

    def __init__(self, home=None, port=None):
        # home: a lasting directory (scripts/quickstart) instead of a
        # temporary one; it is kept on stop(). port: a fixed port.
        self.home = home
        self.fixed_port = port
        self.dir = None
        self.proc = None
        self.port = None
        self.start_seconds = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _make_dir(self):
        if self.home is not None:
            os.makedirs(self.home, mode=0o700, exist_ok=True)
            self.dir = self.home
            _live.add(self)
            return
        # A short directory so the socket paths inside it stay within limits.
        base = None
        if len(tempfile.gettempdir()) > SOCKET_PATH_MAX - 40:
            base = "/tmp"
        self.dir = tempfile.mkdtemp(prefix=f"mr-{self.name}-", dir=base)
        _live.add(self)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self):
        """Prepare the directory and start the server; raise ServiceError on failure."""
        began = time.monotonic()
        self._make_dir()
        try:
            self._prepare()
            for attempt in range(START_ATTEMPTS):
                self.port = self.fixed_port or mrtest.free_port()
                try:
                    self._launch()
                    break
                except ServiceError as e:
                    # Another process took the port between free_port() and bind().
                    if (attempt + 1 == START_ATTEMPTS or self.fixed_port
                            or not _port_in_use(str(e))):
                        raise
            self._configure()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began

    def _spawn(self, argv, log):
        out = open(self.path(log), "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.dir,
                                         start_new_session=True)
        finally:
            out.close()

    def _wait_ready(self, ready, log):
        """Poll ready() until true; fail early if the server exits."""
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if self.proc.poll() is not None:
                status = self.proc.returncode
                self.proc = None
                raise ServiceError(f"{self.name} exited with {status}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise ServiceError(f"{self.name} not answering after "
                                   f"{START_TIMEOUT:.0f}s:\n{_tail(log)}")
            time.sleep(0.05)

    def _run(self, argv, input=None, check=True, env=None):
        """Run a client program with a time limit; return CompletedProcess."""
        try:
            res = subprocess.run(argv, input=input, capture_output=True, text=True,
                                 timeout=CLIENT_TIMEOUT, env=env, cwd=self.dir)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"{argv[0]} timed out after {CLIENT_TIMEOUT:.0f}s")
        if check and res.returncode != 0:
            raise ServiceError(f"{os.path.basename(argv[0])} exited with "
                               f"{res.returncode}: {res.stderr.strip()}")
        return res

    def _end_process(self):
        """Ask nicely, then SIGTERM, then SIGKILL, each wait bounded."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self._shutdown(proc)
            except Exception:
                pass  # the signals below still end it
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and proc.poll() is None:
                proc.send_signal(sig)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
                return
            except subprocess.TimeoutExpired:
                continue
        raise ServiceError(f"{self.name} pid {proc.pid} survived SIGKILL")

    def stop(self):
        """End the server and remove its directory; safe to call twice."""
        try:
            self._end_process()
        finally:
            if self.dir is not None and self.home is None:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            _live.discard(self)

    def detach(self):
        """Leave the server running after this process exits (quickstart);
        stop it later with stop_pidfile() on its pid file."""
        _live.discard(self)
        self.proc = None

    # Filled in by each server.
    def _prepare(self):
        pass

    def _launch(self):
        raise NotImplementedError

    def _configure(self):
        pass

    def _shutdown(self, proc):
        proc.terminate()  # slapd's orderly shutdown


def stop_pidfile(path, timeout=STOP_TIMEOUT):
    """End the process whose pid is in path: SIGTERM, then SIGKILL, each wait
    bounded. Returns False when there was no live process."""
    try:
        with open(path) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, IndexError):
        return False
    for sig in (None, signal.SIGKILL):
        if sig is not None:
            try:
                os.kill(pid, sig)
            except OSError:
                return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # Reap it when it is our own child, or it lingers as a zombie.
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            try:
                os.kill(pid, 0)
            except OSError:
                return True
            time.sleep(0.05)
    raise ServiceError(f"pid {pid} from {path} survived SIGKILL")


@atexit.register
def _stop_all():
    for service in list(_live):
        try:
            service.stop()
        except Exception:
            pass


# ---------------------------------------------------------------- MariaDB

def sql_string(text):
    """text as a quoted SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MariaDB(_Service):
    """A private mariadbd with one database and one password user for tests.

    host/port take TCP clients (user/password); socket takes the
    administrative root account, which has no password and no TCP access.
    """

    name = "mariadb"
    host = "127.0.0.1"

    def __init__(self, database="mailroom_test", user="mailroom", password=None, **kw):
        super().__init__(**kw)
        self.database = database
        self.user = user
        self.password = password or secrets.token_hex(12)
        self.socket = None

    def _server_options(self):
        opts = [
            "--datadir=" + self.path("data"),
            "--tmpdir=" + self.dir,
            "--skip-log-bin", "--skip-performance-schema", "--skip-name-resolve",
            "--innodb-buffer-pool-size=8M", "--innodb-log-file-size=4M",
            "--innodb-use-native-aio=0", "--innodb-flush-log-at-trx-commit=2",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
        ]
        # mariadbd refuses to run as root unless told to; as anyone else it
        # runs as the caller and needs no --user.
        if os.geteuid() == 0:
            opts.append("--user=" + pwd.getpwuid(0).pw_name)
        return opts

    def _prepare(self):
        self.socket = self.path("mysqld.sock")
        self._run([_program("mariadb-install-db"), "--no-defaults",
                   "--auth-root-authentication-method=normal", "--skip-test-db"]
                  + self._server_options())

    def _launch(self):
        log = self.path("error.log")
        self._spawn([_program("mariadbd"), "--no-defaults"] + self._server_options() + [
            "--socket=" + self.socket, "--port=%d" % self.port,
            "--bind-address=" + self.host, "--pid-file=" + self.path("mysqld.pid"),
            "--log-error=" + log], "stdout.log")
        self._wait_ready(self._ping, log)

    def _admin(self, *args, check=True):
        return self._run([_program("mariadb-admin"), "--no-defaults", "--protocol=socket",
                          "--socket=" + self.socket, "--user=root",
                          "--connect-timeout=2"] + list(args), check=check)

    def _ping(self):
        return self._admin("ping", check=False).returncode == 0

    def _shutdown(self, proc):
        self._admin("shutdown")

    def _configure(self):
        # root keeps only its socket account; the test user gets the database.
        hosts = self.sql("SELECT host FROM mysql.user WHERE user = 'root' "
                         "AND host <> 'localhost'", database="mysql")
        for (host,) in hosts:
            self.sql(f"DROP USER 'root'@{sql_string(host)}", database="mysql")
        db = "`" + self.database.replace("`", "``") + "`"
        stmts = [f"CREATE DATABASE {db} CHARACTER SET utf8mb4"]
        for host in ("localhost", self.host):
            account = f"{sql_string(self.user)}@{sql_string(host)}"
            stmts += [f"CREATE USER {account} IDENTIFIED BY {sql_string(self.password)}",
                      f"GRANT ALL ON {db}.* TO {account}"]
        self.sql("; ".join(stmts), database="mysql")

    def _client(self, database, tcp):
        argv = [_program("mariadb"), "--no-defaults", "--batch", "--skip-column-names",
                "--connect-timeout=5"]
        if tcp:
            argv += ["--protocol=tcp", "--host=" + self.host, "--port=%d" % self.port,
                     "--user=" + self.user, "--password=" + self.password]
        else:
            argv += ["--protocol=socket", "--socket=" + self.socket, "--user=root"]
        return argv + [database or self.database]

    def sql(self, statement, database=None, tcp=False):
        """Run statement(s) with the mariadb client; return the rows as tuples of str.

        tcp=True connects over TCP as the test user instead of root on the socket.
        """
        res = self._run(self._client(database, tcp) + ["--execute=" + statement])
        return [tuple(line.split("\t")) for line in res.stdout.splitlines()]

    def load(self, path, database=None, tcp=False):
        """Feed an SQL file to the mariadb client."""
        with open(path) as f:
            self._run(self._client(database, tcp), input=f.read())


# ---------------------------------------------------------------- slapd

SYSTEM_SCHEMA_DIR = "/etc/ldap/schema"
BASE_SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


def ssha(password):
    """An RFC 2307 {SSHA} value for password, as slapd stores it."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _ldif_line(attr, value):
    # LDIF needs base64 for values that are not plain printable ASCII.
    if re.fullmatch(r"[\x21-\x39\x3b\x3d-\x7e][\x20-\x7e]*", value) and value[-1] != " ":
        return f"{attr}: {value}"
    return f"{attr}:: {base64.b64encode(value.encode()).decode()}"


SCHEMA_KEYWORDS = {"attributetype": "olcAttributeTypes",
                   "objectclass": "olcObjectClasses",
                   "objectidentifier": "olcObjectIdentifier",
                   "ldapsyntax": "olcLdapSyntaxes",
                   "ditcontentrule": "olcDitContentRules"}


def schema_to_ldif(text, name):
    """Turn a slapd.conf-style .schema file into a cn=config schema entry."""
    statements = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and statements:
            statements[-1] += " " + line.strip()  # continuation line
        else:
            statements.append(line.strip())
    out = [f"dn: cn={name},cn=schema,cn=config", "objectClass: olcSchemaConfig", f"cn: {name}"]
    for stmt in statements:
        keyword, _, rest = stmt.partition(" ")
        attr = SCHEMA_KEYWORDS.get(keyword.lower())
        if attr is None:
            raise ServiceError(f"schema {name}: unknown statement {keyword!r}")
        out.append(_ldif_line(attr, " ".join(rest.split())))
    return "\n".join(out) + "\n"


def _schema_ldif(path):
    name, ext = os.path.splitext(os.path.basename(path))
    with open(path) as f:
        text = f.read()
    if ext == ".schema":
        return schema_to_ldif(text, name)
    if ext == ".ldif":
        return text
    raise ServiceError(f"{path}: schema files end in .schema or .ldif")


def parse_ldif(text):
    """Entries of unwrapped ldapsearch -LLL output as dicts of attribute -> [values]."""
    entries = []
    for block in text.strip().split("\n\n"):
        entry = {}
        for line in block.splitlines():
            if not line or line.startswith("#"):
                continue
            attr, sep, value = line.partition(":")
            if value.startswith(":"):
                value = base64.b64decode(value[1:].strip()).decode(errors="replace")
            else:
                value = value.strip()
            entry.setdefault(attr, []).append(value)
        if entry:
            entries.append(entry)
    return entries


class Slapd(_Service):
    """A private slapd with an mdb database under suffix and a cn=config in its dir.

    uri is ldap://127.0.0.1:port/; ldapi_uri is the Unix socket in the dir.
    root_dn/root_pw may do anything in the database; other entries may read
    everything except userPassword, which only serves to authenticate.
    """

    name = "slapd"
    host = "127.0.0.1"

    def __init__(self, suffix="dc=example,dc=test", root_pw=None, extra_schemas=(), **kw):
        super().__init__(**kw)
        self.suffix = suffix
        self.root_dn = "cn=admin," + suffix
        self.root_pw = root_pw or secrets.token_hex(12)
        self.extra_schemas = [os.path.abspath(p) for p in extra_schemas]
        self.uri = None
        self.ldapi_uri = None

    def _config_ldif(self):
        conf = f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {self.path("slapd.pid")}
olcArgsFile: {self.path("slapd.args")}

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema
"""
        paths = [os.path.join(SYSTEM_SCHEMA_DIR, s + ".ldif") for s in BASE_SCHEMAS]
        for path in paths + self.extra_schemas:
            conf += "\n" + _schema_ldif(path).strip() + "\n"
        conf += f"""
dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {self.suffix}
olcRootDN: {self.root_dn}
olcRootPW: {ssha(self.root_pw)}
olcDbDirectory: {self.path("data")}
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcAccess: to attrs=userPassword by anonymous auth by * none
olcAccess: to * by * read
"""
        return conf

    def _base_ldif(self):
        rdn_attr, _, rest = self.suffix.partition(",")
        attr, _, value = rdn_attr.partition("=")
        if attr.lower() != "dc":
            raise ServiceError(f"suffix {self.suffix} must start with dc=")
        return (f"dn: {self.suffix}\nobjectClass: dcObject\nobjectClass: organization\n"
                f"dc: {value}\no: {value}\n")

    def _prepare(self):
        os.mkdir(self.path("slapd.d"), 0o700)
        os.mkdir(self.path("data"), 0o700)
        slapadd = _program("slapadd")
        self._run([slapadd, "-n0", "-F", self.path("slapd.d")], input=self._config_ldif())
        self._run([slapadd, "-F", self.path("slapd.d"), "-b", self.suffix],
                  input=self._base_ldif())
        sock = self.path("ldapi")
        self.ldapi_uri = "ldapi://" + sock.replace("/", "%2F")

    def _launch(self):
        self.uri = f"ldap://{self.host}:{self.port}/"
        log = self.path("slapd.log")
        # -d keeps slapd in the foreground so we own its pid; stats logs
        # connections and binds, handy when a test fails.
        self._spawn([_program("slapd"), "-F", self.path("slapd.d"),
                     "-h", f"{self.uri} {self.ldapi_uri}", "-d", "stats"], "slapd.log")
        self._wait_ready(self._answers, log)

    def _answers(self):
        return self.ldap("ldapsearch", "-x", "-b", "", "-s", "base",
                         "namingContexts", check=False).returncode == 0

    def ldap(self, tool, *args, input=None, check=True, uri=None):
        """Run an ldap-utils tool against this server (uri, by default TCP)."""
        env = dict(os.environ, LDAPNOINIT="1")  # ignore ldap.conf and ~/.ldaprc
        argv = [_program(tool), "-H", uri or self.uri, "-o", "nettimeout=5"] + list(args)
        return self._run(argv, input=input, check=check, env=env)

    def add_ldif(self, path_or_text):
        """ldapadd entries as root_dn, from an LDIF file or LDIF text."""
        text = path_or_text
        if isinstance(path_or_text, os.PathLike) or "\n" not in path_or_text:
            with open(path_or_text) as f:
                text = f.read()
        self.ldap("ldapadd", "-x", "-D", self.root_dn, "-w", self.root_pw, input=text)

    def search(self, base, filter="(objectClass=*)", attrs=(), scope="sub",
               bind_dn=None, password=None):
        """ldapsearch (as root_dn unless given a bind); return entries as dicts."""
        dn = bind_dn or self.root_dn
        pw = password if bind_dn else self.root_pw
        res = self.ldap("ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-D", dn,
                        "-w", pw, "-b", base, "-s", scope, filter, *attrs)
        return parse_ldif(res.stdout)

    def whoami(self, dn, password):
        """A simple bind as dn with ldapwhoami; CompletedProcess, not checked."""
        return self.ldap("ldapwhoami", "-x", "-D", dn, "-w", password, check=False)
