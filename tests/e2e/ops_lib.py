"""Shared parts of the operations tests (issue 10): checks, a recording auth webhook, a server
process with its own instance id, PROXY header builders, and container counting by instance.

Everything listens on loopback; containers are counted and removed only by this test's
instance ids (other tests share the dockerd)."""

import base64
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IMAGE = "containerssh-guest:latest"
PASSWORD = "secret"
INSTANCE_LABEL = "containerssh_instance"

failures = []


def check(ok, what, detail=""):
    print(("PASS: " if ok else "FAIL: ") + what + ("" if ok or not detail else f" ({detail})"), flush=True)
    if not ok:
        failures.append(what)
    return ok


def finish():
    if failures:
        print(f"{len(failures)} check(s) failed: " + "; ".join(failures), flush=True)
        raise SystemExit(1)
    print("all checks passed", flush=True)


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def docker_ids(*labels):
    args = ["docker", "ps", "-aq", "--no-trunc"]
    for label in labels:
        args += ["--filter", f"label={label}"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
    return [line for line in out.split() if line]


def remove_containers(instance):
    ids = docker_ids(f"{INSTANCE_LABEL}={instance}")
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120)
    return len(ids)


class Webhook:
    """ContainerSSH's auth webhook: admits any user with PASSWORD and records each request's
    username and remoteAddress."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                password = base64.b64decode(body.get("passwordBase64", "")).decode(errors="replace")
                with outer.lock:
                    outer.requests.append({"path": self.path, "username": body.get("username"),
                                           "remoteAddress": body.get("remoteAddress"),
                                           "connectionId": body.get("connectionId")})
                data = json.dumps({"success": self.path.endswith("/password") and password == PASSWORD}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def addresses_of(self, username):
        with self.lock:
            return [r["remoteAddress"] for r in self.requests if r["username"] == username]

    def close(self):
        self.httpd.shutdown()


class Server:
    """One containerssh process with a config of its own; `extra` is YAML appended at top level
    (keys under ssh: go in `ssh_extra`)."""

    def __init__(self, binary, tmp, name, webhook_port, ssh_extra="", extra="", port=None, health_port=None,
                 metrics_port=None, mode="connection"):
        self.binary = binary
        self.name = name
        self.port = port or free_port()
        self.instance = f"ops-{name}-{uuid.uuid4().hex[:10]}"
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "config.yaml")
        self.health_port = health_port
        self.metrics_port = metrics_port
        text = (f"ssh:\n  listen: 127.0.0.1:{self.port}\n  hostkeys: [{self.dir}/host]\n{ssh_extra}"
                "auth:\n  password:\n    method: webhook\n    webhook:\n"
                f"      url: http://127.0.0.1:{webhook_port}\n"
                f"instanceId: {self.instance}\n"
                f"docker:\n  execution:\n    mode: {mode}\n    container:\n      image: {IMAGE}\n"
                "    imagePullPolicy: Never\n"
                "log:\n  level: debug\n  format: ljson\n")
        if health_port:
            text += f"health:\n  enable: true\n  listen: 127.0.0.1:{health_port}\n"
        if metrics_port:
            text += f"metrics:\n  enable: true\n  listen: 127.0.0.1:{metrics_port}\n"
        text += extra
        with open(self.config, "w") as f:
            f.write(text)
        self.log = os.path.join(self.dir, "server.log")
        self.proc = None

    def start(self):
        listening = self.log_text().count("SSH_LISTENING") + 1
        self.proc = subprocess.Popen([self.binary, "--config", self.config], stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while self.log_text().count("SSH_LISTENING") < listening:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited: " + self.log_text()[-3000:])
            if time.time() > deadline:
                raise RuntimeError(f"server {self.name} did not listen: " + self.log_text()[-3000:])
            time.sleep(0.05)
        return self

    def log_text(self):
        return open(self.log).read() if os.path.exists(self.log) else ""

    def log_lines(self, code=None):
        out = []
        for line in self.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if code is None or entry.get("code") == code:
                out.append(entry)
        return out

    def containers(self):
        return docker_ids(f"{INSTANCE_LABEL}={self.instance}")

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stops the process; returns its exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


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
