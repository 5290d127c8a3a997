"""The benchmark's rows. Each returns a dict of numbers; targets() judges them, print_table() shows them."""
import asyncio
import fcntl
import os
import resource
import select
import signal
import struct
import subprocess
import tempfile
import termios
import time
from dataclasses import dataclass

import procstat
import streams
from servers import CIPHER, PASSWORD, USER, Engine, free_port

DEVNULL = subprocess.DEVNULL


@dataclass
class Context:
    session: object
    connection: object
    peer: object
    engine: Engine
    sizes: dict
    smoke: bool
    forwarding: object = None


def machine():
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                            text=True).stdout.strip()
    return {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()[0], "kernel": os.uname().release,
            "docker": docker}


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(times):
    return {"p50": percentile(times, 50), "p95": percentile(times, 95), "n": len(times)}


def timed(argv, stdin=None, expect=None):
    """Runs argv to completion; returns its wall time, or raises with its output when it failed."""
    started = time.perf_counter()
    proc = subprocess.run(argv, stdin=stdin if stdin is not None else DEVNULL, capture_output=expect is not None,
                          stdout=None if expect is not None else DEVNULL, text=expect is not None)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or (expect is not None and proc.stdout.strip() != expect):
        raise RuntimeError(f"bench: {' '.join(argv[:8])}... failed (exit {proc.returncode})")
    return elapsed


def ratio(a, b):
    return a / b if a is not None and b else None


# --- row 1 ----------------------------------------------------------------------------------------
def session_start(ctx):
    """`ssh host true` on a new connection (password, session mode) vs `docker run --rm` vs sshd peer."""
    paths = {"containerssh": ctx.session.ssh("true"), "engine_floor": ctx.engine.run("true")}
    if ctx.peer:
        paths["sshd_peer"] = ctx.peer.ssh("true")
    for argv in paths.values():  # warm caches (image layers, host keys) before measuring
        timed(argv)
    times = {name: [] for name in paths}
    for _ in range(ctx.sizes["start_runs"]):
        for name, argv in paths.items():  # interleaved, so drift hits all paths alike
            times[name].append(timed(argv))
    row = {name: summary(t) for name, t in times.items()}
    row["ratio_vs_floor_p50"] = ratio(row["containerssh"]["p50"], row["engine_floor"]["p50"])
    if "sshd_peer" in row:
        row["speedup_vs_peer_p50"] = ratio(row["sshd_peer"]["p50"], row["containerssh"]["p50"])
    return row


# --- row 2 ----------------------------------------------------------------------------------------
def second_session(ctx):
    """A new session on an open connection (connection mode, OpenSSH multiplexing) vs `docker exec`."""
    control = os.path.join(tempfile.mkdtemp(prefix="cssh-bench-mux-"), "ctl")
    master = subprocess.Popen(ctx.connection.ssh("", extra=("-M", "-S", control, "-N", "-o", "ControlPersist=no"))[:-1],
                              stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    deadline = time.time() + 30
    while not os.path.exists(control):
        if time.time() > deadline or master.poll() is not None:
            raise RuntimeError("bench: the multiplexing master connection did not come up")
        time.sleep(0.05)
    mux = ctx.connection.ssh("true", extra=("-S", control, "-o", "ControlMaster=no"))[3:]  # no sshpass needed
    container = ctx.engine.start_long_running()
    try:
        timed(mux)  # the first session creates the connection's container
        timed(ctx.engine.exec(container, "true"))
        times = {"containerssh": [], "docker_exec": []}
        for _ in range(ctx.sizes["second_runs"]):
            times["containerssh"].append(timed(mux))
            times["docker_exec"].append(timed(ctx.engine.exec(container, "true")))
    finally:
        master.terminate()
        master.wait(10)
        Engine.remove(container)
    row = {name: summary(t) for name, t in times.items()}
    row["ratio_vs_docker_exec_p50"] = ratio(row["containerssh"]["p50"], row["docker_exec"]["p50"])
    return row


# --- row 3 ----------------------------------------------------------------------------------------
def _stream(argv, direction, nbytes):
    if direction == "stdout":
        return timed(argv)
    source = subprocess.Popen(["head", "-c", str(nbytes), "/dev/zero"], stdout=subprocess.PIPE)
    try:
        return timed(argv, stdin=source.stdout)
    finally:
        source.stdout.close()
        source.wait()


def throughput(ctx):
    """nbytes through stdout (`head -c`) and stdin (`cat`), net of each path's own start time."""
    nbytes = ctx.sizes["stream_mb"] * 1_000_000
    commands = {"stdout": f"head -c {nbytes} /dev/zero", "stdin": "cat > /dev/null"}
    makers = {"containerssh": ctx.session.ssh, "engine_floor": lambda c: ctx.engine.run(c, interactive=True)}
    if ctx.peer:
        makers["sshd_peer"] = ctx.peer.ssh
    start, start_busy = {}, {}
    for name, make in makers.items():
        walls, busy0 = [], procstat.machine_busy_seconds()
        for _ in range(3):
            walls.append(timed(make("true")))
        start[name] = percentile(walls, 50)
        start_busy[name] = (procstat.machine_busy_seconds() - busy0) / 3
    dockerd = procstat.pid_of("dockerd")
    cpus = os.cpu_count()
    row = {"megabytes": ctx.sizes["stream_mb"], "start_s": start}
    repeats = 1 if ctx.smoke else 3
    for direction, command in commands.items():
        row[direction] = {}
        for name, make in makers.items():
            walls, daemon_cpu, dockerd_cpu, busy = [], 0.0, 0.0, 0.0
            for _ in range(repeats):
                cpu0 = procstat.cpu_seconds(ctx.session.proc.pid)
                d0 = procstat.cpu_seconds(dockerd) if dockerd else 0.0
                busy0 = procstat.machine_busy_seconds()
                walls.append(_stream(make(command), direction, nbytes))
                busy += procstat.machine_busy_seconds() - busy0
                daemon_cpu += procstat.cpu_seconds(ctx.session.proc.pid) - cpu0
                dockerd_cpu += (procstat.cpu_seconds(dockerd) - d0) if dockerd else 0.0
            wall = percentile(walls, 50)
            net = max(wall - start[name], 1e-3)
            # The machine's CPU spent on moving the bytes (the whole path: clients, dockerd, the
            # shim, the program, this daemon), net of what starting the same path costs.
            stream_busy = max(busy / repeats - start_busy[name], 1e-3)
            entry = {"wall_s": wall, "mb_per_s": nbytes / 1e6 / net,
                     "dockerd_cpu_s_per_gb": dockerd_cpu / repeats / (nbytes / 1e9),
                     "machine_busy_cores": stream_busy / net,
                     "machine_cpu_s_per_gb": stream_busy / (nbytes / 1e9)}
            if name == "containerssh":
                per_gb = daemon_cpu / repeats / (nbytes / 1e9)
                entry["daemon_cpu_s_per_gb"] = per_gb
                # What the rest of this path costs per GB; were the daemon free, the machine's
                # cores could move at most this much. A floor target above it is out of reach here.
                rest = max(entry["machine_cpu_s_per_gb"] - per_gb, 1e-3)
                entry["ceiling_free_daemon_mb_per_s"] = cpus / rest * 1000
            row[direction][name] = entry
        ours, floor = row[direction]["containerssh"]["mb_per_s"], row[direction]["engine_floor"]["mb_per_s"]
        row[direction]["ratio_vs_floor"] = ratio(ours, floor)
        row[direction]["ceiling_vs_floor"] = ratio(row[direction]["containerssh"]["ceiling_free_daemon_mb_per_s"], floor)
        if ctx.peer:
            row[direction]["ratio_vs_peer"] = ratio(ours, row[direction]["sshd_peer"]["mb_per_s"])
    return row


# --- row 4 ----------------------------------------------------------------------------------------
def _burst(argv_for, count):
    """Starts count clients at once; returns (successes, per-client wall times)."""
    started = time.perf_counter()
    procs = [subprocess.Popen(argv_for(i), stdin=DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(count)]
    walls, ok = [], 0
    pending = dict(enumerate(procs))
    while pending:
        for i, p in list(pending.items()):
            if p.poll() is not None:
                walls.append(time.perf_counter() - started)
                out, _ = p.communicate()
                ok += p.returncode == 0 and out.strip() == f"ok{i}"
                del pending[i]
        time.sleep(0.005)
    return ok, walls


def concurrency(ctx):
    """N simultaneous sessions doing small work: success, p95 start, daemon CPU and peak RSS."""
    dockerd = procstat.pid_of("dockerd")
    row = {}
    for count in ctx.sizes["concurrency"]:
        level = {}
        targets = {"containerssh": (ctx.session.ssh, ctx.session.proc.pid, False)}
        if count == max(ctx.sizes["concurrency"]):
            # The same burst with public-key logins: the password's crypt(3) hash is most of a
            # session's daemon CPU, and the sshd peer logs in with a key.
            targets["containerssh_key"] = (ctx.session.ssh_key, ctx.session.proc.pid, False)
        if ctx.peer:
            targets["sshd_peer"] = (ctx.peer.ssh, ctx.peer.proc.pid, True)
        for name, (make, pid, tree) in targets.items():
            cpu = procstat.tree_cpu_seconds if tree else procstat.cpu_seconds
            rss = procstat.tree_rss_kib if tree else procstat.rss_kib
            cpu0 = cpu(pid)
            d0 = procstat.cpu_seconds(dockerd) if dockerd else 0.0
            with procstat.PeakSampler(lambda: rss(pid)) as peak:
                ok, walls = _burst(lambda i: make(f"echo ok{i}"), count)
            daemon_cpu = cpu(pid) - cpu0
            dockerd_cpu = (procstat.cpu_seconds(dockerd) - d0) if dockerd else None
            level[name] = {"success_rate": ok / count, "p50_s": percentile(walls, 50), "p95_s": percentile(walls, 95),
                           "daemon_cpu_s": daemon_cpu, "daemon_cpu_s_per_session": daemon_cpu / count,
                           "peak_rss_kib": peak.peak, "dockerd_cpu_s": dockerd_cpu,
                           "dockerd_cpu_s_per_session": dockerd_cpu / count if dockerd_cpu is not None else None}
        row[str(count)] = level
    return row


# --- row 5 ----------------------------------------------------------------------------------------
async def _idle(port, count, batch, pid):
    """Opens count connections in waves of batch, measures the daemon, closes them."""
    import asyncssh

    conns = []
    cpu0 = procstat.cpu_seconds(pid)
    started = time.perf_counter()
    for first in range(0, count, batch):
        wave = [asyncssh.connect("127.0.0.1", port=port, username=USER, password=PASSWORD, known_hosts=None,
                                 encryption_algs=["aes128-gcm@openssh.com"])
                for _ in range(first, min(count, first + batch))]
        conns.extend(await asyncio.gather(*wave))
    open_s = time.perf_counter() - started
    login_cpu = procstat.cpu_seconds(pid) - cpu0
    await asyncio.sleep(1.0)
    rss, threads = procstat.rss_kib(pid), procstat.threads(pid)
    for c in conns:
        c.close()
    await asyncio.gather(*(c.wait_closed() for c in conns))
    return open_s, login_cpu, rss, threads


async def _key_logins(port, count, batch, pid, key_path):
    """count public-key logins (no channel) in waves of batch, each closed again: daemon CPU per login."""
    import asyncssh

    key = asyncssh.read_private_key(key_path)

    async def one():
        conn = await asyncssh.connect("127.0.0.1", port=port, username=USER, client_keys=[key], known_hosts=None,
                                      encryption_algs=["aes128-gcm@openssh.com"])
        conn.close()
        await conn.wait_closed()

    await one()  # warm
    cpu0 = procstat.cpu_seconds(pid)
    for first in range(0, count, batch):
        await asyncio.gather(*(one() for _ in range(first, min(count, first + batch))))
    return (procstat.cpu_seconds(pid) - cpu0) / count


def idle_connections(ctx):
    """N authenticated connections with no channel (session mode: no container): RSS and threads each."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    count = min(ctx.sizes["idle_connections"], hard - 100)
    pid = ctx.session.proc.pid
    time.sleep(0.5)
    base_rss, base_threads = procstat.rss_kib(pid), procstat.threads(pid)
    open_s, login_cpu, rss, threads = asyncio.run(_idle(ctx.session.port, count, 50, pid))
    time.sleep(1.0)
    key_login_cpu = asyncio.run(_key_logins(ctx.session.port, min(count, 200), 10, pid, ctx.session.key))
    # What a login alone costs the daemon (handshake, password, connection actor, config), so
    # row 6 can split a session's CPU into the login and the channel with its container.
    return {"connections": count, "open_s": open_s, "daemon_cpu_s_per_login": login_cpu / count,
            "daemon_cpu_s_per_login_key": key_login_cpu,
            "base_rss_kib": base_rss, "rss_kib": rss,
            "rss_kib_per_connection": (rss - base_rss) / count, "threads_per_connection": (threads - base_threads) / count,
            "rss_kib_after_close": procstat.rss_kib(pid), "threads_after_close": procstat.threads(pid)}


# --- row 6 ----------------------------------------------------------------------------------------
def overhead(rows):
    """The daemon's CPU next to dockerd's: per session (row 4, largest level) and per GB (row 3)."""
    out = {}
    levels = rows.get("concurrency", {})
    if levels:
        top = levels[max(levels, key=int)]["containerssh"]
        out["sessions"] = int(max(levels, key=int))
        out["daemon_cpu_ms_per_session"] = top["daemon_cpu_s_per_session"] * 1000
        if top["dockerd_cpu_s_per_session"]:
            out["dockerd_cpu_ms_per_session"] = top["dockerd_cpu_s_per_session"] * 1000
            out["daemon_vs_dockerd_per_session"] = top["daemon_cpu_s_per_session"] / top["dockerd_cpu_s_per_session"]
        key = levels[max(levels, key=int)].get("containerssh_key")
        if key and key["dockerd_cpu_s_per_session"]:
            out["daemon_cpu_ms_per_session_key"] = key["daemon_cpu_s_per_session"] * 1000
            out["dockerd_cpu_ms_per_session_key"] = key["dockerd_cpu_s_per_session"] * 1000
            out["daemon_vs_dockerd_per_session_key"] = key["daemon_cpu_s_per_session"] / key["dockerd_cpu_s_per_session"]
    idle = rows.get("idle")
    if idle:
        out["daemon_cpu_ms_per_login_no_channel"] = idle["daemon_cpu_s_per_login"] * 1000
        if "daemon_cpu_ms_per_session" in out:
            out["daemon_cpu_ms_per_session_beyond_login"] = (out["daemon_cpu_ms_per_session"]
                                                             - out["daemon_cpu_ms_per_login_no_channel"])
        if "daemon_cpu_s_per_login_key" in idle:
            out["daemon_cpu_ms_per_login_key_no_channel"] = idle["daemon_cpu_s_per_login_key"] * 1000
            if "daemon_cpu_ms_per_session_key" in out:
                out["daemon_cpu_ms_per_session_key_beyond_login"] = (out["daemon_cpu_ms_per_session_key"]
                                                                     - out["daemon_cpu_ms_per_login_key_no_channel"])
            if out.get("dockerd_cpu_ms_per_session_key"):
                # The share of dockerd's per-session CPU that the key login alone already takes.
                out["login_key_vs_dockerd_per_session"] = (out["daemon_cpu_ms_per_login_key_no_channel"]
                                                           / out["dockerd_cpu_ms_per_session_key"])
            if out.get("dockerd_cpu_ms_per_session"):
                out["login_password_vs_dockerd_per_session"] = (out["daemon_cpu_ms_per_login_no_channel"]
                                                                / out["dockerd_cpu_ms_per_session"])
    stream = rows.get("throughput")
    if stream:
        for direction in ("stdout", "stdin"):
            ours = stream[direction]["containerssh"]
            out[f"daemon_cpu_s_per_gb_{direction}"] = ours["daemon_cpu_s_per_gb"]
            out[f"dockerd_cpu_s_per_gb_{direction}"] = ours["dockerd_cpu_s_per_gb"]
    return out


# --- row 7 ----------------------------------------------------------------------------------------
# The servers row 7 talks to on the container's loopback (the -L targets), each a socat: one line,
# zeroes without end, a sink to /dev/null, a file of random bytes. A child per connection; the bulk
# ones move 64 KiB per system call (socat's default is 8 KiB), so the test's own servers cost little.
FORWARD_TARGETS = {"line": 9000, "zeroes": 9001, "sink": 9002, "file": 9003}
LISTEN = "bind=127.0.0.1,fork,reuseaddr,backlog=512"


def _forward_servers(file_bytes):
    """The session's command: the four socat servers, then the file's sha256 once all of them listen."""
    t = FORWARD_TARGETS
    return (f"printf 'ok\\n' > /tmp/line; head -c {file_bytes} /dev/urandom > /tmp/file; "
            f"socat -U TCP-LISTEN:{t['line']},{LISTEN} OPEN:/tmp/line & "
            f"socat -b 65536 -U TCP-LISTEN:{t['zeroes']},{LISTEN} OPEN:/dev/zero & "
            f"socat -b 65536 -u TCP-LISTEN:{t['sink']},{LISTEN} OPEN:/dev/null & "
            f"socat -b 65536 -U TCP-LISTEN:{t['file']},{LISTEN} OPEN:/tmp/file & "
            "until [ \"$(netstat -ltn | grep -c ' 127.0.0.1:900[0-3] ')\" = 4 ]; do sleep 0.05; done; "
            "sha256sum /tmp/file; wait")


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


class _ForwardSession:
    """`ssh -L` (OpenSSH, password, no multiplexing) holding one -L port per target open on one connection,
    its session running the target servers in the connection's container."""

    def __init__(self, server, file_bytes):
        self.server = server
        self.ports = {name: free_port() for name in FORWARD_TARGETS}
        extra = ["-o", "ExitOnForwardFailure=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none"]
        for name, remote in FORWARD_TARGETS.items():
            extra += ["-L", f"{self.ports[name]}:127.0.0.1:{remote}"]
        self.stderr = open(os.path.join(server.dir, "forward-client.log"), "w")
        self.proc = subprocess.Popen(server.ssh(_forward_servers(file_bytes), extra=tuple(extra)), stdin=DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.stderr, start_new_session=True)
        line = self._line(timeout=90)
        self.sha256 = line.split()[0]
        ids = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter", f"label=cssh-bench-server={server.port}"],
                             capture_output=True, text=True).stdout.split()
        if len(ids) != 1:
            raise RuntimeError(f"bench: expected the forwarding connection's one container, found {ids}")
        self.container = ids[0]
        self.ssh_pid = next((p for p in procstat.descendants(self.proc.pid) if _comm(p) == "ssh"), self.proc.pid)
        self.shim_pid = self._shim()
        deadline = time.time() + 30
        while True:  # the first forward starts the connection's helper
            try:
                streams.first_byte(self.ports["line"])
                break
            except (OSError, RuntimeError):
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.helper_pid = self._helper()

    def _line(self, timeout):
        got, deadline = b"", time.time() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in got:
            left = deadline - time.time()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError(f"bench: the -L session did not come up (exit {self.proc.poll()}; "
                                   f"see {self.stderr.name}): {got!r}")
            if select.select([fd], [], [], min(left, 0.5))[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                got += chunk
        return got.decode().strip()

    def _shim(self):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _comm(entry) and _comm(entry).startswith("containerd-shim"):
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        if self.container.encode() in f.read():
                            return int(entry)
                except OSError:
                    pass
        return None

    def _helper(self):
        top = subprocess.run(["docker", "top", self.container, "-o", "pid,args"], capture_output=True,
                             text=True).stdout.splitlines()
        for line in top[1:]:
            pid, _, args = line.strip().partition(" ")
            if "helper forward" in args:
                return int(pid)
        return None

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()


class _PathCpu:
    """CPU seconds over a span of each process on a path (the container: its shim and everything below
    it, the helper and the socat servers included), of this benchmark's own client, and of the machine."""

    def __init__(self, pids, trees):
        self.pids, self.trees = {k: v for k, v in pids.items() if v}, {k: v for k, v in trees.items() if v}

    def _read(self):
        out = {}
        for name, pid in self.pids.items():
            try:
                out[name] = procstat.cpu_seconds(pid)
            except OSError:
                out[name] = 0.0
        for name, pid in self.trees.items():
            out[name] = procstat.tree_cpu_seconds(pid)
        times = os.times()
        out["client"] = times.user + times.system
        out["machine"] = procstat.machine_busy_seconds()
        return out

    def __enter__(self):
        self._before = self._read()
        return self

    def __exit__(self, *exc):
        after = self._read()
        self.seconds = {k: after[k] - self._before[k] for k in after}


def _path_entry(walls, cpus, nbytes):
    """Rate (median over repeats) and each process's cores busy and CPU seconds per GB."""
    rates = [nbytes / 1e6 / w for w in walls]
    total_wall, gigabytes = sum(walls), nbytes * len(walls) / 1e9
    merged = {}
    for c in cpus:
        for k, v in c.items():
            merged[k] = merged.get(k, 0.0) + v
    path = sum(v for k, v in merged.items() if k not in ("machine", "helper"))  # the helper is in "container"
    return {"mb_per_s": percentile(rates, 50), "mb_per_s_all": rates,
            "cores": {k: v / total_wall for k, v in merged.items()}, "path_cores": path / total_wall,
            "cpu_s_per_gb": {k: v / gigabytes for k, v in merged.items()}, "path_cpu_s_per_gb": path / gigabytes}


def _stalled_queue(sock):
    """Bytes waiting unread in a socket's receive queue."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


def forwarding(ctx):
    """ssh -L through the connection's helper: opening a forward, bulk bytes both ways against the raw
    Engine exec stream, and many forwards at once with and without one whose reader stopped."""
    server, sizes = ctx.forwarding, ctx.sizes
    nbytes = sizes["forward_mb"] * 1_000_000
    file_bytes = sizes["forward_kb_each"] * 1000
    cpus = os.cpu_count()
    dockerd, containerd = procstat.pid_of("dockerd"), procstat.pid_of("containerd")
    session = _ForwardSession(server, file_bytes)
    row = {"megabytes": sizes["forward_mb"], "connections": sizes["forward_connections"],
           "kilobytes_each": sizes["forward_kb_each"]}
    try:
        # 1. Opening a forward: TCP connect to the -L port until the line server's first byte.
        warmup = 2 if ctx.smoke else 20
        for _ in range(warmup):
            streams.first_byte(session.ports["line"])
        times = [streams.first_byte(session.ports["line"]) for _ in range(sizes["forward_samples"])]
        row["open"] = {"openssh_L": summary(times)}
        line_server = (f"printf 'ok\\n' > /tmp/line; exec socat -U TCP-LISTEN:{FORWARD_TARGETS['line']},{LISTEN} "
                       "OPEN:/tmp/line")
        times = asyncio.run(streams.asyncssh_first_bytes(server.port, USER, PASSWORD, CIPHER, line_server,
                                                         FORWARD_TARGETS["line"], warmup, sizes["forward_samples"]))
        row["open"]["asyncssh"] = summary(times)

        # 2. Bulk bytes both ways, -L against the Engine's exec stream into the same container.
        pids = {"daemon": server.proc.pid, "ssh_client": session.ssh_pid, "dockerd": dockerd,
                "containerd": containerd, "helper": session.helper_pid}
        trees = {"container": session.shim_pid}
        paths = {
            "download": {"forward": lambda n: streams.forward_download(session.ports["zeroes"], n),
                         "engine_floor": lambda n: streams.floor_download(session.container, n)},
            "upload": {"forward": lambda n: streams.forward_upload(session.ports["sink"], n),
                       "engine_floor": lambda n: streams.floor_upload(session.container, n)},
        }
        repeats = 1 if ctx.smoke else 5  # the median of five: single runs here spread by 2x under load
        for direction, makers in paths.items():
            for run in makers.values():  # warm: the socat child, the exec path, the TCP windows
                run(min(nbytes, 20_000_000))
            walls, used = {n: [] for n in makers}, {n: [] for n in makers}
            for _ in range(repeats):
                for name, run in makers.items():  # interleaved, so drift hits both alike
                    with _PathCpu(pids, trees) as meter:
                        walls[name].append(run(nbytes))
                    used[name].append(meter.seconds)
            d = {name: _path_entry(walls[name], used[name], nbytes) for name in makers}
            ours, floor = d["forward"], d["engine_floor"]
            d["ratio_vs_floor"] = ratio(ours["mb_per_s"], floor["mb_per_s"])
            # Were the daemon free, the rest of this path's processes would fill the machine's cores at:
            rest = max(ours["path_cpu_s_per_gb"] - ours["cpu_s_per_gb"]["daemon"], 1e-3)
            ours["ceiling_free_daemon_mb_per_s"] = cpus / rest * 1000
            d["ceiling_vs_floor"] = ratio(ours["ceiling_free_daemon_mb_per_s"], floor["mb_per_s"])
            # The OpenSSH client is one thread: it cannot encrypt or decrypt faster than one core allows.
            ssh = ours["cpu_s_per_gb"].get("ssh_client", 0.0)
            ours["ceiling_ssh_client_mb_per_s"] = 1000 / ssh if ssh > 0 else None  # None: too short to see
            d["ssh_client_ceiling_vs_floor"] = ratio(ours["ceiling_ssh_client_mb_per_s"], floor["mb_per_s"])
            row[direction] = d

        # 3. Many forwards at once, each reading the same file to its end, byte-exact (sha256); then
        # the same with one more forward whose reader stopped.
        count = sizes["forward_connections"]
        rounds = 1 if ctx.smoke else 3  # interleaved, each variant's median of three
        pid = server.proc.pid
        row["rss_kib_before"] = procstat.rss_kib(pid)
        streams.many_downloads(session.ports["file"], min(count, 10), file_bytes, session.sha256)  # warm
        runs = {"plain": [], "stalled": []}
        for _ in range(rounds):
            for variant in ("plain", "stalled"):
                stalled = streams.StalledReader(session.ports["zeroes"]) if variant == "stalled" else None
                if stalled:
                    time.sleep(0.3 if ctx.smoke else 2.0)  # until every buffer on its way is full
                cpu0 = procstat.cpu_seconds(pid)
                with procstat.PeakSampler(lambda: procstat.rss_kib(pid)) as peak, \
                        procstat.PeakSampler(lambda: procstat.rss_kib(session.helper_pid)) as helper_peak:
                    queued0 = _stalled_queue(stalled.sock) if stalled else None
                    wall, good, total = streams.many_downloads(session.ports["file"], count, file_bytes,
                                                               session.sha256)
                    queued1 = _stalled_queue(stalled.sock) if stalled else None
                entry = {"wall_s": wall, "mb_per_s": total / 1e6 / wall, "byte_exact": good, "bytes": total,
                         "daemon_cpu_s": procstat.cpu_seconds(pid) - cpu0, "peak_rss_kib": peak.peak,
                         "helper_peak_rss_kib": helper_peak.peak}
                if stalled:
                    # Nothing arrives for it while it stands (its queue stays full), and it moves again once read.
                    entry["stalled_queue_bytes"] = [queued0, queued1]
                    entry["stalled_resume_s"] = stalled.resume(min(nbytes, 10_000_000))
                    stalled.close()
                runs[variant].append(entry)
        many = {}
        for variant, entries in runs.items():
            many[variant] = {"mb_per_s": percentile([e["mb_per_s"] for e in entries], 50),
                             "byte_exact_rate": sum(e["byte_exact"] for e in entries) / (count * len(entries)),
                             "peak_rss_kib": max(e["peak_rss_kib"] for e in entries),
                             "helper_peak_rss_kib": max(e["helper_peak_rss_kib"] for e in entries),
                             "daemon_cpu_s_per_gb": (sum(e["daemon_cpu_s"] for e in entries)
                                                     / (sum(e["bytes"] for e in entries) / 1e9)),
                             "runs": entries}
        stalls = runs["stalled"]
        many["stalled"]["resumed"] = all(e["stalled_resume_s"] is not None for e in stalls)
        many["stalled_vs_plain"] = ratio(many["stalled"]["mb_per_s"], many["plain"]["mb_per_s"])
        row["many"] = many
    finally:
        session.close()
    return row


# --- judging and printing -------------------------------------------------------------------------
ROW_NAMES = {1: "session_start", 2: "second_session", 3: "throughput", 4: "concurrency", 5: "idle", 6: "overhead",
             7: "forwarding"}


def problems(rows, wanted, peer_expected):
    """What --check reports: a requested row missing or empty, a failed session, a peer column absent."""
    found = []
    for number in sorted(wanted):
        name = ROW_NAMES.get(number)
        if name and not rows.get(name):
            found.append(f"row {number} ({name}) produced nothing")
    for count, level in rows.get("concurrency", {}).items():
        for who, v in level.items():
            if v["success_rate"] != 1.0:
                found.append(f"row 4: {count} concurrent sessions through {who}: success rate {v['success_rate']:.2f}")
    if peer_expected and rows.get("session_start") and "sshd_peer" not in rows["session_start"]:
        found.append("row 1: the sshd peer was not measured")
    idle = rows.get("idle")
    if idle and not idle["rss_kib"] > 0:
        found.append("row 5: no RSS reading")
    fwd = rows.get("forwarding")
    if fwd:
        for variant in ("plain", "stalled"):
            rate = fwd["many"][variant]["byte_exact_rate"]
            if rate != 1.0:
                found.append(f"row 7: {fwd['connections']} forwards at once ({variant}): {rate:.2f} byte-exact")
        if not fwd["many"]["stalled"]["resumed"]:
            found.append("row 7: the stopped forward did not move again once read")
    return found


def targets(rows, smoke):
    """Each target of issues 11 and 18 with its measured value and whether it is met (not judged in smoke)."""
    checks = []

    def add(name, value, goal, met):
        checks.append({"target": name, "value": value, "goal": goal,
                       "met": None if smoke or value is None else bool(met)})

    start = rows.get("session_start", {})
    if start:
        r = start.get("ratio_vs_floor_p50")
        add("session start p50 / engine floor", r, "<= 1.15", r is not None and r <= 1.15)
        s = start.get("speedup_vs_peer_p50")
        add("sshd peer p50 / session start p50", s, ">= 2.0", s is not None and s >= 2.0)
    stream = rows.get("throughput", {})
    for direction in ("stdout", "stdin"):
        if direction in stream:
            r = stream[direction].get("ratio_vs_floor")
            add(f"{direction} throughput / engine floor", r, ">= 0.95", r is not None and r >= 0.95)
            c = stream[direction].get("ceiling_vs_floor")
            if c is not None and c < 0.95:
                checks[-1]["note"] = (f"out of reach on this machine: the rest of the path alone (SSH client, dockerd, "
                                      f"shim, program) saturates its cores at {c:.2f} of the floor")
            p = stream[direction].get("ratio_vs_peer")
            if p is not None:
                add(f"{direction} throughput / sshd peer", p, ">= 1.0", p >= 1.0)
    levels = rows.get("concurrency", {})
    if levels:
        top = max(levels, key=int)
        rate = levels[top]["containerssh"]["success_rate"]
        add(f"{top} concurrent sessions succeed", rate, "== 1.0", rate == 1.0)
    idle = rows.get("idle", {})
    if idle:
        v = idle["rss_kib_per_connection"]
        add("RSS per idle connection (KiB)", v, "< 195 (200 KB)", v < 195.3)
    over = rows.get("overhead", {})
    def login_note(share, kind):
        if share is None:
            return None
        return (f"the {kind} login alone (handshake and authentication, no channel, no container) takes "
                f"{share:.3f} of dockerd's CPU per session" + (": out of reach" if share >= 0.05 else ""))

    if "daemon_vs_dockerd_per_session" in over:
        v = over["daemon_vs_dockerd_per_session"]
        add("daemon CPU per session / dockerd's", v, "< 0.05", v < 0.05)
        checks[-1]["note"] = login_note(over.get("login_password_vs_dockerd_per_session"), "password")
    if "daemon_vs_dockerd_per_session_key" in over:
        v = over["daemon_vs_dockerd_per_session_key"]
        add("daemon CPU per session / dockerd's, public-key login", v, "< 0.05", v < 0.05)
        checks[-1]["note"] = login_note(over.get("login_key_vs_dockerd_per_session"), "public-key")
    fwd = rows.get("forwarding", {})
    if fwd:
        for client in ("openssh_L", "asyncssh"):
            ms = fwd["open"][client]["p50"] * 1000
            add(f"forward open p50 ms ({client})", ms, "<= 20", ms <= 20)
        for direction in ("download", "upload"):
            d = fwd[direction]
            r = d["ratio_vs_floor"]
            add(f"-L {direction} / exec-stream floor", r, ">= 0.9", r is not None and r >= 0.9)
            reach = [f"the rest of the path alone saturates the machine's cores at {d['ceiling_vs_floor']:.2f} "
                     f"of the floor"] if d["ceiling_vs_floor"] is not None and d["ceiling_vs_floor"] < 0.9 else []
            if d["ssh_client_ceiling_vs_floor"] is not None and d["ssh_client_ceiling_vs_floor"] < 0.9:
                reach.append(f"the one-threaded OpenSSH client alone caps it at {d['ssh_client_ceiling_vs_floor']:.2f} "
                             "of the floor")
            ours, floor = d["forward"], d["engine_floor"]
            daemon = ours["cpu_s_per_gb"]["daemon"]
            checks[-1]["note"] = (f"CPU s per GB: the -L path {ours['path_cpu_s_per_gb']:.1f} (this daemon {daemon:.1f}, "
                                  f"the rest {ours['path_cpu_s_per_gb'] - daemon:.1f}), the floor's path "
                                  f"{floor['path_cpu_s_per_gb']:.1f}")
            if reach:
                checks[-1]["note"] += "; out of reach on this machine: " + "; ".join(reach)
        many = fwd["many"]
        rate = min(many["plain"]["byte_exact_rate"], many["stalled"]["byte_exact_rate"])
        add(f"{fwd['connections']} forwards at once byte-exact", rate, "== 1.0", rate == 1.0)
        r = many["stalled_vs_plain"]
        add("... with a stopped reader / without", r, ">= 0.8", r is not None and r >= 0.8)
    return checks


def _fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}{unit}"
    return f"{v}{unit}"


def _print_forwarding(r):
    print("\n7. forwarding (ssh -L through the connection's helper)")
    for client, label in (("openssh_L", "OpenSSH -L, TCP connect"), ("asyncssh", "asyncssh open_connection")):
        o = r["open"][client]
        print(f"   open to first byte, {label:26} p50 {o['p50'] * 1000:6.2f} ms  p95 {o['p95'] * 1000:6.2f} ms"
              f"  (n={o['n']})")
    for direction in ("download", "upload"):
        d = r[direction]
        ours, floor = d["forward"], d["engine_floor"]
        print(f"   {direction:8} {r['megabytes']} MB: -L {_fmt(ours['mb_per_s'])} MB/s, exec-stream floor "
              f"{_fmt(floor['mb_per_s'])} MB/s, ratio {_fmt(d['ratio_vs_floor'])}")
        for name, e in (("-L", ours), ("floor", floor)):
            parts = "  ".join(f"{k}={v:.2f}" for k, v in e["cores"].items() if k != "machine" and v >= 0.005)
            print(f"            {name:5} cores: {parts}  (path {e['path_cores']:.2f}, machine {e['cores']['machine']:.2f})")
        print(f"            with a free daemon the -L path could reach {_fmt(ours['ceiling_free_daemon_mb_per_s'])} MB/s "
              f"({_fmt(d['ceiling_vs_floor'])} of the floor); the one-threaded ssh client "
              f"{_fmt(ours['ceiling_ssh_client_mb_per_s'])} MB/s ({_fmt(d['ssh_client_ceiling_vs_floor'])})")
    m = r["many"]
    for variant in ("plain", "stalled"):
        v = m[variant]
        extra = ""
        if variant == "stalled":
            resumes = [e["stalled_resume_s"] for e in v["runs"]]
            extra = f", stopped reader moves again: {'yes' if v['resumed'] else 'NO'} ({_fmt(max(resumes, key=lambda x: x or 0))} s)"
        print(f"   {r['connections']} x {r['kilobytes_each']} KB {variant:8} {_fmt(v['mb_per_s'])} MB/s, "
              f"byte-exact {v['byte_exact_rate']:.2f}, daemon peak RSS {v['peak_rss_kib'] / 1024:.1f} MiB "
              f"(before {r['rss_kib_before'] / 1024:.1f}), helper {v['helper_peak_rss_kib'] / 1024:.1f} MiB, "
              f"daemon {_fmt(v['daemon_cpu_s_per_gb'])} CPU s/GB{extra}")
    print(f"   with a stopped reader / without: {_fmt(m['stalled_vs_plain'])}")


def print_table(results):
    rows = results["rows"]
    print(f"\nbenchmark ({'SMOKE: tiny sizes, numbers mean nothing' if results['smoke'] else 'full'}) "
          f"on {results['machine']['cpus']} CPUs, load {results['machine']['loadavg_at_start']:.2f}, "
          f"docker {results['machine']['docker']}")
    if "session_start" in rows:
        r = rows["session_start"]
        print("\n1. session start (s)          p50      p95")
        for name in ("containerssh", "engine_floor", "sshd_peer"):
            if name in r:
                print(f"   {name:24} {_fmt(r[name]['p50']):>8} {_fmt(r[name]['p95']):>8}")
        print(f"   ratio vs floor {_fmt(r.get('ratio_vs_floor_p50'))}   speed-up vs peer {_fmt(r.get('speedup_vs_peer_p50'))}")
    if "second_session" in rows:
        r = rows["second_session"]
        print("\n2. second session on an open connection (s)   p50      p95")
        for name in ("containerssh", "docker_exec"):
            print(f"   {name:40} {_fmt(r[name]['p50']):>8} {_fmt(r[name]['p95']):>8}")
        print(f"   ratio vs docker exec {_fmt(r.get('ratio_vs_docker_exec_p50'))}")
    if "throughput" in rows:
        r = rows["throughput"]
        print(f"\n3. throughput, {r['megabytes']} MB (MB/s, net of start)")
        for direction in ("stdout", "stdin"):
            d = r[direction]
            cells = "  ".join(f"{n}={_fmt(d[n]['mb_per_s'])}" for n in ("containerssh", "engine_floor", "sshd_peer")
                              if n in d)
            print(f"   {direction:6} {cells}  ratio vs floor {_fmt(d.get('ratio_vs_floor'))}"
                  f"  vs peer {_fmt(d.get('ratio_vs_peer'))}")
            busy = "  ".join(f"{n}={d[n]['machine_busy_cores']:.2f}" for n in ("containerssh", "engine_floor", "sshd_peer")
                             if n in d)
            print(f"          cores busy: {busy};  with a free daemon this path could reach "
                  f"{_fmt(d['containerssh']['ceiling_free_daemon_mb_per_s'])} MB/s "
                  f"({_fmt(d.get('ceiling_vs_floor'))} of the floor)")
    if "concurrency" in rows:
        print("\n4. concurrency           success  p50 s   p95 s   daemon CPU s  peak RSS MiB  dockerd CPU s")
        for count, level in rows["concurrency"].items():
            for name, v in level.items():
                print(f"   {count:>4} {name:16} {v['success_rate']:7.2f} {_fmt(v['p50_s']):>7} {_fmt(v['p95_s']):>7}"
                      f" {_fmt(v['daemon_cpu_s']):>12} {v['peak_rss_kib'] / 1024:12.1f} {_fmt(v['dockerd_cpu_s']):>13}")
    if "idle" in rows:
        r = rows["idle"]
        print(f"\n5. idle: {r['connections']} connections opened in {r['open_s']:.1f}s: "
              f"{r['rss_kib_per_connection']:.1f} KiB RSS and {r['threads_per_connection']:.2f} threads each "
              f"(RSS {r['base_rss_kib'] / 1024:.1f} -> {r['rss_kib'] / 1024:.1f} MiB, "
              f"{r['rss_kib_after_close'] / 1024:.1f} MiB after closing)")
    if "overhead" in rows:
        r = rows["overhead"]
        print("\n6. daemon CPU overhead")
        for k, v in r.items():
            print(f"   {k:36} {_fmt(v)}")
    if "forwarding" in rows:
        _print_forwarding(rows["forwarding"])
    print("\ntargets (issues 11 and 18)")
    for t in results["targets"]:
        verdict = "n/a (smoke)" if t["met"] is None else ("MET" if t["met"] else "MISSED")
        print(f"   {t['target']:40} {_fmt(t['value']):>10}  goal {t['goal']:16} {verdict}")
        if t.get("note") and t["met"] is False:
            print(f"      {t['note']}")
