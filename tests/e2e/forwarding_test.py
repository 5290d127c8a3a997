#!/usr/bin/python3
"""End-to-end test of forwarding (docs/forwarding.md): ssh -L, -D, -R, -A through the connection's
one helper in its container, with the real server, the real dockerd and real clients (OpenSSH ssh,
curl through -D, asyncssh for many parallel channels, half-close, refusals).

Usage: forwarding_test.py BINARY [--quick]

Servers (each on its own port):
  open     connection mode, networkmode none, every forwarding enabled; metrics on
  policy   connection mode: forwardingMode filter with permitOpen 127.0.0.1:9000, reverse disabled
  session  session mode with forwarding enabled: refused (needs connection mode)
--quick (the default suite) runs 20 parallel channels instead of 100.
"""

import asyncio
import hashlib
import logging
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asyncssh  # noqa: E402

from ops_lib import (PASSWORD, ServerProcess, check, check_nothing_left, conclude, config_head,  # noqa: E402
                     docker_section, free_port, kill_group, metric, ssh_options, wait_port, wait_until)
from webhook_lib import JsonWebhook, password_of  # noqa: E402

logging.getLogger("asyncssh").setLevel(logging.CRITICAL)

QUICK = "--quick" in sys.argv
PARALLEL = 20 if QUICK else 100
SSH_OPTS = ssh_options("-o", "BatchMode=no", "-o", "ExitOnForwardFailure=yes")


class Webhooks(JsonWebhook):
    def __init__(self):
        super().__init__(self.answer)

    def answer(self, path, body, reply):
        if path.endswith("/password"):
            return 200, {"success": body.get("username") == "alice" and password_of(body) == PASSWORD}
        return 200, {}


class Server(ServerProcess):
    listen_timeout = 30
    stop_timeout = 30

    def __init__(self, binary, tmp, name, webhook_port, forwarding, mode="connection", host_extra=""):
        super().__init__(binary, os.path.join(tmp, name), name)
        self.port = free_port()
        self.metrics_port = free_port()
        execution = "    host:\n      networkmode: none\n" + host_extra if mode == "connection" else ""
        # An instance id of its own: the default (host and port) may be another suite's too, whose
        # clean-up by that label would then remove this server's containers.
        text = (config_head(self.port, self.dir, f"http://127.0.0.1:{webhook_port}") +
                f"instanceId: fwd-{name}-{uuid.uuid4().hex[:10]}\n" + docker_section(mode, execution) + "log:\n  level: debug\n  format: ljson\n" +
                f"metrics:\n  enable: true\n  listen: 127.0.0.1:{self.metrics_port}\n" +
                "security:\n  forwarding:\n" + "".join(f"    {line}\n" for line in forwarding))
        self.write_config(text)
        self.start()

    def metric(self, name, **labels):
        return metric(self.metrics_port, name, labels)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def sanitized(self):
        with open(f"/proc/{self.proc.pid}/maps") as f:
            return "libasan" in f.read()

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


def ssh_args(server, *options, log_level="ERROR"):
    opts = [o if o != "LogLevel=ERROR" else f"LogLevel={log_level}" for o in SSH_OPTS]  # the first value wins
    return ["sshpass", "-p", PASSWORD, "ssh", *opts, *options, "-p", str(server.port), "alice@127.0.0.1"]


async def connect(server):
    return await asyncssh.connect("127.0.0.1", port=server.port, username="alice", password=PASSWORD,
                                  known_hosts=None, preferred_auth="password", agent_path=None)


# --- the host side: a TCP server that answers each line in upper case -----------------------------

class UpperServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.one, args=(conn,), daemon=True).start()

    def one(self, conn):
        with conn:
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            conn.sendall(data.upper())  # after the peer's EOF: half-close towards us worked

    def close(self):
        self.sock.close()


# --- OpenSSH -------------------------------------------------------------------------------------

WWW = "mkdir -p /tmp/www && echo hello-from-the-container > /tmp/www/index.html && "


def check_openssh_local_and_socks(s):
    lport, dport = free_port(), free_port()
    # One connection: -L to busybox httpd on the container's loopback (networkmode none), -D beside it.
    client = subprocess.Popen(ssh_args(s, "-L", f"{lport}:127.0.0.1:8080", "-D", str(dport)) +
                              [WWW + "exec httpd -f -p 127.0.0.1:8080 -h /tmp/www"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        wait_port(lport, 30)

        def fetch(url, proxy=None):
            cmd = ["curl", "-s", "--max-time", "10", url] + (["--socks5-hostname", proxy] if proxy else [])
            return subprocess.run(cmd, capture_output=True, timeout=30).stdout

        wait_until(lambda: fetch(f"http://127.0.0.1:{lport}/") == b"hello-from-the-container\n", 30)
        body = fetch(f"http://127.0.0.1:{lport}/")
        check(body == b"hello-from-the-container\n",
              "ssh -L reaches busybox httpd on the container's loopback (networkmode none)", repr(body))
        t0 = time.time()
        for _ in range(20):
            fetch(f"http://127.0.0.1:{lport}/")
        per = (time.time() - t0) / 20
        check(per < 1.0, "ssh -L: 20 more requests, each a new forwarded connection", f"{per * 1000:.0f} ms each",
              always_detail=True)
        body = fetch("http://localhost:8080/", proxy=f"127.0.0.1:{dport}")
        check(body == b"hello-from-the-container\n", "ssh -D: curl --socks5-hostname reaches the same httpd",
              repr(body))
        body = fetch("http://127.0.0.1:1/", proxy=f"127.0.0.1:{dport}")
        check(body == b"", "ssh -D to a closed port in the container: the connection ends without data", repr(body))
        check(s.wait_record("FORWARD_DIAL_FAILED"), "a failed dial is logged as FORWARD_DIAL_FAILED")
    finally:
        kill_group(client)
    helper_execs = s.wait_record("SSH_DISCONNECTED", timeout=20)
    check(bool(helper_execs), "the -L/-D client disconnects")


def check_openssh_remote(s, upper):
    # -R with a fixed port: a program in the container reaches the host's server through it.
    r = subprocess.run(ssh_args(s, "-R", f"7001:127.0.0.1:{upper.port}") +
                       ["echo ping-from-container | nc 127.0.0.1 7001"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    check(r.returncode == 0 and r.stdout == b"PING-FROM-CONTAINER\n",
          "ssh -R 7001: nc in the container reaches the client side's server; its EOF reaches that server "
          "(which answers only then) while the answer still flows back: half-close from the container",
          f"{r.returncode} {r.stdout!r} {r.stderr[-300:]!r}")
    # -R with port 0: OpenSSH prints the port the server allocated.
    r = subprocess.run(ssh_args(s, "-R", f"0:127.0.0.1:{upper.port}", log_level="INFO") + ["true"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    m = re.search(rb"Allocated port (\d+) for remote forward", r.stderr)
    check(r.returncode == 0 and m and int(m.group(1)) > 0,
          "ssh -R 0: OpenSSH prints the port allocated in the container", f"{r.returncode} {r.stderr[-300:]!r}")


def check_openssh_agent(s, policy):
    tmp = tempfile.mkdtemp(prefix="cssh-agent-")
    key = os.path.join(tmp, "id")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "forwarded-key", "-f", key], check=True)
    sock = os.path.join(tmp, "agent.sock")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.exists(sock), 10)
        env = dict(os.environ, SSH_AUTH_SOCK=sock)
        subprocess.run(["ssh-add", key], env=env, capture_output=True, check=True)
        fp = subprocess.run(["ssh-keygen", "-lf", key + ".pub"], capture_output=True, text=True).stdout.split()[1]
        r = subprocess.run(ssh_args(s, "-A") + ['echo "sock=$SSH_AUTH_SOCK"; ls -ld "$(dirname $SSH_AUTH_SOCK)" '
                                                '"$SSH_AUTH_SOCK"; ssh-add -l'],
                           env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and fp in r.stdout and "forwarded-key" in r.stdout,
              "ssh -A: ssh-add -l in the container lists the client's key", f"{r.returncode} {r.stdout!r} {r.stderr!r}")
        lines = r.stdout.splitlines()
        modes = [line.split()[0] for line in lines if re.match(r"[ds][rwx-]{9} ", line)]
        check(modes[:2] == ["drwx------", "srw-------"],
              "ssh -A: the socket is 0600 in a 0700 directory", f"{lines}")
        r = subprocess.run(ssh_args(policy, "-A") + ['echo "sock=[$SSH_AUTH_SOCK]"'], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and r.stdout == "sock=[]\n",
              "agentForwardingMode disable (the default): the program gets no SSH_AUTH_SOCK",
              f"{r.returncode} {r.stdout!r} {r.stderr[-200:]!r}")
        check(policy.wait_record("SECURITY_AGENT_FORWARDING_REJECTED"), "agent forwarding refusal logged")
    finally:
        agent.terminate()
        agent.wait()


# --- asyncssh: many channels, half-close, refusals ----------------------------------------------

# socat (copied into the test image) as the container's servers: a child per connection; -t 30
# lets the echo's last output follow the client's EOF however slow the machine is.
ECHO = "exec socat -t 30 TCP-LISTEN:9000,bind=127.0.0.1,fork,reuseaddr,backlog=256 EXEC:/bin/cat"
ZEROES = "exec socat TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=256 OPEN:/dev/zero"


async def one_echo(conn, size, rng):
    payload = rng.randbytes(size)
    reader, writer = await conn.open_connection("127.0.0.1", 9000)
    writer.write(payload)
    writer.write_eof()  # half-close: cat sees EOF, answers the rest and ends
    got = await asyncio.wait_for(reader.read(), 120)
    writer.close()
    return hashlib.sha256(got).digest() == hashlib.sha256(payload).digest(), len(got), size


async def asyncssh_checks(s, upper):
    async with await connect(s) as conn:
        server = await conn.create_process(ECHO)
        # tcpsvd listens a moment after its exec starts.
        for _ in range(100):
            try:
                r, w = await conn.open_connection("127.0.0.1", 9000)
                w.write(b"x")
                w.write_eof()
                if await asyncio.wait_for(r.read(), 10) == b"x":
                    break
            except (asyncssh.Error, OSError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.1)
        rng = random.Random(7)
        sizes = [rng.choice([0, 1, 1000, 65536, 300000, 1 << 20]) for _ in range(PARALLEL)]
        t0 = time.time()
        results = await asyncio.gather(*(one_echo(conn, n, random.Random(i)) for i, n in enumerate(sizes)),
                                       return_exceptions=True)
        bad = [x for x in results if isinstance(x, BaseException) or not x[0]]
        check(not bad, f"asyncssh: {PARALLEL} parallel direct-tcpip channels echo random sizes byte-exact "
                       "(half-close towards the container)", f"{bad[:3]} in {time.time() - t0:.1f}s")

        # A dial to a closed port: the channel opens, then ends without data; others go on.
        reader, writer = await conn.open_connection("127.0.0.1", 1)
        got = await asyncio.wait_for(reader.read(), 30)
        check(got == b"", "asyncssh: a direct-tcpip to a closed port ends at once without data", repr(got))
        ok = await one_echo(conn, 1000, random.Random(1))
        check(ok[0], "asyncssh: the connection's other forwards still work after a failed dial")

        # Reverse forwarding with port 0 through asyncssh: the container's nc reaches the host server.
        listener = await conn.forward_remote_port("", 0, "127.0.0.1", upper.port)
        port = listener.get_port()
        check(port > 0, "asyncssh: tcpip-forward for port 0 answers the allocated port", str(port))
        r = await conn.run(f"echo abc | nc 127.0.0.1 {port}", timeout=60)
        check(r.stdout == "ABC\n", "asyncssh: the container reaches the host through the port-0 forward",
              f"{r.stdout!r} {r.stderr!r}")
        listener.close()
        await asyncio.sleep(0.5)
        r = await conn.run(f"echo abc | nc 127.0.0.1 {port}; echo rc=$?", timeout=60)
        check("ABC" not in r.stdout, "asyncssh: after cancel-tcpip-forward the port is closed in the container",
              f"{r.stdout!r}")
        # A bind that must fail: the port is taken in the container by the echo server.
        try:
            await conn.forward_remote_port("", 9000, "127.0.0.1", upper.port)
            refused = False
        except (asyncssh.Error, asyncssh.ChannelListenError):
            refused = True
        check(refused, "asyncssh: tcpip-forward on a port taken in the container is refused")
        server.close()


def paramiko_check(s):
    """A second client implementation: paramiko's direct-tcpip channel to the container's httpd."""
    import paramiko
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=s.port, username="alice", password=PASSWORD, look_for_keys=False,
                   allow_agent=False, timeout=30)
    try:
        t = client.get_transport()
        session = t.open_session()
        session.exec_command(WWW + "exec httpd -f -p 127.0.0.1:8081 -h /tmp/www")
        body = b""
        for _ in range(100):
            try:
                ch = t.open_channel("direct-tcpip", ("127.0.0.1", 8081), ("127.0.0.1", 40000), timeout=10)
                ch.sendall(b"GET / HTTP/1.0\r\n\r\n")
                body = b""
                while True:
                    chunk = ch.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                ch.close()
                if b"hello-from-the-container" in body:
                    break
            except (paramiko.SSHException, OSError):
                pass
            time.sleep(0.1)
        check(b"200 OK" in body and b"hello-from-the-container" in body,
              "paramiko: a direct-tcpip channel reaches the container's httpd", repr(body[-200:]))
    finally:
        client.close()


def check_no_session(s, upper):
    """ssh -N: forwarding without any session channel (the container is made at login)."""
    lport = free_port()
    client = subprocess.Popen(ssh_args(s, "-N", "-L", f"{lport}:127.0.0.1:9004", "-R", f"9005:127.0.0.1:{upper.port}"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        check(wait_port(lport, 30) is not False, "ssh -N -L: the local port listens")
        # Nothing listens on 9004 in the container: the connection ends without data, the client lives on.
        sock = socket.create_connection(("127.0.0.1", lport), timeout=10)
        sock.settimeout(10)
        got = sock.recv(100)
        sock.close()
        check(got == b"" and client.poll() is None, "ssh -N -L to a closed port: that connection ends, the client stays",
              repr(got))
    finally:
        kill_group(client)


async def stalled_reader_check(s):
    """One forward whose reader stopped must not slow the others."""
    async with await connect(s) as conn:
        await conn.create_process(ZEROES.format(port=9001))
        for _ in range(100):
            try:
                r, w = await conn.open_connection("127.0.0.1", 9001)
                if await asyncio.wait_for(r.read(10), 10):
                    w.close()
                    break
            except (asyncssh.Error, OSError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.1)
        stalled_r, stalled_w = await conn.open_connection("127.0.0.1", 9001)  # never read
        await asyncio.sleep(1)
        reader, writer = await conn.open_connection("127.0.0.1", 9001)
        got = 0
        t0 = time.time()
        while got < 50 * 1024 * 1024 and time.time() - t0 < 60:
            got += len(await reader.read(1 << 20))
        check(got >= 50 * 1024 * 1024, "a stopped reader on one forward does not stall another on the same "
                                       "connection (50 MB through the second)", f"{got} bytes in {time.time() - t0:.1f}s")
        writer.close()
        stalled_w.close()


async def refusal_checks(policy, session):
    async with await connect(policy) as conn:
        await conn.create_process(ECHO)
        ok = False
        for _ in range(100):
            try:
                r, w = await conn.open_connection("127.0.0.1", 9000)
                w.write(b"y")
                w.write_eof()
                ok = await asyncio.wait_for(r.read(), 10) == b"y"
                if ok:
                    break
            except (asyncssh.Error, OSError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.1)
        check(ok, "filter: a destination in permitOpen is allowed")
        try:
            await conn.open_connection("127.0.0.1", 9001)
            err = None
        except asyncssh.ChannelOpenError as e:
            err = e
        check(err is not None and err.code == asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
              "filter: a destination not in permitOpen is refused (administratively prohibited)",
              f"{err!r} {getattr(err, 'code', None)}")
        check(policy.wait_record("SECURITY_FORWARDING_NOT_PERMITTED"), "filter: logged as SECURITY_FORWARDING_NOT_PERMITTED")
        listener = await conn.forward_remote_port("", 9500, "127.0.0.1", 9)
        check(listener.get_port() == 9500, "reverseForwardingMode filter: a port in permitListen is allowed")
        listener.close()
        try:
            await conn.forward_remote_port("", 9501, "127.0.0.1", 9)
            err = None
        except (asyncssh.Error, asyncssh.ChannelListenError) as e:
            err = e
        check(err is not None, "reverseForwardingMode filter: a port not in permitListen is refused", str(err))
        check(policy.wait_record("SECURITY_FORWARDING_NOT_PERMITTED",
                                 lambda rec: "9501" in rec.get("details", {}).get("destination", "")),
              "reverseForwardingMode filter: logged as SECURITY_FORWARDING_NOT_PERMITTED naming the listen")
    async with await connect(session) as conn:
        try:
            await conn.forward_remote_port("", 0, "127.0.0.1", 9)
            err = None
        except (asyncssh.Error, asyncssh.ChannelListenError) as e:
            err = e
        check(err is not None, "session mode: tcpip-forward is refused", str(err))
    async with await connect(session) as conn:
        try:
            await conn.open_connection("127.0.0.1", 9000)
            err = None
        except asyncssh.ChannelOpenError as e:
            err = e
        check(err is not None, "session mode: direct-tcpip is refused", str(err))
        check(session.wait_record("FORWARDING_NEEDS_CONNECTION_MODE"),
              "session mode: logged as FORWARDING_NEEDS_CONNECTION_MODE")
    check((policy.metric("cssh_forward_refusals_total", kind="local", reason="permit_list") or 0) >= 1,
          "metrics: the permitOpen refusal is counted (cssh_forward_refusals_total reason=permit_list)")
    check((session.metric("cssh_forward_refusals_total", kind="local", reason="session_mode") or 0) >= 1,
          "metrics: the session-mode refusal is counted")


def check_kill_mid_transfer(s):
    """Kill the client mid-transfer: the connection's container and helper go; the daemon's fds come back."""
    base_fds = s.fds()
    base_rss = s.rss_kib()
    lport = free_port()
    client = subprocess.Popen(ssh_args(s, "-L", f"{lport}:127.0.0.1:9002") +
                              [ZEROES.format(port=9002)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    got = 0
    try:
        wait_port(lport, 30)
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", lport), timeout=10)
                got = len(sock.recv(65536))
                if got:
                    break
                sock.close()
            except OSError:
                pass
            time.sleep(0.1)
        for _ in range(200):
            got += len(sock.recv(1 << 20))
    finally:
        kill_group(client)
    check(got > 1000000, "kill mid-transfer: bytes were flowing through -L when the client was killed", str(got))
    gone = wait_until(lambda: not s.containers(), 60)
    check(gone, "kill mid-transfer: the connection's container (and its helper) is removed")
    back = wait_until(lambda: s.fds() <= base_fds, 30)
    check(back, "kill mid-transfer: the daemon's open fds return to the baseline", f"{s.fds()} vs {base_fds}")
    rss = s.rss_kib()
    if s.sanitized():
        # ASan's quarantine keeps freed memory: the RSS says nothing about leaks there (LSan does).
        print(f"INFO: kill mid-transfer: RSS {rss} KiB vs {base_rss} KiB (AddressSanitizer build: not judged)")
    else:
        check(rss <= base_rss + 16 * 1024,
              "kill mid-transfer: the daemon's RSS returns near the baseline (within 16 MiB)",
              f"{rss} KiB vs {base_rss} KiB", always_detail=True)
    open_now = s.metric("cssh_forward_connections_open", kind="local")
    check(open_now == 0, "kill mid-transfer: cssh_forward_connections_open{kind=local} is back to 0", str(open_now))


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="cssh-forwarding-")
    started = time.time()
    hooks = Webhooks()
    upper = UpperServer()
    every = ["forwardingMode: enable", "reverseForwardingMode: enable", "agentForwardingMode: enable",
             "x11ForwardingMode: enable"]
    servers = []
    try:
        s = Server(binary, tmp, "open", hooks.port, every)
        policy = Server(binary, tmp, "policy", hooks.port,
                        ["forwardingMode: filter", "permitOpen: [\"127.0.0.1:9000\"]", "reverseForwardingMode: filter",
                         "permitListen: [\"9500\"]"])
        session = Server(binary, tmp, "session", hooks.port, ["forwardingMode: enable", "reverseForwardingMode: enable"],
                         mode="session")
        servers = [s, policy, session]
        check_openssh_local_and_socks(s)
        check_openssh_remote(s, upper)
        check_openssh_agent(s, policy)
        asyncio.run(asyncssh_checks(s, upper))
        paramiko_check(s)
        check_no_session(s, upper)
        asyncio.run(stalled_reader_check(s))
        asyncio.run(refusal_checks(policy, session))
        check_kill_mid_transfer(s)
        total = s.metric("cssh_forward_connections_total", kind="local") or 0
        check(total >= PARALLEL, "metrics: cssh_forward_connections_total{kind=local} counts the forwards", str(total))
        moved = s.metric("cssh_forward_bytes_total", kind="local", direction="in") or 0
        check(moved > 1000000, "metrics: cssh_forward_bytes_total{kind=local,direction=in} counts the bytes",
              str(moved))
        for server in servers:
            rc = server.stop()
            # Under AddressSanitizer a leak found at exit makes this non-zero.
            check(rc == 0, f"server {server.name} exits 0 on SIGTERM", str(rc))
        check_nothing_left(servers)
    finally:
        for server in servers:
            if server.proc and server.proc.poll() is None:
                server.stop()
        upper.close()
        hooks.close()
    raise SystemExit(conclude("forwarding_test", servers, tmp, started, 80))


if __name__ == "__main__":
    main()
