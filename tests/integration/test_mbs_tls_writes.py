"""Write back-pressure over TLS (lib/conn.c) through mailroom-mbs.

A connection stops reading while more than CONN_WRITE_HIGH of its output
waits for the client, and reads again once that falls to CONN_WRITE_LOW.
Over TLS the output goes out as many small writes (one per TLS record
batch), so the queue drains in steps; a step that ended between the two
marks once left the connection deaf for good: the next command sat unread
in the socket. Here a client fetches messages larger than the high mark
over implicit TLS, reading slowly so the queue backs up, and every
command after one must still be answered.
"""
import socket
import time
import unittest

import mbstest

USER, PASSWORD = "other@other.test", "other"   # no quota
TIMEOUT = 10
ROUNDS = 12
SIZE = 600 * 1024     # above CONN_WRITE_HIGH (256 KiB), below FETCH's streaming size


def read_tagged(sock, tag, slow):
    """Everything up to the line tagged `tag`; with slow, in small reads
    with pauses, so the server's queue fills before it drains."""
    data = b""
    while not data.endswith(b"\r\n") or f"\r\n{tag} ".encode() not in b"\r\n" + data:
        chunk = sock.recv(16384 if slow else 262144)
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
        if slow and len(data) < SIZE // 2:
            time.sleep(0.002)
    return data


class TlsBackPressure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.authd = mbstest.Authd()
        cls.mbs = mbstest.MbsDaemon(cls.authd, name="mbs-tls-writes")
        line = "y" * 70 + "\r\n"
        body = line * (SIZE // len(line))
        for i in range(3):
            mbstest.deliver(cls.authd.mail_root, USER,
                            f"Subject: big {i}\r\n\r\n{body}")

    @classmethod
    def tearDownClass(cls):
        cls.mbs.stop()
        cls.authd.stop()

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.mbs.imaps_port), timeout=TIMEOUT)
        sock = self.mbs.ssl_context().wrap_socket(raw, server_hostname=mbstest.HOSTNAME)
        self.addCleanup(sock.close)
        self.assertTrue(sock.recv(4096).startswith(b"* OK"))
        sock.sendall(f"L LOGIN {USER} {PASSWORD}\r\n".encode())
        self.assertIn(b"L OK", read_tagged(sock, "L", False))
        sock.sendall(b"S SELECT INBOX\r\n")
        self.assertIn(b"S OK", read_tagged(sock, "S", False))
        return sock

    def test_every_command_after_a_large_fetch_is_read(self):
        sock = self.connect()
        for n in range(ROUNDS):
            seq = n % 3 + 1
            sock.sendall(f"F{n} FETCH {seq} (BODY.PEEK[])\r\n".encode())
            reply = read_tagged(sock, f"F{n}", slow=n % 2 == 0)
            self.assertIn(f"F{n} OK".encode(), reply)
            self.assertGreater(len(reply), SIZE)
            # a timeout here (socket.timeout) is the deaf connection
            sock.sendall(f"N{n} NOOP\r\n".encode())
            self.assertIn(f"N{n} OK".encode(), read_tagged(sock, f"N{n}", False))

    def test_pipelined_commands_after_a_large_fetch(self):
        sock = self.connect()
        for n in range(ROUNDS // 2):
            sock.sendall(f"F{n} FETCH 1:3 (BODY.PEEK[])\r\nN{n} NOOP\r\n".encode())
            reply = read_tagged(sock, f"N{n}", slow=True)
            self.assertIn(f"F{n} OK".encode(), reply)
            self.assertIn(f"N{n} OK".encode(), reply)
            self.assertLess(reply.index(f"F{n} OK".encode()), reply.index(f"N{n} OK".encode()))


if __name__ == "__main__":
    unittest.main()
