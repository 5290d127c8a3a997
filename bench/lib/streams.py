"""Row 7's clients: plain TCP through an `ssh -L` port, and the floor it is compared with, a raw
Engine exec stream (the Docker API on its Unix socket, as the docker CLI speaks it, without the CLI).

Every transfer times the bytes moving, not the path's start: a download from its first byte to
its Nth, an upload from the moment the far side is there (the -L connect; the exec's first
output line) to the far side having taken everything (the -L connection's EOF after ours; the
exec's `done`).
"""
import asyncio
import hashlib
import json
import socket
import time

DOCKER_SOCKET = "/var/run/docker.sock"
CHUNK = 1 << 20
ZEROES = bytes(CHUNK)


# --- the Engine's exec stream, straight from the API ------------------------------------------------
def _http(method, path, body=None, upgrade=False):
    """One request on a new connection to the Engine; returns (socket, status, headers, bytes read past them)."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(DOCKER_SOCKET)
    data = json.dumps(body).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n" + ("Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else ""))
    sock.sendall(head.encode() + b"\r\n" + data)
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError(f"bench: the Engine closed {method} {path}: {got[:200]!r}")
        got += chunk
    head, _, rest = got.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
    return sock, int(lines[0].split()[1]), headers, rest


class ExecStream:
    """An exec in a running container (no TTY), started with the hijacked attach the docker CLI uses:
    POST /containers/{id}/exec, then POST /exec/{id}/start with `Upgrade: tcp`. Output arrives in the
    Engine's 8-byte-header frames; input is the raw bytes, and a half-close ends the program's stdin."""

    def __init__(self, container, command, stdin):
        sock, status, headers, rest = _http("POST", f"/containers/{container}/exec",
                                            {"AttachStdin": stdin, "AttachStdout": True, "AttachStderr": True,
                                             "Tty": False, "Cmd": ["sh", "-c", command]})
        length = int(headers.get(b"content-length", b"0"))
        while len(rest) < length:
            rest += sock.recv(65536)
        sock.close()
        if status != 201:
            raise RuntimeError(f"bench: exec create answered {status}: {rest[:200]!r}")
        exec_id = json.loads(rest)["Id"]
        self.sock, status, _, rest = _http("POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False},
                                           upgrade=True)
        if status != 101:
            raise RuntimeError(f"bench: exec start answered {status} instead of 101 (upgrade)")
        self._header, self._left, self._stream = bytearray(), 0, 0
        self._buffer = bytearray(CHUNK)
        self._view = memoryview(self._buffer)
        self.stdout = bytearray()  # kept only when keep_stdout
        self.stdout_bytes = 0
        self.first_byte_at = None
        self._pending = bytes(rest)

    def _feed(self, view, keep_stdout):
        i, n = 0, len(view)
        while i < n:
            if self._left == 0:
                take = min(8 - len(self._header), n - i)
                self._header += view[i:i + take]
                i += take
                if len(self._header) == 8:
                    self._stream, self._left = self._header[0], int.from_bytes(self._header[4:8], "big")
                    self._header.clear()
                continue
            take = min(self._left, n - i)
            if self._stream == 1:
                if self.first_byte_at is None:
                    self.first_byte_at = time.perf_counter()
                self.stdout_bytes += take
                if keep_stdout:
                    self.stdout += view[i:i + take]
            self._left -= take
            i += take

    def read_until(self, done, keep_stdout=False):
        """Reads frames until done() holds; False if the stream ended first."""
        if self._pending:
            self._feed(memoryview(self._pending), keep_stdout)
            self._pending = b""
        while not done():
            n = self.sock.recv_into(self._view)
            if not n:
                return False
            self._feed(self._view[:n], keep_stdout)
        return True

    def close(self):
        self.sock.close()


# The floor's programs move 64 KiB per system call, as the -L side's socat servers do: the Engine's
# output path costs per write, and busybox `head -c` writes 4 KiB at a time (it made the floor's
# download 1.6-3.6 times slower than `dd bs=64k`).
BLOCK = 65536


def floor_download(container, nbytes):
    """Zeroes from `dd bs=64k` in an exec: seconds from the first stdout byte to the Nth."""
    stream = ExecStream(container, f"dd if=/dev/zero bs={BLOCK} count={-(-nbytes // BLOCK)} 2>/dev/null",
                        stdin=False)
    try:
        if not stream.read_until(lambda: stream.stdout_bytes >= nbytes):
            raise RuntimeError(f"bench: the exec stream ended after {stream.stdout_bytes} of {nbytes} bytes")
        return time.perf_counter() - stream.first_byte_at
    finally:
        stream.close()


def floor_upload(container, nbytes):
    """N bytes into `dd of=/dev/null bs=64k` in an exec: seconds from the program's first line (it runs)
    to its last (dd saw the end of its input)."""
    stream = ExecStream(container, f"echo; dd of=/dev/null bs={BLOCK} 2>/dev/null; echo done", stdin=True)
    try:
        stream.read_until(lambda: stream.stdout_bytes >= 1, keep_stdout=True)
        started = time.perf_counter()
        _send(stream.sock, nbytes)
        stream.sock.shutdown(socket.SHUT_WR)
        if not stream.read_until(lambda: b"done" in stream.stdout, keep_stdout=True):
            raise RuntimeError("bench: the upload exec ended without its `done`")
        return time.perf_counter() - started
    finally:
        stream.close()


# --- through ssh -L ---------------------------------------------------------------------------------
def _send(sock, nbytes):
    view, sent = memoryview(ZEROES), 0
    while sent < nbytes:
        take = min(CHUNK, nbytes - sent)
        sock.sendall(view[:take])
        sent += take


def forward_download(port, nbytes):
    """Reads N bytes from a -L port whose far end sends zeroes forever: seconds from the first byte to the Nth."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        buffer = bytearray(CHUNK)
        view, got, first = memoryview(buffer), 0, None
        while got < nbytes:
            n = sock.recv_into(view, min(CHUNK, nbytes - got))
            if not n:
                raise RuntimeError(f"bench: -L download ended after {got} of {nbytes} bytes")
            if first is None:
                first = time.perf_counter()
            got += n
        return time.perf_counter() - first


def forward_upload(port, nbytes):
    """Sends N bytes to a -L port whose far end writes them to /dev/null and closes at our EOF:
    seconds from the connect to the far side's close (it has read everything)."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        started = time.perf_counter()
        _send(sock, nbytes)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
        return time.perf_counter() - started


def first_byte(port, expect=b"ok\n"):
    """Seconds from a TCP connect to the -L port until the far end's first byte (the answer checked)."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        got = sock.recv(64)
        elapsed = time.perf_counter() - started
        while len(got) < len(expect):
            more = sock.recv(64)
            if not more:
                break
            got += more
    if got != expect:
        raise RuntimeError(f"bench: -L port {port} answered {got!r} instead of {expect!r}")
    return elapsed


class _Hashing(asyncio.Protocol):
    """Counts and hashes what a connection receives; done resolves at its end."""

    def __init__(self, done):
        self.done, self.hash, self.bytes = done, hashlib.sha256(), 0

    def data_received(self, data):
        self.hash.update(data)
        self.bytes += len(data)

    def eof_received(self):
        return False  # close

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result((self.bytes, self.hash.hexdigest()))


async def _many(port, count, timeout):
    loop = asyncio.get_running_loop()

    async def one():
        done = loop.create_future()
        transport, _ = await loop.create_connection(lambda: _Hashing(done), "127.0.0.1", port)
        try:
            return await asyncio.wait_for(done, timeout)
        finally:
            transport.close()

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    return time.perf_counter() - started, results


def many_downloads(port, count, expected_bytes, expected_sha256, timeout=600):
    """count simultaneous connections to a -L port, each reading the same file to its end.
    Returns (wall seconds, connections that got it byte-exact, bytes received in all)."""
    wall, results = asyncio.run(_many(port, count, timeout))
    good = sum(1 for r in results if not isinstance(r, BaseException) and r == (expected_bytes, expected_sha256))
    total = sum(r[0] for r in results if not isinstance(r, BaseException))
    return wall, good, total


class StalledReader:
    """A connection to a -L port whose far end sends without end, never read while it stands: its
    bytes pile up in every buffer and window on the way until the helper stops reading its socket."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)

    def resume(self, nbytes, timeout=30):
        """Reads nbytes now: seconds it took, or None if they did not come within timeout."""
        started, got = time.perf_counter(), 0
        self.sock.settimeout(timeout)
        try:
            while got < nbytes and time.perf_counter() - started < timeout:
                chunk = self.sock.recv(CHUNK)
                if not chunk:
                    return None
                got += len(chunk)
        except OSError:
            return None
        return time.perf_counter() - started if got >= nbytes else None

    def close(self):
        self.sock.close()


# --- asyncssh: direct-tcpip channels on one connection, no local port --------------------------------
async def asyncssh_first_bytes(port, user, password, cipher, setup, target_port, warmup, samples, expect=b"ok\n"):
    """One asyncssh connection runs `setup` (the line server) in its container, then opens
    warmup + samples direct-tcpip channels to target_port one after another: each one's seconds from
    open_connection to the first byte."""
    import asyncssh

    async with asyncssh.connect("127.0.0.1", port=port, username=user, password=password, known_hosts=None,
                                encryption_algs=[cipher], agent_path=None) as conn:
        server = await conn.create_process(setup)
        deadline = time.time() + 60
        while True:  # the server listens a moment after its exec starts
            try:
                reader, writer = await conn.open_connection("127.0.0.1", target_port)
                got = await asyncio.wait_for(reader.read(), 10)
                writer.close()
                if got == expect:
                    break
            except (asyncssh.Error, OSError, asyncio.TimeoutError):
                pass
            if time.time() > deadline:
                raise RuntimeError("bench: the asyncssh line server did not answer")
            await asyncio.sleep(0.05)
        times = []
        for i in range(warmup + samples):
            started = time.perf_counter()
            reader, writer = await conn.open_connection("127.0.0.1", target_port)
            got = await reader.read(64)
            elapsed = time.perf_counter() - started
            while len(got) < len(expect):
                more = await reader.read(64)
                if not more:
                    break
                got += more
            writer.close()
            if got != expect:
                raise RuntimeError(f"bench: asyncssh channel answered {got!r}")
            if i >= warmup:
                times.append(elapsed)
        server.close()
        return times
