#!/usr/bin/python3
"""Two server instances behind a real HAProxy (Debian's haproxy, TCP mode, send-proxy-v2,
HTTP health checks on each instance's health port), on loopback (issue 10).

Usage: haproxy_test.py BINARY [--full]

Clients (OpenSSH, bound to 127.0.0.2) log in through HAProxy on 127.0.0.1; each runs
`echo $SSH_CLIENT`. Phases:
 1. logins spread round-robin: both instances serve some;
 2. long sessions (`sleep 3; echo done`) on both, then SIGTERM to instance A while more logins
    run: A's health turns 503, HAProxy marks it down, A's long sessions finish normally, every
    login succeeds (through B once A stopped accepting), A exits 0 with none of its containers;
 3. more logins, all through B;
then B is stopped (exit 0) and no container of either instance remains. Every login's webhook
call and $SSH_CLIENT carry 127.0.0.2, the client's real address, never HAProxy's 127.0.0.1.
Default: 40 logins in all; --full: 210 (label e2e_full).
"""

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_lib import (PASSWORD, Server, check, finish, free_port, health, remove_containers,  # noqa: E402
                     ssh_options, wait_until)
from webhook_lib import RecordingWebhook as Webhook  # noqa: E402

CLIENT_IP = "127.0.0.2"
SSH_OPTS = ssh_options("-b", CLIENT_IP, connect_timeout=20)


def login(port, user, command="echo $SSH_CLIENT"):
    """One OpenSSH login through the balancer; (ok, output or error, seconds)."""
    started = time.time()
    try:
        r = subprocess.run(["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, "-p", str(port), f"{user}@127.0.0.1",
                            command], capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        return False, "timed out", time.time() - started
    took = time.time() - started
    if r.returncode != 0:
        return False, f"rc={r.returncode} err={r.stderr.strip()[-200:]!r}", took
    return True, r.stdout.strip(), took


class HAProxy:
    def __init__(self, tmp, servers):
        self.port = free_port()
        self.dir = os.path.join(tmp, "haproxy")
        os.makedirs(self.dir, exist_ok=True)
        self.stats = os.path.join(self.dir, "stats.sock")
        self.config = os.path.join(self.dir, "haproxy.cfg")
        lines = [
            "global",
            f"  stats socket {self.stats} level admin",
            "  maxconn 4000",
            "defaults",
            "  mode tcp",
            "  timeout connect 5s",
            "  timeout client 5m",
            "  timeout server 5m",
            "  timeout check 2s",
            # A refused connection (an instance that stopped accepting) is tried again on another.
            "  retries 3",
            "  option redispatch 1",
            "frontend ssh",
            f"  bind 127.0.0.1:{self.port}",
            "  default_backend containerssh",
            "backend containerssh",
            "  balance roundrobin",
            "  option httpchk GET /",
            "  http-check expect status 200",
            "  default-server send-proxy-v2 check inter 500ms fall 1 rise 2",
        ]
        for s in servers:
            lines.append(f"  server {s.name} 127.0.0.1:{s.port} check port {s.health_port}")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = os.path.join(self.dir, "haproxy.log")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.config], stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)

    def status(self, server):
        """The server's state in HAProxy ("UP", "DOWN", ...), via the stats socket."""
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(3)
                s.connect(self.stats)
                s.sendall(b"show stat\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError:
            return None
        lines = data.decode().splitlines()
        if not lines:
            return None
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "containerssh" and row.get("svname") == server:
                return row.get("status")
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def iso_seconds(timestamp):
    """Seconds since midnight of a log timestamp ("2024-05-01T10:00:00.123456Z")."""
    h, m, sec = timestamp[11:].rstrip("Z").split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


def served(server):
    return len(server.log_lines("SSH_CONNECTED"))


def run_logins(port, users, workers):
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for user, (ok, out, took) in zip(users, pool.map(lambda u: login(port, u), users)):
            results.append((user, ok, out, took))
    return results


def check_batch(name, results):
    failed = [(u, out) for u, ok, out, _ in results if not ok]
    check(not failed, f"{name}: all {len(results)} logins succeed", f"{len(failed)} failed, e.g. {failed[:3]}")
    wrong = [(u, out) for u, ok, out, _ in results if ok and not out.startswith(CLIENT_IP + " ")]
    check(not wrong, f"{name}: $SSH_CLIENT is the client's real address {CLIENT_IP}", str(wrong[:3]))
    times = sorted(t for _, ok, _, t in results if ok)
    if times:
        print(f"measured: {name}: login+exec median {times[len(times) // 2]:.2f}s, max {times[-1]:.2f}s",
              flush=True)


def main():
    binary = sys.argv[1]
    full = "--full" in sys.argv[2:]
    n1, n_long, n2, n3, workers = (80, 10, 80, 40, 8) if full else (12, 4, 16, 8, 4)
    tmp = tempfile.mkdtemp(prefix="cssh-haproxy-")
    webhook = Webhook()
    ssh_extra = ("  maxStartupsPerSource: 100\n"
                 "  proxyProtocol:\n    enable: true\n    allowedSources: [127.0.0.1/32]\n")
    a = Server(binary, tmp, "a", webhook.port, ssh_extra=ssh_extra, health_port=free_port(),
               extra="shutdownTimeout: 20s\n").start()
    b = Server(binary, tmp, "b", webhook.port, ssh_extra=ssh_extra, health_port=free_port(),
               extra="shutdownTimeout: 20s\n").start()
    haproxy = HAProxy(tmp, [a, b])
    total = 0
    try:
        check(wait_until(lambda: haproxy.status("a") == "UP" and haproxy.status("b") == "UP", 15),
              "HAProxy sees both instances UP through their health ports",
              f"a={haproxy.status('a')} b={haproxy.status('b')} log={open(haproxy.log).read()[-500:]!r}")

        # --- 1: spread ---------------------------------------------------------------------
        results = run_logins(haproxy.port, [f"p1u{i}" for i in range(n1)], workers)
        total += len(results)
        check_batch("phase 1", results)
        check(served(a) >= n1 // 4 and served(b) >= n1 // 4, "phase 1: logins are spread over both instances",
              f"a={served(a)} b={served(b)}")

        # --- 2: SIGTERM to A mid-run ---------------------------------------------------------
        long_results = {}

        def long_session(i):
            long_results[i] = login(haproxy.port, f"long{i}", "sleep 3; echo done")

        long_threads = [threading.Thread(target=long_session, args=(i,)) for i in range(n_long)]
        for t in long_threads:
            t.start()
        on_a_before = served(a)
        check(wait_until(lambda: len(a.containers()) >= 1 and len(b.containers()) >= 1, 20),
              "phase 2: long sessions run on both instances", f"a={len(a.containers())} b={len(b.containers())}")
        a_long = len(a.containers())
        phase2 = {}

        def logins_during():
            phase2["results"] = run_logins(haproxy.port, [f"p2u{i}" for i in range(n2)], workers)

        during = threading.Thread(target=logins_during)
        during.start()
        time.sleep(0.3)
        signalled = time.time()
        a.send(signal.SIGTERM)
        check(wait_until(lambda: health(a.health_port) == 503, 3), "A's health answers 503 after SIGTERM")
        check(wait_until(lambda: (haproxy.status("a") or "").startswith("DOWN"), 5),
              "HAProxy marks A down", str(haproxy.status("a")))
        print(f"measured: HAProxy marked A down {time.time() - signalled:.2f}s after SIGTERM", flush=True)
        for t in long_threads:
            t.join(90)
        during.join(300)
        long_ok = [long_results.get(i, (False, "missing", 0)) for i in range(n_long)]
        check(all(ok and out == "done" for ok, out, _ in long_ok),
              f"phase 2: all {n_long} long sessions (about {a_long} on A) finish normally across the SIGTERM",
              str([r for r in long_ok if not (r[0] and r[1] == "done")][:3]))
        total += n_long
        results = phase2.get("results", [])
        total += len(results)
        check(len(results) == n2, "phase 2: every login ran", f"{len(results)} of {n2}")
        check_batch("phase 2 (A draining)", results)
        try:
            a.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        stopping, stopped = a.log_lines("SERVER_STOPPING"), a.log_lines("SERVER_STOPPED")
        if stopping and stopped:
            drain = iso_seconds(stopped[-1]["timestamp"]) - iso_seconds(stopping[0]["timestamp"])
            print(f"measured: A drained and stopped {drain:.2f}s after SIGTERM "
                  f"({served(a) - on_a_before} connections reached A after phase 1)", flush=True)
        check(a.proc.returncode == 0, "A exits 0 after draining", f"exit {a.proc.returncode}")
        check(a.containers() == [], "none of A's containers remain", str(a.containers()))

        # --- 3: only B -------------------------------------------------------------------------
        on_b = served(b)
        results = run_logins(haproxy.port, [f"p3u{i}" for i in range(n3)], workers)
        total += len(results)
        check_batch("phase 3 (A gone)", results)
        check(served(b) - on_b == n3, "phase 3: every login went to B", f"{served(b) - on_b} of {n3}")

        # --- the webhook saw the clients, not the balancer -----------------------------------------
        with webhook.lock:
            addresses = [r["remoteAddress"] for r in webhook.requests]
        check(len(addresses) >= total and all(a_.startswith(CLIENT_IP + ":") for a_ in addresses),
              f"the auth webhook saw {CLIENT_IP} for all {len(addresses)} logins, never the balancer",
              str([x for x in addresses if not x.startswith(CLIENT_IP + ":")][:3]))
        print(f"measured: {total} logins in all: A served {served(a)}, B served {served(b)}", flush=True)
    finally:
        code_b = b.stop(signal.SIGTERM)
        code_a = a.stop(signal.SIGTERM)
        haproxy.stop()
        check(code_b == 0 and code_a == 0, "both instances exit 0 on SIGTERM", f"a={code_a} b={code_b}")
        left = remove_containers(a.instance) + remove_containers(b.instance)
        check(left == 0, "zero containers of either instance remain after both stopped", f"{left} left")
        webhook.close()
    finish("e2e_haproxy_full" if "--full" in sys.argv else "e2e_haproxy")


if __name__ == "__main__":
    main()
