#!/usr/bin/python3
"""`helper forward` (guest/forward.c) against real loopback sockets, no Docker needed.

Plays the server's part of docs/forwarding.md ("The framing between server and helper") over the
helper's stdin/stdout and checks: HELLO; DIAL_TCP (IP, localhost, /etc/hosts, DNS) and DIAL_UNIX,
OK and FAIL; data both ways byte-exact, several MB, within the window; half-close both ways; CLOSE;
LISTEN_TCP (port 0, a port range, a busy port); LISTEN_UNIX with flag 1 (modes, removal on
UNLISTEN and at exit); WRITE_FILE; flow control (a stream that is never credited stops at exactly
the window while another flows; a socket that does not read holds only its own stream); protocol
errors (exit 3); stdin EOF and TERM (exit 0, everything created removed).

Usage: helper_forward_test.py HELPER_BINARY
Every wait has a timeout: a hang fails with a message instead of blocking.
"""

import hashlib
import os
import queue
import random
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

WINDOW = 262144
MAX_DATA = 65536
HELPER_IDS = 0x80000000
HELLO, DIAL_TCP, DIAL_UNIX, OK, FAIL = 0x01, 0x10, 0x11, 0x12, 0x13
LISTEN_TCP, LISTEN_UNIX, UNLISTEN, ACCEPTED, WRITE_FILE, REMOVE_FILE = 0x20, 0x21, 0x22, 0x23, 0x24, 0x25
DATA, EOF, CLOSE, CREDIT = 0x30, 0x31, 0x32, 0x33
TIMEOUT = 15


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def frame(ftype, fid, payload=b""):
    return struct.pack(">IBI", 5 + len(payload), ftype, fid) + payload


class Stream:
    def __init__(self, sid, auto_credit=True):
        self.id = sid
        self.received = bytearray()
        self.uncredited = 0          # DATA from the helper not credited back yet
        self.send_credit = WINDOW    # DATA the test may still send
        self.eof = False             # EOF from the helper
        self.closed = False          # CLOSE from the helper
        self.auto_credit = auto_credit


class Helper:
    """One `helper forward` process; a reader thread applies its frames, a writer thread feeds it."""

    def __init__(self, binary, env=None):
        self.proc = subprocess.Popen([binary, "forward"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.cond = threading.Condition()
        self.streams = {}
        self.accepted = []      # (stream, listener id, port, address)
        self.replies = {}       # id -> (OK or FAIL, payload)
        self.hello = None
        self.violations = []    # what the helper did against the spec
        self.stdout_ended = False
        self.stderr = b""
        self.out = queue.Queue()
        for target in (self._read, self._write, self._read_stderr):
            threading.Thread(target=target, daemon=True).start()
        self.wait(lambda: self.hello is not None or self.stdout_ended, "HELLO")
        check(self.hello == b"containerssh-forward 1", f"HELLO payload {self.hello!r}")

    # --- the threads
    def _read(self):
        f = self.proc.stdout
        first = True
        while True:
            head = f.read(9)
            if len(head) < 9:
                break
            length, ftype, fid = struct.unpack(">IBI", head)
            payload = f.read(length - 5) if length > 5 else b""
            with self.cond:
                if first and ftype != HELLO:
                    self.violations.append(f"first frame is type {ftype:#x}, not HELLO")
                first = False
                self._apply(ftype, fid, payload)
                self.cond.notify_all()
        with self.cond:
            self.stdout_ended = True
            self.cond.notify_all()

    def _apply(self, ftype, fid, payload):
        if ftype == HELLO:
            self.hello = payload
            return
        if ftype in (OK, FAIL):
            self.replies[fid] = (ftype, payload)
            return
        if ftype == ACCEPTED:
            if fid < HELPER_IDS or fid in self.streams:
                self.violations.append(f"ACCEPTED id {fid}")
            st = Stream(fid)
            self.streams[fid] = st
            listener, port = struct.unpack(">IH", payload[:6])
            self.accepted.append((st, listener, port, payload[6:].decode()))
            return
        st = self.streams.get(fid)
        if st is None:
            self.violations.append(f"frame {ftype:#x} for unknown stream {fid}")
            return
        if ftype == DATA:
            if st.eof or st.closed:
                self.violations.append(f"DATA after EOF/CLOSE on {fid}")
            if not 1 <= len(payload) <= MAX_DATA:
                self.violations.append(f"DATA of {len(payload)} bytes")
            st.received += payload
            st.uncredited += len(payload)
            if st.uncredited > WINDOW:
                self.violations.append(f"stream {fid}: {st.uncredited} bytes beyond the window")
            if st.auto_credit:
                self._queue(CREDIT, fid, struct.pack(">I", len(payload)))
                st.uncredited -= len(payload)
        elif ftype == EOF:
            st.eof = True
        elif ftype == CLOSE:
            st.closed = True
        elif ftype == CREDIT:
            st.send_credit += struct.unpack(">I", payload)[0]
            if st.send_credit > WINDOW:
                self.violations.append(f"stream {fid}: credited beyond the window")
        else:
            self.violations.append(f"unexpected frame type {ftype:#x}")

    def _write(self):
        broken = False
        while True:
            data = self.out.get()
            if data is None:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
                return
            if broken:
                continue
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                broken = True

    def _read_stderr(self):
        self.stderr = self.proc.stderr.read()

    # --- the test's side
    def _queue(self, ftype, fid, payload=b""):
        self.out.put(frame(ftype, fid, payload))

    def send(self, ftype, fid, payload=b""):
        self._queue(ftype, fid, payload)

    def send_raw(self, data):
        self.out.put(data)

    def wait(self, predicate, what, timeout=TIMEOUT):
        with self.cond:
            done = self.cond.wait_for(lambda: predicate() or self.violations, timeout)
            if self.violations:
                raise Failure("helper broke the protocol: " + "; ".join(self.violations[:5]))
            if not done:
                raise Failure(f"timed out after {timeout} s waiting for {what}")

    def reply(self, rid, what):
        self.wait(lambda: rid in self.replies, f"the answer to {what}")
        with self.cond:
            return self.replies.pop(rid)

    def expect_ok(self, rid, what):
        ftype, payload = self.reply(rid, what)
        check(ftype == OK, f"{what}: FAIL {payload!r}")
        return payload

    def expect_fail(self, rid, what, contains=""):
        ftype, payload = self.reply(rid, what)
        check(ftype == FAIL, f"{what}: OK instead of FAIL")
        check(contains.encode() in payload, f"{what}: FAIL reason {payload!r} lacks {contains!r}")
        return payload.decode()

    def stream(self, sid, auto_credit=True):
        with self.cond:
            st = self.streams[sid] = Stream(sid, auto_credit)
        return st

    def dial_tcp(self, sid, host, port, auto_credit=True):
        st = self.stream(sid, auto_credit)
        self.send(DIAL_TCP, sid, struct.pack(">H", port) + host.encode())
        return st

    def send_data(self, st, data, timeout=TIMEOUT):
        """Sends all of data as DATA frames, never beyond the stream's credit."""
        view = memoryview(data)
        while view:
            self.wait(lambda: st.send_credit > 0 or st.closed, f"credit on stream {st.id}", timeout)
            check(not st.closed, f"stream {st.id} closed while sending")
            with self.cond:
                n = min(st.send_credit, MAX_DATA, len(view))
                st.send_credit -= n
            self._queue(DATA, st.id, bytes(view[:n]))
            view = view[n:]

    def credit(self, st, n):
        with self.cond:
            st.uncredited -= n
        self._queue(CREDIT, st.id, struct.pack(">I", n))

    def barrier(self, sid):
        """A request with an answer: everything sent before it has been handled."""
        self.send(DIAL_UNIX, sid, b"/nonexistent/containerssh-barrier")
        self.expect_fail(sid, "the barrier DIAL_UNIX")

    def close_stdin(self):
        self.out.put(None)

    def exit_code(self, timeout=TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failure(f"helper did not exit within {timeout} s")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- helpers for the peer side

def tcp_listener(host="127.0.0.1", rcvbuf=None):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((host, 0))
    s.listen(16)
    s.settimeout(TIMEOUT)
    return s


def accept(listener):
    conn, _ = listener.accept()
    conn.settimeout(TIMEOUT)
    return conn


def read_all(conn, into):
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            return
        into += chunk


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def two_free_ports():
    """A port held busy by a listener and the free one after it."""
    for _ in range(200):
        port = random.randint(20000, 60000)
        busy = socket.socket()
        try:
            busy.bind(("127.0.0.1", port))
            busy.listen(1)
        except OSError:
            busy.close()
            continue
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", port + 1))
            probe.close()
            return busy, port
        except OSError:
            probe.close()
            busy.close()
    raise Failure("found no two consecutive free ports")


def run_thread(target, *args):
    result = {}

    def body():
        try:
            target(*args)
        except Exception as e:  # reported by join_thread
            result["error"] = e
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, result


def join_thread(t, result, what, timeout=TIMEOUT):
    t.join(timeout)
    check(not t.is_alive(), f"{what}: still running after {timeout} s")
    if "error" in result:
        raise Failure(f"{what}: {result['error']!r}")


def gone(path, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not os.path.lexists(path):
            return True
        time.sleep(0.02)
    return False


# --- the checks

def check_dial(h, ids, etc):
    listener = tcp_listener()
    port = listener.getsockname()[1]
    for host in ("127.0.0.1", "localhost", "fwd-hosts-test"):
        sid = next(ids)
        h.dial_tcp(sid, host, port)
        h.expect_ok(sid, f"DIAL_TCP {host}")
        conn = accept(listener)
        h.send(CLOSE, sid)
        h.wait(lambda: h.streams[sid].closed, f"the CLOSE answer on {host}")
        check(conn.recv(10) == b"", "the peer sees the end after CLOSE")
        conn.close()
    if socket.has_ipv6:
        try:
            listener6 = tcp_listener("::1")
        except OSError:
            listener6 = None
        if listener6:
            sid = next(ids)
            h.dial_tcp(sid, "::1", listener6.getsockname()[1])
            h.expect_ok(sid, "DIAL_TCP ::1")
            accept(listener6).close()
            h.send(CLOSE, sid)
            listener6.close()

    refused = free_port()
    sid = next(ids)
    h.dial_tcp(sid, "127.0.0.1", refused)
    reason = h.expect_fail(sid, "DIAL_TCP to a closed port", "Connection refused")
    check(reason == f"connect 127.0.0.1:{refused}: Connection refused", f"FAIL reason {reason!r}")
    # DATA, EOF and CLOSE for a stream that failed are ignored.
    h.send(DATA, sid, b"x")
    h.send(EOF, sid)
    h.send(CLOSE, sid)
    h.send(CREDIT, 99999, struct.pack(">I", 5))

    sid = next(ids)
    h.dial_tcp(sid, "no_such_host.invalid", port)
    h.expect_fail(sid, "DIAL_TCP to an unknown name", "resolve no_such_host.invalid")

    # DIAL_UNIX
    path = os.path.join(etc, "peer.sock")
    ul = socket.socket(socket.AF_UNIX)
    ul.bind(path)
    ul.listen(1)
    ul.settimeout(TIMEOUT)
    sid = next(ids)
    st = h.stream(sid)
    h.send(DIAL_UNIX, sid, path.encode())
    h.expect_ok(sid, "DIAL_UNIX")
    conn, _ = ul.accept()
    conn.settimeout(TIMEOUT)
    h.send_data(st, b"over unix")
    check(conn.recv(100) == b"over unix", "DIAL_UNIX data")
    conn.sendall(b"back")
    h.wait(lambda: bytes(st.received) == b"back", "DATA back over unix")
    conn.close()
    h.wait(lambda: st.eof, "EOF after the unix peer closed")
    h.send(CLOSE, sid)
    ul.close()
    sid = next(ids)
    h.send(DIAL_UNIX, sid, (path + ".missing").encode())
    h.expect_fail(sid, "DIAL_UNIX to a missing socket", "No such file or directory")

    # DATA sent right after DIAL is kept until the connection is made.
    sid = next(ids)
    st = h.dial_tcp(sid, "127.0.0.1", port)
    h.send_data(st, b"early")
    h.send(EOF, sid)
    h.expect_ok(sid, "DIAL_TCP with early data")
    conn = accept(listener)
    got = bytearray()
    read_all(conn, got)
    check(bytes(got) == b"early", f"early data arrived as {bytes(got)!r}")
    conn.close()
    h.wait(lambda: st.closed, "CLOSE once both directions ended")
    listener.close()
    print("ok: HELLO, DIAL_TCP/DIAL_UNIX OK and FAIL, early data, frames for unknown ids ignored")


def check_dns(h, ids, etc, dns_running):
    if not dns_running:
        print("skipped: DNS stub resolver (cannot bind a fake name server on port 53)")
        return
    listener = tcp_listener()
    port = listener.getsockname()[1]
    sid = next(ids)
    h.dial_tcp(sid, "fwd-dns-test.example", port)
    h.expect_ok(sid, "DIAL_TCP to a name DNS answers")
    accept(listener).close()
    h.send(CLOSE, sid)
    sid = next(ids)
    h.dial_tcp(sid, "missing.example", port)
    h.expect_fail(sid, "DIAL_TCP to a name DNS does not know", "resolve missing.example")
    # CLOSE while the dial waits (for a name server that never answers): CLOSE, no OK or FAIL.
    sid = next(ids)
    st = h.dial_tcp(sid, "silent.example", port)
    h.send_data(st, b"kept, then dropped")
    time.sleep(0.2)
    h.send(CLOSE, sid)
    h.wait(lambda: st.closed, "the CLOSE answer during a dial")
    h.barrier(next(ids))
    check(sid not in h.replies, f"OK or FAIL after CLOSE during a dial: {h.replies.get(sid)}")
    listener.close()
    print("ok: DNS names resolved through resolv.conf's name server; CLOSE during a dial")


def fake_dns(sock):
    """Answers A fwd-dns-test.example with 127.0.0.1, AAAA with nothing; never answers
    silent.example; other names: NXDOMAIN."""
    while True:
        try:
            msg, addr = sock.recvfrom(512)
        except OSError:
            return
        qid, = struct.unpack(">H", msg[:2])
        at, labels = 12, []
        while msg[at]:
            labels.append(msg[at + 1:at + 1 + msg[at]].decode())
            at += 1 + msg[at]
        qtype, = struct.unpack(">H", msg[at + 1:at + 3])
        question = msg[12:at + 5]
        name = ".".join(labels)
        if name == "silent.example":
            continue
        if name == "fwd-dns-test.example":
            answers = b""
            count = 0
            if qtype == 1:
                answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([127, 0, 0, 1])
                count = 1
            reply = struct.pack(">HHHHHH", qid, 0x8180, 1, count, 0, 0) + question + answers
        else:
            reply = struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
        sock.sendto(reply, addr)


def check_bulk(h, ids):
    listener = tcp_listener()
    port = listener.getsockname()[1]
    sid = next(ids)
    st = h.dial_tcp(sid, "127.0.0.1", port)
    h.expect_ok(sid, "DIAL_TCP for the bulk transfer")
    conn = accept(listener)
    to_peer = random.randbytes(6 * 1024 * 1024 + 12345)
    from_peer = random.randbytes(5 * 1024 * 1024 + 777)
    got = bytearray()
    reader, r_result = run_thread(read_all, conn, got)

    def peer_send():
        conn.sendall(from_peer)
        conn.shutdown(socket.SHUT_WR)
    writer, w_result = run_thread(peer_send)
    h.send_data(st, to_peer)
    h.send(EOF, sid)
    join_thread(reader, r_result, "the peer reading 6 MB", 60)
    join_thread(writer, w_result, "the peer sending 5 MB", 60)
    h.wait(lambda: st.eof, "EOF after 5 MB", 60)
    check(hashlib.sha256(got).digest() == hashlib.sha256(to_peer).digest(),
          f"server -> peer: {len(got)} bytes arrived, not the {len(to_peer)} sent")
    check(hashlib.sha256(st.received).digest() == hashlib.sha256(from_peer).digest(),
          f"peer -> server: {len(st.received)} bytes arrived, not the {len(from_peer)} sent")
    h.wait(lambda: st.closed, "CLOSE after both EOFs")
    h.wait(lambda: st.send_credit == WINDOW, "every byte credited back")
    conn.close()
    listener.close()
    print("ok: 6 MB and 5 MB both ways at once, byte-exact, within the window")


def check_half_close(h, ids):
    listener = tcp_listener()
    port = listener.getsockname()[1]
    # The server's EOF: the peer sees its end and can still answer.
    sid = next(ids)
    st = h.dial_tcp(sid, "127.0.0.1", port)
    h.expect_ok(sid, "DIAL_TCP for half-close")
    conn = accept(listener)
    h.send_data(st, b"request")
    h.send(EOF, sid)
    got = bytearray()
    read_all(conn, got)
    check(bytes(got) == b"request", f"peer got {bytes(got)!r} before EOF")
    conn.sendall(b"answer after EOF")
    h.wait(lambda: bytes(st.received) == b"answer after EOF", "the peer's answer after the server's EOF")
    check(not st.eof and not st.closed, "the stream ended early")
    conn.shutdown(socket.SHUT_WR)
    h.wait(lambda: st.eof, "EOF from the peer")
    h.wait(lambda: st.closed, "CLOSE after both EOFs")
    conn.close()

    # The peer's EOF: the server can still send.
    sid = next(ids)
    st = h.dial_tcp(sid, "127.0.0.1", port)
    h.expect_ok(sid, "DIAL_TCP for the other half-close")
    conn = accept(listener)
    conn.sendall(b"question")
    conn.shutdown(socket.SHUT_WR)
    h.wait(lambda: st.eof, "EOF after the peer's shutdown")
    check(bytes(st.received) == b"question", f"got {bytes(st.received)!r}")
    check(not st.closed, "CLOSE after only one EOF")
    h.send_data(st, b"reply after the peer's EOF")
    check(conn.recv(100) == b"reply after the peer's EOF", "the server's data after the peer's EOF")
    h.send(EOF, sid)
    check(conn.recv(100) == b"", "the peer sees the server's EOF")
    h.wait(lambda: st.closed, "CLOSE after both EOFs")
    conn.close()

    # CLOSE from the server: the helper answers CLOSE, the peer sees the end.
    sid = next(ids)
    st = h.dial_tcp(sid, "127.0.0.1", port)
    h.expect_ok(sid, "DIAL_TCP for CLOSE")
    conn = accept(listener)
    h.send(CLOSE, sid)
    h.wait(lambda: st.closed, "the CLOSE answer")
    check(conn.recv(100) == b"", "the peer sees the end after CLOSE")
    conn.close()

    # The peer resets: CLOSE from the helper.
    sid = next(ids)
    st = h.dial_tcp(sid, "127.0.0.1", port)
    h.expect_ok(sid, "DIAL_TCP for a reset")
    conn = accept(listener)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    h.wait(lambda: st.closed or st.eof, "the end after a reset")
    if not st.closed:
        h.send_data(st, b"x" * 1000)
        h.send_data(st, b"x" * 1000)
        h.wait(lambda: st.closed, "CLOSE after writing to a reset socket")
    listener.close()
    print("ok: half-close both ways, CLOSE answered, a reset peer gives CLOSE")


def check_listen_tcp(h, ids):
    lid = next(ids)
    h.send(LISTEN_TCP, lid, struct.pack(">HH", 0, 1) + b"127.0.0.1")
    payload = h.expect_ok(lid, "LISTEN_TCP port 0")
    port, = struct.unpack(">H", payload[:2])
    check(port != 0 and payload[2:] == b"127.0.0.1", f"LISTEN_TCP OK payload {payload!r}")
    client = socket.create_connection(("127.0.0.1", port), TIMEOUT)
    h.wait(lambda: len(h.accepted) == 1, "ACCEPTED")
    st, listener, oport, oaddr = h.accepted.pop()
    check(listener == lid and st.id >= HELPER_IDS, f"ACCEPTED listener {listener}, id {st.id}")
    check((oaddr, oport) == client.getsockname(), f"originator {oaddr}:{oport} vs {client.getsockname()}")
    client.sendall(b"to the server")
    h.wait(lambda: bytes(st.received) == b"to the server", "DATA from an accepted connection")
    h.send_data(st, b"to the client")
    check(client.recv(100) == b"to the client", "DATA to an accepted connection")
    client.close()
    h.wait(lambda: st.eof, "EOF from the accepted connection")
    h.send(EOF, st.id)
    h.wait(lambda: st.closed, "CLOSE of the accepted stream")

    # A second connection gets the next id.
    client = socket.create_connection(("127.0.0.1", port), TIMEOUT)
    h.wait(lambda: len(h.accepted) == 1, "the second ACCEPTED")
    st2 = h.accepted.pop()[0]
    check(st2.id == st.id + 1, f"second accepted id {st2.id} after {st.id}")
    h.send(CLOSE, st2.id)
    h.wait(lambda: st2.closed, "the CLOSE answer")
    client.close()

    h.send(UNLISTEN, lid)
    h.barrier(next(ids))
    try:
        socket.create_connection(("127.0.0.1", port), 2).close()
        raise Failure("the port still accepts after UNLISTEN")
    except ConnectionRefusedError:
        pass

    # A range: the first port is busy, the next one is taken.
    busy, first = two_free_ports()
    lid = next(ids)
    h.send(LISTEN_TCP, lid, struct.pack(">HH", first, 3) + b"localhost")
    payload = h.expect_ok(lid, "LISTEN_TCP over a range")
    check(payload == struct.pack(">H", first + 1) + b"127.0.0.1", f"range OK payload {payload!r}")
    h.send(UNLISTEN, lid)
    lid = next(ids)
    h.send(LISTEN_TCP, lid, struct.pack(">HH", first, 1) + b"127.0.0.1")
    h.expect_fail(lid, "LISTEN_TCP on a busy port", "Address already in use")
    busy.close()
    lid = next(ids)
    h.send(LISTEN_TCP, lid, struct.pack(">HH", 0, 1) + b"not-an-address")
    h.expect_fail(lid, "LISTEN_TCP on a name", "not an IP address")
    lid = next(ids)
    h.send(LISTEN_TCP, lid, struct.pack(">HH", 0, 1))
    payload = h.expect_ok(lid, "LISTEN_TCP on every address")
    port, = struct.unpack(">H", payload[:2])
    check(payload[2:] in (b"::", b"0.0.0.0"), f"wildcard OK payload {payload!r}")
    socket.create_connection(("127.0.0.1", port), TIMEOUT).close()
    h.wait(lambda: len(h.accepted) == 1, "ACCEPTED on the wildcard listener")
    st = h.accepted.pop()[0]
    check(st is not None, "accepted")
    h.send(CLOSE, st.id)
    h.send(UNLISTEN, lid)
    print("ok: LISTEN_TCP port 0, ACCEPTED with originator, UNLISTEN, port range, busy port, bad address")


def check_listen_unix(h, ids, tmp):
    dir_ = os.path.join(tmp, "agent-dir")
    path = os.path.join(dir_, "agent.sock")
    lid = next(ids)
    h.send(LISTEN_UNIX, lid, b"\x01" + path.encode())
    payload = h.expect_ok(lid, "LISTEN_UNIX flag 1")
    check(payload == b"\x00\x00" + path.encode(), f"LISTEN_UNIX OK payload {payload!r}")
    check(stat.S_IMODE(os.stat(dir_).st_mode) == 0o700, f"dir mode {oct(os.stat(dir_).st_mode)}")
    mode = os.stat(path).st_mode
    check(stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600, f"socket mode {oct(mode)}")
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(TIMEOUT)
    client.connect(path)
    h.wait(lambda: len(h.accepted) == 1, "ACCEPTED on the unix listener")
    st, listener, oport, oaddr = h.accepted.pop()
    check(listener == lid and oport == 0 and oaddr == "", f"unix ACCEPTED {listener} {oport} {oaddr!r}")
    client.sendall(b"agent request")
    h.wait(lambda: bytes(st.received) == b"agent request", "DATA over the unix listener")
    h.send_data(st, b"agent answer")
    check(client.recv(100) == b"agent answer", "DATA back over the unix listener")
    h.send(CLOSE, st.id)
    client.close()

    # WRITE_FILE into that directory: removed with it.
    fid = next(ids)
    inner = os.path.join(dir_, "Xauthority")
    h.send(WRITE_FILE, fid, struct.pack(">HH", 0o600, len(inner)) + inner.encode() + b"cookie")
    h.expect_ok(fid, "WRITE_FILE into the created directory")

    # The directory must not exist yet.
    lid2 = next(ids)
    h.send(LISTEN_UNIX, lid2, b"\x01" + os.path.join(dir_, "other.sock").encode())
    h.expect_fail(lid2, "LISTEN_UNIX flag 1 in an existing directory", "File exists")
    lid2 = next(ids)
    h.send(LISTEN_UNIX, lid2, b"\x02" + os.path.join(tmp, "x.sock").encode())
    h.expect_fail(lid2, "LISTEN_UNIX with an unknown flag", "unknown flags")

    h.send(UNLISTEN, lid)
    h.barrier(next(ids))
    check(not os.path.lexists(path), "the socket is still there after UNLISTEN")
    check(not os.path.lexists(inner), "the written file is still there after UNLISTEN")
    check(not os.path.lexists(dir_), "the directory is still there after UNLISTEN")

    # Without flag 1: no directory made, the socket goes on UNLISTEN.
    plain = os.path.join(tmp, "plain.sock")
    lid = next(ids)
    h.send(LISTEN_UNIX, lid, b"\x00" + plain.encode())
    h.expect_ok(lid, "LISTEN_UNIX flag 0")
    check(stat.S_ISSOCK(os.stat(plain).st_mode), "the plain socket exists")
    h.send(UNLISTEN, lid)
    h.barrier(next(ids))
    check(not os.path.lexists(plain), "the plain socket is still there after UNLISTEN")
    check(os.path.isdir(tmp), "UNLISTEN without flag 1 removed the directory")
    print("ok: LISTEN_UNIX flag 1 (0700 directory, 0600 socket), ACCEPTED, removed on UNLISTEN")


def check_write_file(h, ids, tmp):
    path = os.path.join(tmp, "written")
    content = bytes(range(256)) * 10
    fid = next(ids)
    h.send(WRITE_FILE, fid, struct.pack(">HH", 0o640, len(path)) + path.encode() + content)
    h.expect_ok(fid, "WRITE_FILE")
    with open(path, "rb") as f:
        check(f.read() == content, "WRITE_FILE content")
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o640, f"WRITE_FILE mode {oct(os.stat(path).st_mode)}")
    fid = next(ids)
    h.send(WRITE_FILE, fid, struct.pack(">HH", 0o600, len(path)) + path.encode() + b"again")
    h.expect_fail(fid, "WRITE_FILE over an existing file", "File exists")
    with open(path, "rb") as f:
        check(f.read() == content, "the existing file was changed")
    fid = next(ids)
    empty = os.path.join(tmp, "empty")
    h.send(WRITE_FILE, fid, struct.pack(">HH", 0o600, len(empty)) + empty.encode())
    h.expect_ok(fid, "WRITE_FILE with no content")
    check(os.path.getsize(empty) == 0, "the empty file")
    # REMOVE_FILE: a file the helper wrote goes; a file it did not write stays.
    stranger = os.path.join(tmp, "not-written-by-the-helper")
    with open(stranger, "w") as f:
        f.write("keep")
    h.send(REMOVE_FILE, next(ids), empty.encode())
    h.send(REMOVE_FILE, next(ids), stranger.encode())
    h.barrier(next(ids))
    check(gone(empty), "REMOVE_FILE left a file the helper wrote")
    check(os.path.exists(stranger), "REMOVE_FILE removed a file the helper did not write")
    print("ok: WRITE_FILE (content, mode, O_EXCL), REMOVE_FILE")
    return path


def check_flow_control(h, ids):
    listener = tcp_listener()
    port = listener.getsockname()[1]
    # Stream A: the server never credits it.
    a_id = next(ids)
    a = h.dial_tcp(a_id, "127.0.0.1", port, auto_credit=False)
    h.expect_ok(a_id, "DIAL_TCP for the uncredited stream")
    a_conn = accept(listener)
    a_data = random.randbytes(1024 * 1024)
    a_writer, a_result = run_thread(a_conn.sendall, a_data)
    h.wait(lambda: len(a.received) >= WINDOW, "the uncredited stream to fill its window")

    # Stream C: its socket never reads, so the helper holds what the server sends it.
    small = tcp_listener(rcvbuf=4096)
    c_id = next(ids)
    c = h.dial_tcp(c_id, "127.0.0.1", small.getsockname()[1])
    h.expect_ok(c_id, "DIAL_TCP for the stalled socket")
    c_conn = accept(small)
    c_data = random.randbytes(8 * 1024 * 1024)
    c_sent = 0
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        with h.cond:
            n = min(c.send_credit, MAX_DATA, len(c_data) - c_sent)
            c.send_credit -= n
        if n:
            h.send(DATA, c_id, c_data[c_sent:c_sent + n])
            c_sent += n
            continue
        if c_sent == len(c_data):
            break
        with h.cond:
            if not h.cond.wait_for(lambda: c.send_credit > 0, 1.0):
                break
    check(c_sent < len(c_data), "the stalled socket took 8 MB")
    check(c.send_credit == 0, "the stalled stream should have no credit left")

    # Stream B flows meanwhile, both ways.
    b_id = next(ids)
    b = h.dial_tcp(b_id, "127.0.0.1", port)
    h.expect_ok(b_id, "DIAL_TCP for the flowing stream")
    b_conn = accept(listener)
    b_to, b_from = random.randbytes(2 * 1024 * 1024), random.randbytes(2 * 1024 * 1024)
    got = bytearray()
    reader, r_result = run_thread(read_all, b_conn, got)

    def b_send():
        b_conn.sendall(b_from)
        b_conn.shutdown(socket.SHUT_WR)
    writer, w_result = run_thread(b_send)
    h.send_data(b, b_to)
    h.send(EOF, b_id)
    join_thread(reader, r_result, "stream B's peer reading", 60)
    join_thread(writer, w_result, "stream B's peer sending", 60)
    h.wait(lambda: b.eof, "stream B's EOF", 60)
    check(bytes(got) == b_to and bytes(b.received) == b_from, "stream B's data while A and C are stalled")

    # A stopped at exactly the window.
    time.sleep(0.3)
    with h.cond:
        check(len(a.received) == WINDOW, f"the uncredited stream sent {len(a.received)} bytes, not {WINDOW}")
    # C is still held: nothing more was credited while its socket did not read.
    check(c.send_credit == 0, "the stalled stream was credited while its socket did not read")

    # Crediting A lets the rest through; reading C lets everything through.
    while True:
        with h.cond:
            owed = a.uncredited
            done = len(a.received) == len(a_data)
        if owed:
            h.credit(a, owed)
        if done:
            break
        h.wait(lambda: a.uncredited > 0 or len(a.received) == len(a_data), "more of stream A after credit")
    join_thread(a_writer, a_result, "stream A's peer sending")
    check(bytes(a.received) == a_data, "stream A's data after crediting")
    c_got = bytearray()
    c_reader, c_result = run_thread(read_all, c_conn, c_got)
    h.send_data(c, c_data[c_sent:], 60)
    h.send(EOF, c_id)
    join_thread(c_reader, c_result, "stream C's peer reading", 60)
    check(bytes(c_got) == c_data, "stream C's data after its socket read again")
    for st in (a, b, c):
        h.send(CLOSE, st.id)
    for conn in (a_conn, b_conn, c_conn):
        conn.close()
    listener.close()
    small.close()
    print("ok: an uncredited stream stops at exactly 262144 bytes and a stalled socket holds only "
          "its own stream while another moves 2 MB each way")


def expect_protocol_error(binary, data, what, setup=None):
    h = Helper(binary)
    try:
        if setup:
            setup(h)
        with h.cond:  # the data below ignores the window on purpose: so may the credits that come back
            for st in h.streams.values():
                st.send_credit = -(1 << 60)
        h.send_raw(data)
        rc = h.exit_code()
        h.wait(lambda: h.stdout_ended, "stdout to end")
        time.sleep(0.05)
        check(rc == 3, f"{what}: exit code {rc}, not 3")
        check(b"protocol error" in h.stderr, f"{what}: stderr {h.stderr!r}")
        return h.stderr.decode(errors="replace").strip()
    finally:
        h.kill()


def check_protocol_errors(binary):
    expect_protocol_error(binary, struct.pack(">IBI", 3, DATA, 1), "length 3")
    expect_protocol_error(binary, struct.pack(">I", 65542), "length 65542")
    expect_protocol_error(binary, frame(0x7F, 1), "unknown type")
    expect_protocol_error(binary, frame(OK, 1), "a type the server does not send")
    expect_protocol_error(binary, frame(CREDIT, 1, b"\0\0\1"), "CREDIT of 3 bytes")
    expect_protocol_error(binary, frame(DIAL_TCP, HELPER_IDS, b"\0\1x"), "DIAL with a helper id")
    expect_protocol_error(binary, frame(WRITE_FILE, 1, struct.pack(">HH", 0o600, 10) + b"abc"), "WRITE_FILE path")

    listener = tcp_listener(rcvbuf=4096)
    port = listener.getsockname()[1]

    def dialed(h):
        h.dial_tcp(1, "127.0.0.1", port)
        h.expect_ok(1, "DIAL_TCP")
        dialed.conn = accept(listener)
    expect_protocol_error(binary, frame(DIAL_TCP, 1, struct.pack(">H", port) + b"127.0.0.1"),
                          "a DIAL reusing a live id", dialed)
    expect_protocol_error(binary, frame(CREDIT, 1, struct.pack(">I", 1)), "CREDIT beyond the window", dialed)
    expect_protocol_error(binary, frame(EOF, 1) + frame(DATA, 1, b"x"), "DATA after EOF", dialed)
    # A server that ignores the window while the socket does not read: the helper holds at most
    # the window, then stops.
    flood = b"".join(frame(DATA, 1, b"z" * MAX_DATA) for _ in range(8 * 1024 * 1024 // MAX_DATA))
    message = expect_protocol_error(binary, flood, "DATA beyond the window", dialed)
    check("window" in message, f"overrun message {message!r}")
    dialed.conn.close()
    listener.close()
    print("ok: protocol errors exit 3 (lengths 3 and 65542, unknown and wrong-way types, bad payloads, "
          "reused id, CREDIT and DATA beyond the window, DATA after EOF)")


def check_term(binary, tmp):
    h = Helper(binary)
    try:
        dir_ = os.path.join(tmp, "term-dir")
        lid = 1
        h.send(LISTEN_UNIX, lid, b"\x01" + os.path.join(dir_, "s").encode())
        h.expect_ok(lid, "LISTEN_UNIX before TERM")
        h.proc.send_signal(signal.SIGTERM)
        check(h.exit_code() == 0, "exit code after TERM")
        check(not os.path.lexists(dir_), "TERM left the directory")
    finally:
        h.kill()
    # TERM also ends a helper blocked on a stdout nobody reads.
    listener = tcp_listener()
    proc = subprocess.Popen([binary, "forward"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        proc.stdin.write(frame(DIAL_TCP, 1, struct.pack(">H", listener.getsockname()[1]) + b"127.0.0.1"))
        proc.stdin.flush()
        conn = accept(listener)
        conn.settimeout(None)
        threading.Thread(target=lambda: conn.sendall(b"y" * WINDOW), daemon=True).start()
        time.sleep(0.5)  # 256 KiB of DATA for a 64 KiB pipe: the helper is stuck writing
        check(proc.poll() is None, "the helper ended before TERM")
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failure("TERM did not end a helper blocked on its stdout")
        check(rc == 0, f"exit code {rc} after TERM while blocked on stdout")
        conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()
    print("ok: TERM exits 0 and removes what the helper created, even while stdout is full")


def overall_timeout(*_):
    raise Failure("the whole test took over 55 s")


def main():
    if len(sys.argv) != 2:
        print("usage: helper_forward_test.py HELPER_BINARY", file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    signal.signal(signal.SIGALRM, overall_timeout)
    signal.alarm(55)  # ctest's TIMEOUT is 60: fail with a message instead of being killed
    tmp = tempfile.mkdtemp(prefix="cssh-forward-test-")
    etc = os.path.join(tmp, "etc")
    os.mkdir(etc)
    with open(os.path.join(etc, "hosts"), "w") as f:
        f.write("# test hosts\n127.0.0.1\tfwd-hosts-test other-name\n::1 ip6-localhost\n")
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns_running = False
    dns_ip = "127.0.0.153"
    try:
        dns.bind((dns_ip, 53))
        dns_running = True
        threading.Thread(target=fake_dns, args=(dns,), daemon=True).start()
    except OSError:
        pass
    with open(os.path.join(etc, "resolv.conf"), "w") as f:
        # No name server answers when the fake one could not start: unknown names fail at once.
        f.write(f"search example.org\nnameserver {dns_ip if dns_running else '127.0.0.154'}\n")
    env = dict(os.environ, CSSH_FORWARD_ETC=etc)
    h = None
    try:
        h = Helper(binary, env)
        ids = iter(range(1, 1 << 30))
        check_dial(h, ids, etc)
        check_dns(h, ids, etc, dns_running)
        check_bulk(h, ids)
        check_half_close(h, ids)
        check_listen_tcp(h, ids)
        check_listen_unix(h, ids, tmp)
        written = check_write_file(h, ids, tmp)
        check_flow_control(h, ids)

        # Stdin ends: exit 0, the Unix sockets, their directory and the files in it removed.
        dir_ = os.path.join(tmp, "exit-dir")
        sock_path = os.path.join(dir_, "listener.sock")
        lid = next(ids)
        h.send(LISTEN_UNIX, lid, b"\x01" + sock_path.encode())
        h.expect_ok(lid, "LISTEN_UNIX before stdin ends")
        inner = os.path.join(dir_, "file")
        fid = next(ids)
        h.send(WRITE_FILE, fid, struct.pack(">HH", 0o600, len(inner)) + inner.encode() + b"x")
        h.expect_ok(fid, "WRITE_FILE before stdin ends")
        listener = tcp_listener()
        sid = next(ids)
        h.dial_tcp(sid, "127.0.0.1", listener.getsockname()[1])
        h.expect_ok(sid, "DIAL_TCP before stdin ends")
        conn = accept(listener)
        h.close_stdin()
        rc = h.exit_code()
        check(rc == 0, f"exit code {rc} after stdin ended; stderr {h.stderr!r}")
        check(gone(dir_), "the created directory survived the end")
        check(not os.path.exists(written), "a file written outside a created directory outlived the helper")
        check(conn.recv(10) == b"", "the open connection was not closed at the end")
        conn.close()
        listener.close()
        print("ok: stdin EOF exits 0 and removes the sockets, directories and files it created")

        check_term(binary, tmp)
        check_protocol_errors(binary)
    except Exception as e:  # Failure, or a socket that timed out: say which check and why
        stderr = h.stderr.decode(errors="replace") if h else ""
        where = "" if isinstance(e, Failure) else "\n" + traceback.format_exc()
        print(f"FAIL: {e!r}{where}\nhelper stderr: {stderr}", file=sys.stderr)
        return 1
    finally:
        if h:
            h.kill()
        dns.close()
        subprocess.run(["rm", "-rf", tmp], check=False)
    print("helper_forward_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
