#!/usr/bin/python3
"""End-to-end test of connection timeouts and graceful shutdown (issue 10).

Usage: lifecycle_test.py BINARY

Server T (ssh.idleTimeout 2s, ssh.sessionTimeout 6s):
- OpenSSH running `sleep 30` (no data either way) is closed about 2s after login, with the
  idleTimeout message on stderr, SSH_IDLE_TIMEOUT logged, its container removed;
- a program printing every 0.4s is not idle, and is closed about 6s after connecting with the
  sessionTimeout message; asyncssh is told likewise;
- cssh_connection_timeouts_total counts both.
Server S (shutdownTimeout 4s, health on), SIGTERM while two sessions run:
- health answers 503 and new connections are refused at once;
- the session that ends within the grace time finishes normally (its output and exit code 0);
- the one still running is closed about 4s after the signal, its container removed;
- the process exits 0 and none of its containers remain.
Server Q: SIGTERM with no session exits at once; with one session, a second SIGTERM ends the
wait early.
Server P, pinned to one CPU with taskset: SERVER_WORKERS says 1 usable CPU (from the affinity
mask) and 2 actor workers, and the daemon's threads carry their names (cssh-listener,
cssh-reactor, and cssh-session while a session runs).
"""

import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asyncssh  # noqa: E402

from ops_lib import (PASSWORD, Server, check, finish, free_port, health, metric, remove_containers,  # noqa: E402
                     ssh_options, wait_until)
from webhook_lib import RecordingWebhook as Webhook  # noqa: E402

logging.getLogger("asyncssh").setLevel(logging.CRITICAL)

SSH_OPTS = ssh_options("-o", "ServerAliveInterval=0")


def running_containers(server):
    """The server's containers whose program runs (`server.containers()` also lists created ones)."""
    out = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter", "status=running"], capture_output=True,
                         text=True, timeout=60).stdout.split()
    return [c for c in server.containers() if c in out]


def ssh_cmd(port, command, user="alice"):
    return ["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, "-p", str(port), f"{user}@127.0.0.1", command]


class Timed:
    """An OpenSSH client run in the background; records when it ended."""

    def __init__(self, port, command, user="alice"):
        self.started = time.time()
        self.proc = subprocess.Popen(ssh_cmd(port, command, user), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.out = self.err = ""
        self.ended = None
        self.thread = threading.Thread(target=self._wait)
        self.thread.start()

    def _wait(self):
        self.out, self.err = self.proc.communicate(timeout=120)
        self.ended = time.time()

    def join(self, timeout=60):
        self.thread.join(timeout)
        return self

    @property
    def took(self):
        return (self.ended or time.time()) - self.started


def test_timeouts(binary, tmp, webhook):
    metrics_port = free_port()
    server = Server(binary, tmp, "timeouts", webhook.port, metrics_port=metrics_port,
                    ssh_extra="  idleTimeout: 2s\n  sessionTimeout: 6s\n").start()
    try:
        idle = Timed(server.port, "sleep 30", user="idler")
        busy = Timed(server.port, "while true; do echo tick; sleep 0.4; done", user="busy")
        # The idle one's container exists while it waits.
        check(wait_until(lambda: server.containers() != [], 10), "the sessions' containers run")
        idle.join()
        print(f"measured: idle session closed {idle.took:.2f}s after the client started", flush=True)
        check(idle.ended is not None and 2.0 <= idle.took <= 5.0,
              "idleTimeout 2s: a session without data is closed about 2s after login", f"took {idle.took:.2f}s")
        check("no data for 2s (idleTimeout)" in idle.err, "the idle client is told why on stderr",
              repr(idle.err[-300:]))
        busy.join()
        ticks = busy.out.count("tick")
        print(f"measured: busy session closed {busy.took:.2f}s after the client started", flush=True)
        check(busy.ended is not None and 6.0 <= busy.took <= 8.5 and ticks >= 10,
              "sessionTimeout 6s: a busy session is not idle and is closed about 6s after connecting",
              f"took {busy.took:.2f}s, {ticks} ticks")
        check("time limit (sessionTimeout 6s)" in busy.err, "the client is told why on stderr", repr(busy.err[-300:]))
        check(wait_until(lambda: server.containers() == [], 15), "both containers are removed",
              str(server.containers()))
        check(len(server.log_lines("SSH_IDLE_TIMEOUT")) == 1 and len(server.log_lines("SSH_SESSION_TIMEOUT")) == 1,
              "SSH_IDLE_TIMEOUT and SSH_SESSION_TIMEOUT logged once each")

        # asyncssh: the reason arrives on the channel's stderr before the connection closes.
        async def idle_asyncssh():
            conn = await asyncssh.connect("127.0.0.1", port=server.port, username="async", password=PASSWORD,
                                          known_hosts=None, preferred_auth="password")
            start = time.time()
            try:
                result = await conn.run("sleep 30", check=False)
                return str(result.stderr), time.time() - start
            except Exception as e:  # noqa: BLE001 - the finding
                return repr(e), time.time() - start
            finally:
                conn.close()
        told, took = asyncio.run(idle_asyncssh())
        print(f"measured: asyncssh idle session ended after {took:.2f}s", flush=True)
        check(1.8 <= took <= 5.0 and "idleTimeout" in told and
              wait_until(lambda: len(server.log_lines("SSH_IDLE_TIMEOUT")) == 2, 5),
              "asyncssh: an idle session is closed at idleTimeout, told why on stderr", f"{told!r} after {took:.2f}s")
        check(metric(metrics_port, "cssh_connection_timeouts_total", {"kind": "idle"}) == 2 and
              metric(metrics_port, "cssh_connection_timeouts_total", {"kind": "session"}) == 1,
              "cssh_connection_timeouts_total counts idle and session timeouts")
        check(wait_until(lambda: server.containers() == [], 15), "no container remains after the timeouts")
    finally:
        code = server.stop()
        check(code == 0, "the timeouts server exits 0 on SIGTERM", f"exit {code}")
        remove_containers(server.instance)


def test_shutdown(binary, tmp, webhook):
    health_port = free_port()
    server = Server(binary, tmp, "drain", webhook.port, health_port=health_port,
                    extra="shutdownTimeout: 4s\n").start()
    try:
        check(wait_until(lambda: health(health_port) == 200, 10), "health answers 200 before the signal")
        short = Timed(server.port, "sleep 2.5; echo finished; exit 0", user="short")
        long = Timed(server.port, "sleep 60", user="long")
        # Running, not only created: under load a container can exist a while before its program
        # starts, and the short session's 2.5 s must begin before the signal for its check to hold.
        check(wait_until(lambda: len(running_containers(server)) == 2, 15), "two sessions run", str(server.containers()))
        signalled = time.time()
        server.send(signal.SIGTERM)
        check(wait_until(lambda: health(health_port) == 503, 2), "draining: health answers 503 at once")
        refused = subprocess.run(ssh_cmd(server.port, "true", "late"), capture_output=True, text=True, timeout=30)
        check(refused.returncode == 255 and "refused" in refused.stderr,
              "draining: a new connection is refused", f"rc={refused.returncode} err={refused.stderr[-200:]!r}")
        short.join()
        check(short.proc.returncode == 0 and short.out.strip() == "finished",
              "a session ending within shutdownTimeout finishes normally",
              f"rc={short.proc.returncode} out={short.out!r} err={short.err[-200:]!r}")
        long.join()
        closed_after = long.ended - signalled if long.ended else None
        print(f"measured: running session closed {closed_after}s after SIGTERM", flush=True)
        check(closed_after is not None and 3.8 <= closed_after <= 7.0,
              "the session still running is closed about shutdownTimeout (4s) after SIGTERM",
              f"after {closed_after}")
        check("the server is shutting down (shutdownTimeout reached)" in long.err,
              "the cut session is told why on stderr", repr(long.err[-300:]))
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        exited_after = time.time() - signalled
        check(server.proc.returncode == 0 and exited_after <= 12, "the process exits 0 after the drain",
              f"exit {server.proc.returncode} after {exited_after:.1f}s")
        check(server.containers() == [], "no container of the drained server remains", str(server.containers()))
        check(len(server.log_lines("SERVER_SHUTDOWN_TIMEOUT")) == 1 and
              server.log_lines("SERVER_SHUTDOWN_TIMEOUT")[0]["details"].get("connections") == 1,
              "SERVER_SHUTDOWN_TIMEOUT names the one connection it closed")
        check(len(server.log_lines("SERVER_STOPPED")) == 1, "SERVER_STOPPED logged")
    finally:
        server.stop()
        remove_containers(server.instance)


def test_quick_stops(binary, tmp, webhook):
    server = Server(binary, tmp, "quick", webhook.port, extra="shutdownTimeout: 60s\n").start()
    try:
        started = time.time()
        code = server.stop(timeout=30)
        took = time.time() - started
        check(code == 0 and took < 3, "without sessions, SIGTERM exits 0 at once despite shutdownTimeout 60s",
              f"exit {code} after {took:.1f}s")
        server.start()
        session = Timed(server.port, "sleep 60", user="waiter")
        check(wait_until(lambda: len(server.containers()) == 1, 15), "one session runs")
        started = time.time()
        server.send(signal.SIGTERM)
        time.sleep(1.0)
        check(server.proc.poll() is None, "with a session, the server waits after the first SIGTERM")
        server.send(signal.SIGTERM)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        took = time.time() - started
        session.join()
        check(server.proc.returncode == 0 and took < 8, "a second SIGTERM ends the wait: exit 0 well before 60s",
              f"exit {server.proc.returncode} after {took:.1f}s")
        check(server.containers() == [], "no container remains after the second signal", str(server.containers()))
    finally:
        server.stop()
        remove_containers(server.instance)


def thread_names(pid):
    names = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                names.add(f.read().strip())
        except OSError:
            pass
    return names


def test_pinned_workers(binary, tmp, webhook):
    server = Server(binary, tmp, "pinned", webhook.port)
    server.launcher = ("taskset", "-c", "0")
    server.start()
    try:
        lines = server.log_lines("SERVER_WORKERS")
        entry = lines[-1] if lines else {}
        details = entry.get("details", {})
        check(details.get("usableCpus") == 1 and details.get("cpuSource") == "affinity" and
              entry.get("message", "").startswith("2 actor worker threads"),
              "pinned to one CPU: SERVER_WORKERS counts 1 usable CPU from the affinity mask, and runs 2 workers",
              repr(entry))
        session = Timed(server.port, "sleep 4", user="pinned")
        check(wait_until(lambda: len(server.containers()) == 1, 15), "the pinned server runs a session")
        names = thread_names(server.proc.pid)
        check({"cssh-listener", "cssh-reactor", "cssh-session"} <= names, "the daemon's threads are named",
              str(sorted(names)))
        session.join()
        check(session.proc.returncode == 0, "the pinned server's session ends normally",
              f"exit {session.proc.returncode}: {session.err[-300:]!r}")
    finally:
        server.stop()
        remove_containers(server.instance)


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="cssh-lifecycle-")
    webhook = Webhook()
    try:
        test_timeouts(binary, tmp, webhook)
        test_shutdown(binary, tmp, webhook)
        test_quick_stops(binary, tmp, webhook)
        test_pinned_workers(binary, tmp, webhook)
    finally:
        webhook.close()
    finish("e2e_lifecycle")


if __name__ == "__main__":
    main()
