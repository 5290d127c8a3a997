"""What the Python end-to-end suites share: counted checks and the summary line, free ports and
waiting, containers counted and removed by this test's instance ids (other tests share the
dockerd), OpenSSH client options, /metrics and health probes, server processes with a
configuration of their own, the test auth webhook as a child process, and PROXY protocol header
builders (issue 10). The HTTP webhook servers are in webhook_lib.py.

Everything listens on loopback."""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import webhook_lib

PASSWORD = webhook_lib.PASSWORD  # the suites share one test password

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = "containerssh-guest:latest"
INSTANCE_LABEL = "containerssh_instance"
CONN_LABEL = "containerssh_connection_id"

# --- checks ---------------------------------------------------------------------------------------

failures = []
_checks = 0  # read it through checks_run(): an imported copy of a number would not move


def check(ok, what, detail="", always_detail=False):
    """Prints PASS/FAIL for one check (with `detail` when it failed, or always if asked), counts it
    and remembers a failure; returns ok."""
    global _checks
    _checks += 1
    shown = detail and (always_detail or not ok)
    print(("PASS: " if ok else "FAIL: ") + what + (f" ({detail})" if shown else ""), flush=True)
    if not ok:
        failures.append(what)
    return bool(ok)


def checks_run():
    return _checks


def summary(name):
    """The suite's last line (how many checks passed or failed); its exit code."""
    if failures:
        print(f"{name}: {len(failures)} of {checks_run()} checks FAILED: " + "; ".join(failures), flush=True)
        return 1
    print(f"{name}: all {checks_run()} checks passed", flush=True)
    return 0


def finish(name=None):
    """summary() and exit with its code."""
    raise SystemExit(summary(name or os.path.basename(sys.argv[0])))


def conclude(name, servers, tmp, started, log_tail):
    """The end of a suite: how long its checks took; on failure the servers' last log_tail log
    lines and tmp kept, otherwise tmp removed; then summary()."""
    print(f"INFO: {checks_run()} checks in {time.time() - started:.1f}s", flush=True)
    if failures:
        for s in servers:
            print(f"---- {s.name} server log (last {log_tail} lines) ----")
            print("".join(open(s.log).readlines()[-log_tail:]))
        print(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary(name)


# --- ports, waiting and processes ----------------------------------------------------------------

def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, step=0.1):
    """Polls until predicate() is true; returns its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def wait_port(port, timeout=20.0, banner=False):
    """Waits until 127.0.0.1:port accepts (and, with banner, sends its first bytes)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if banner:
                    s.recv(64)
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Sends sig and waits; kills it if it outlives timeout. The exit code, None if killed."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    return proc.returncode


def kill_group(proc):
    """SIGKILL to a client started with start_new_session=True (sshpass and its ssh); reaps it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def start_auth_webhook(log_path, *args):
    """tests/e2e/auth_webhook.py as a child process (users etc. in args, e.g. "--users",
    "alice:secret"), logging to log_path; returns (process, port)."""
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "auth_webhook.py"), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=open(log_path, "w"), text=True)
    return proc, int(proc.stdout.readline().split()[1])


# --- containers of this test ---------------------------------------------------------------------

def docker_ids(*labels):
    args = ["docker", "ps", "-aq", "--no-trunc"]
    for label in labels:
        args += ["--filter", f"label={label}"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
    return [line for line in out.split() if line]


def check_nothing_left(servers, connection_ids=()):
    """The last check of a suite: no container of these servers (by instance id) nor of these
    connections (by connection id) is left; any that is gets removed."""
    ours = set()
    for s in servers:
        if s.instance:
            ours.update(s.containers())
    for cid in connection_ids:
        if cid:
            ours.update(docker_ids(f"{CONN_LABEL}={cid}"))
    check(not ours, "docker ps -a shows no container of this test's servers at the end", f"{sorted(ours)}")
    if ours:
        subprocess.run(["docker", "rm", "-f", *ours], capture_output=True)


def remove_containers(instance):
    ids = docker_ids(f"{INSTANCE_LABEL}={instance}")
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120)
    return len(ids)


# --- clients and probes ----------------------------------------------------------------------------

def ssh_options(*extra, connect_timeout=10):
    """OpenSSH options for a password login by sshpass to a throw-away server, then `extra`."""
    return ["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
            "-o", "NumberOfPasswordPrompts=1", "-o", f"ConnectTimeout={connect_timeout}", *extra]


def metric(port, name, labels):
    """The value of metric `name` with (at least) these labels on 127.0.0.1:port/metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def health(port, timeout=3):
    """The health endpoint's HTTP status; None if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


# --- servers -------------------------------------------------------------------------------------

def config_head(port, host_dir, webhook_url, ssh_extra=""):
    """A configuration's ssh: (listen, a host key in host_dir, ssh_extra lines) and auth: (passwords
    by the webhook) sections."""
    return (f"ssh:\n  listen: 127.0.0.1:{port}\n  hostkeys: [{host_dir}/host]\n{ssh_extra}"
            "auth:\n  password:\n    method: webhook\n    webhook:\n"
            f"      url: {webhook_url}\n")


def docker_section(mode=None, execution_extra=""):
    """docker: with the guest image (never pulled), the mode if given, then execution_extra lines."""
    return ("docker:\n  execution:\n" + (f"    mode: {mode}\n" if mode else "") +
            f"    container:\n      image: {IMAGE}\n    imagePullPolicy: Never\n" + execution_extra)


class ServerProcess:
    """One containerssh process with DIR/config.yaml, logging to DIR/server.log. start() waits
    until it logs SSH_LISTENING once more: the port accepts (into its backlog) before the server
    is ready, as orphan reaping and the helper come first. `instance` is the id it logs there."""

    listen_timeout = 60
    stop_timeout = 60
    launcher = ()  # a command the binary runs under, e.g. ("taskset", "-c", "0")

    def __init__(self, binary, directory, name):
        self.binary = binary
        self.name = name
        self.dir = directory
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "config.yaml")
        self.log = os.path.join(self.dir, "server.log")
        self.instance = None
        self.proc = None

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def start(self):
        listening = self.log_text().count("SSH_LISTENING") + 1
        self.proc = subprocess.Popen([*self.launcher, self.binary, "--config", self.config], stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + self.listen_timeout
        while self.log_text().count("SSH_LISTENING") < listening:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited: " + self.log_text()[-3000:])
            if time.time() > deadline:
                raise RuntimeError(f"server {self.name} did not listen: " + self.log_text()[-3000:])
            time.sleep(0.05)
        for line in self.log_text().splitlines():  # the last start's line counts
            if "SSH_LISTENING" in line and '"instanceId":"' in line:
                self.instance = line.split('"instanceId":"')[1].split('"')[0]
        return self

    def log_text(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log, errors="replace") as f:
            return f.read()

    def log_lines(self, code=None):
        """The log's JSON lines (format ljson), those with `code` if given."""
        out = []
        for line in self.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if code is None or entry.get("code") == code:
                out.append(entry)
        return out

    def wait_record(self, code, predicate=lambda rec: True, timeout=10):
        """The log records with `code` that satisfy `predicate`, waiting up to `timeout` for one."""
        found = []
        wait_until(lambda: bool(found.extend(r for r in self.log_lines(code) if predicate(r)) or found), timeout)
        return found

    def containers(self):
        return docker_ids(f"{INSTANCE_LABEL}={self.instance}")

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Stops the process; returns its exit code (None if it had to be killed)."""
        return stop_process(self.proc, sig, self.stop_timeout if timeout is None else timeout)


class Server(ServerProcess):
    """The operations tests' server: its own instance id, the webhook on webhook_port; `extra` is
    YAML appended at top level (keys under ssh: go in `ssh_extra`). Call start()."""

    def __init__(self, binary, tmp, name, webhook_port, ssh_extra="", extra="", port=None, health_port=None,
                 metrics_port=None, mode="connection"):
        super().__init__(binary, os.path.join(tmp, name), name)
        self.port = port or free_port()
        self.instance = f"ops-{name}-{uuid.uuid4().hex[:10]}"
        self.health_port = health_port
        self.metrics_port = metrics_port
        text = (config_head(self.port, self.dir, f"http://127.0.0.1:{webhook_port}", ssh_extra) +
                f"instanceId: {self.instance}\n" + docker_section(mode) +
                "log:\n  level: debug\n  format: ljson\n")
        if health_port:
            text += f"health:\n  enable: true\n  listen: 127.0.0.1:{health_port}\n"
        if metrics_port:
            text += f"metrics:\n  enable: true\n  listen: 127.0.0.1:{metrics_port}\n"
        self.write_config(text + extra)


# --- PROXY protocol headers, built here independently of the server's parser ---------------

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v1(src, dst, sport, dport):
    family = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode()


def proxy_v2(src, dst, sport, dport, command=0x1, tlvs=b""):
    if ":" in src:
        fam = 0x21
        addresses = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
    else:
        fam = 0x11
        addresses = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
    payload = addresses + struct.pack("!HH", sport, dport) + tlvs
    return V2_SIGNATURE + bytes([0x20 | command, fam]) + struct.pack("!H", len(payload)) + payload


def proxy_v2_local():
    return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)


def connect_with_header(port, header, source="127.0.0.1", timeout=10):
    """A TCP connection to the server from `source` that starts with `header`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    if header:
        sock.sendall(header)
    return sock


def read_until_closed(sock, timeout):
    """What the server sends before it closes the connection, and whether it did close in time."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True
