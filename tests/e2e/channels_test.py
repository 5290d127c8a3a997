#!/usr/bin/python3
"""End-to-end test of session channels (issue 4) with real clients and the real dockerd.

Usage: channels_test.py BINARY [--full]

Drives the server with asyncssh, paramiko and OpenSSH: signals, exit-status/exit-signal,
pty and window changes, env, several channels on one connection, flow control under a
client that stops reading (daemon RSS bounded), byte-exact bulk transfer both ways, stdout
and stderr kept apart, refusals of unknown channel types and requests, global requests and
OpenSSH connection multiplexing. `--full` moves 100 MB each way (default: 20 MB).
"""

import asyncio
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asyncssh  # noqa: E402
import paramiko  # noqa: E402

from ops_lib import (PASSWORD, check, config_head, docker_section, failures, free_port,  # noqa: E402
                     start_auth_webhook, stop_process, summary, wait_port)

logging.getLogger("asyncssh").setLevel(logging.CRITICAL)
logging.getLogger("paramiko").setLevel(logging.CRITICAL)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, binary):
        self.tmp = tempfile.mkdtemp(prefix="cssh-channels-e2e.")
        self.webhook, webhook_port = start_auth_webhook(os.path.join(self.tmp, "webhook.log"),
                                                        "--users", f"alice:{PASSWORD}")
        self.port = free_port()
        config = os.path.join(self.tmp, "config.yaml")
        with open(config, "w") as f:
            f.write(config_head(self.port, self.tmp, f"http://127.0.0.1:{webhook_port}") + docker_section("session") +
                    "log:\n  level: info\n")
        self.log = os.path.join(self.tmp, "server.log")
        self.proc = subprocess.Popen([binary, "--config", config], stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        if not wait_port(self.port, 20):
            raise RuntimeError("server did not start: " + open(self.log).read()[-2000:])

    def close(self, keep):
        for p in (self.proc, self.webhook):
            stop_process(p, timeout=10)
        if keep:
            print(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


async def connect(server):
    return await asyncssh.connect("127.0.0.1", port=server.port, username="alice", password=PASSWORD,
                                  known_hosts=None, preferred_auth="password")


async def test_signals(server):
    async with await connect(server) as conn:
        proc = await conn.create_process("trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.1; done")
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        proc.send_signal("USR1")
        got = await asyncio.wait_for(proc.stdout.readline(), 10)
        check(line.strip() == "ready" and got.strip() == "got-usr1", "signal: USR1 reaches the program's trap",
              f"{line!r} {got!r}")
        proc.send_signal("KILL")
        await asyncio.wait_for(proc.wait_closed(), 15)
        check(proc.exit_signal is not None and proc.exit_signal[0] == "KILL",
              "exit-signal: a program killed by a delivered KILL is reported as signal KILL",
              f"status={proc.exit_status} signal={proc.exit_signal}")


async def test_break(server):
    async with await connect(server) as conn:
        proc = await conn.create_process("read line; echo after-break:$line")
        proc.channel.send_break(100)  # RFC 4335: refused (libssh has no break handler), not fatal
        await asyncio.sleep(0.3)
        proc.stdin.write("ok\n")
        out = await asyncio.wait_for(proc.stdout.readline(), 15)
        await proc.wait_closed()
        check(out.strip() == "after-break:ok" and proc.exit_status == 0,
              "break: refused cleanly, the channel keeps working", repr(out))


async def test_pty_and_window(server):
    async with await connect(server) as conn:
        proc = await conn.create_process("sleep 1; stty size; echo TERM=$TERM; read x; stty size",
                                         term_type="vt100", term_size=(100, 30))
        first = await asyncio.wait_for(proc.stdout.readline(), 15)
        term = await asyncio.wait_for(proc.stdout.readline(), 5)
        proc.change_terminal_size(120, 40)
        await asyncio.sleep(0.5)
        proc.stdin.write("go\n")
        rest = ""
        while "40 120" not in rest:
            chunk = await asyncio.wait_for(proc.stdout.read(1024), 10)
            if not chunk:
                break
            rest += chunk
        await proc.wait_closed()
        check(first.strip() == "30 100" and term.strip() == "TERM=vt100",
              "pty-req: the program sees the requested size and TERM", f"{first!r} {term!r}")
        check("40 120" in rest, "window-change: the program sees the new size", repr(rest[-100:]))


async def test_env_and_exit_codes(server):
    async with await connect(server) as conn:
        r = await conn.run("echo $GREETING", env={"GREETING": "hello-env"}, check=False)
        check(r.stdout.strip() == "hello-env", "env: a variable sent with an env request reaches the program",
              repr(r.stdout))
        codes = [0, 1, 2, 42, 126, 127, 128, 200, 254, 255]
        results = await asyncio.gather(*(conn.run(f"exit {c}", check=False) for c in codes))
        got = [r.exit_status for r in results]
        check(got == codes, "exit-status: codes 0..255 arrive exactly (sample of 10)", f"{got}")


async def test_concurrent_channels(server):
    async with await connect(server) as conn:
        start = time.time()
        results = await asyncio.gather(*(conn.run(f"sleep 2; echo channel-{i}", check=False) for i in range(4)))
        took = time.time() - start
        outs = [r.stdout.strip() for r in results]
        check(outs == [f"channel-{i}" for i in range(4)] and took < 7,
              f"four concurrent channels on one connection finish together ({took:.1f}s)", f"{outs}")


async def test_stdout_stderr_apart(server):
    async with await connect(server) as conn:
        r = await conn.run("i=0; while [ $i -lt 500 ]; do echo out; echo err >&2; i=$((i+1)); done", check=False)
        out_lines = r.stdout.splitlines()
        err_lines = r.stderr.splitlines()
        check(out_lines == ["out"] * 500 and err_lines == ["err"] * 500,
              "stdout and stderr stay apart (500 interleaved lines each)",
              f"{len(out_lines)} out, {len(err_lines)} err")


async def test_burst_then_exit(server):
    async with await connect(server) as conn:
        r = await conn.run("head -c 5000000 /dev/zero; exit 0", encoding=None, check=False)
        check(len(r.stdout) == 5000000 and r.exit_status == 0,
              "exit 0 right after a 5 MB burst delivers every byte", f"{len(r.stdout)} bytes, status {r.exit_status}")


async def test_bulk(server, megabytes):
    size = megabytes * 1000 * 1000
    async with await connect(server) as conn:
        cmd = f"head -c {size} /dev/urandom > /tmp/data && md5sum /tmp/data >&2 && cat /tmp/data"
        start = time.time()
        r = await conn.run(cmd, encoding=None, check=False)
        took = time.time() - start
        expected = r.stderr.split()[0].decode() if r.stderr else ""
        check(len(r.stdout) == size and hashlib.md5(r.stdout).hexdigest() == expected,
              f"{megabytes} MB through stdout arrive byte-exact ({size / took / 1e6:.0f} MB/s incl. generation)")
        payload = os.urandom(size)
        start = time.time()
        r = await conn.run("md5sum", input=payload, encoding=None, check=False)
        took = time.time() - start
        got = r.stdout.split()[0].decode() if r.stdout else ""
        check(got == hashlib.md5(payload).hexdigest() and r.exit_status == 0,
              f"{megabytes} MB through stdin arrive byte-exact ({size / took / 1e6:.0f} MB/s)", got)


class CountingSession(asyncssh.SSHClientSession):
    """Counts the bytes it receives and tells when the channel is gone."""

    def __init__(self):
        self.received = 0
        self.closed = asyncio.get_event_loop().create_future()

    def data_received(self, data, datatype):
        self.received += len(data)

    def connection_lost(self, exc):
        if not self.closed.done():
            self.closed.set_result(True)


async def test_slow_reader(server):
    """A client that stops reading: the daemon must stop reading the container, not buffer."""
    size = 200 * 1000 * 1000
    baseline = rss_kb(server.proc.pid)
    async with await connect(server) as conn:
        chan, session = await conn.create_session(CountingSession, f"head -c {size} /dev/zero", encoding=None)
        chan.pause_reading()
        await asyncio.sleep(6)  # the container writes as fast as it can meanwhile
        during = rss_kb(server.proc.pid)
        paused_at = session.received
        chan.resume_reading()
        await asyncio.wait_for(session.closed, 120)
    growth_mb = (during - baseline) / 1024
    check(growth_mb < 64 and paused_at < size // 4,
          f"a client that stops reading 200 MB: daemon RSS grew {growth_mb:.1f} MB (bounded)",
          f"received {paused_at} bytes while paused")
    check(session.received == size, "... and every byte arrives once it reads again", f"{session.received} of {size}")


def test_paramiko_refusals(server):
    t = paramiko.Transport(("127.0.0.1", server.port))
    try:
        t.connect(username="alice", password=PASSWORD)
        try:
            t.open_channel("bogus-type@example.com", timeout=5)
            check(False, "an unknown channel type is refused")
        except paramiko.ChannelException:
            check(True, "an unknown channel type is refused")
        except Exception as e:  # noqa: BLE001
            check(False, "an unknown channel type is refused", repr(e))
        chan = t.open_session(timeout=5)
        try:
            chan.invoke_subsystem("no-such-subsystem")
            check(False, "an unknown subsystem is refused")
        except paramiko.SSHException:
            check(True, "an unknown subsystem is refused")
        chan.close()
        start = time.time()
        answer = t.global_request("keepalive@openssh.com", wait=True)
        check(time.time() - start < 5, "keepalive@openssh.com gets a prompt reply",
              "no reply" if answer is None else "")
        start = time.time()
        answer = t.global_request("unknown-request@example.com", wait=True)
        check(answer is None and time.time() - start < 5, "an unknown global request gets a prompt failure reply")
        chan = t.open_session(timeout=5)
        chan.exec_command("echo still-usable")
        check(chan.makefile().read().strip() == b"still-usable", "... and the connection stays usable")
        t.global_request("no-more-sessions@openssh.com", wait=False)
        time.sleep(0.2)
        try:
            t.open_session(timeout=5)
            check(False, "no-more-sessions@openssh.com: later session channels are refused")
        except (paramiko.ChannelException, paramiko.SSHException, EOFError):
            check(True, "no-more-sessions@openssh.com: later session channels are refused")
    finally:
        t.close()


def test_openssh(server):
    base = ["ssh", "-F", "/dev/null", "-p", str(server.port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "PreferredAuthentications=password"]
    r = subprocess.run(["sshpass", "-p", PASSWORD] + base + ["-o", "SetEnv=FOO=from-setenv", "alice@127.0.0.1",
                                                             "echo $FOO"], capture_output=True, text=True, timeout=30)
    check(r.stdout.strip() == "from-setenv", "OpenSSH SetEnv reaches the program", repr(r.stdout + r.stderr))
    sock = os.path.join(server.tmp, "control.sock")
    master = subprocess.Popen(["sshpass", "-p", PASSWORD] + base + ["-M", "-S", sock, "-N", "alice@127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        outs = []
        procs = [subprocess.Popen(["ssh", "-S", sock, "-p", str(server.port), "alice@127.0.0.1", f"echo mux-{i}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
        for p in procs:
            out, _ = p.communicate(timeout=30)
            outs.append(out.strip())
        check(outs == ["mux-0", "mux-1", "mux-2"], "OpenSSH ControlMaster: three sessions share one connection",
              f"{outs}")
    finally:
        # Only the sessions are checked here; a master slow to end under load (seen once in CI
        # under ASan) is killed instead of failing the suite.
        os.killpg(master.pid, signal.SIGTERM)
        try:
            master.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(master.pid, signal.SIGKILL)
            master.wait(timeout=10)


async def run_all(server, megabytes):
    await test_signals(server)
    await test_break(server)
    await test_pty_and_window(server)
    await test_env_and_exit_codes(server)
    await test_concurrent_channels(server)
    await test_stdout_stderr_apart(server)
    await test_burst_then_exit(server)
    await test_bulk(server, megabytes)
    await test_slow_reader(server)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__)
        return 2
    megabytes = 100 if "--full" in sys.argv else 20
    server = Server(os.path.abspath(args[0]))
    ok = False
    try:
        asyncio.run(run_all(server, megabytes))
        test_paramiko_refusals(server)
        test_openssh(server)
        alive = server.proc.poll() is None
        check(alive, "the server survived every test")
        ok = not failures
    finally:
        server.close(keep=not ok)
    left = subprocess.run(["docker", "ps", "-aq", "--filter", "label=containerssh_cpp"], capture_output=True,
                          text=True).stdout.split()
    print(f"INFO: containers labelled containerssh_cpp after the run: {len(left)}")
    return summary("e2e_channels_full" if "--full" in sys.argv else "e2e_channels")


if __name__ == "__main__":
    sys.exit(main())
