#!/usr/bin/python3
"""End-to-end test of execution (issue 6): session and connection modes, signals, exit codes,
cleanup and orphan reaping, with the real server, the real dockerd and real clients.

Usage: execution_test.py BINARY

Servers (each on its own port, so each has its own derived instance id and its containers are
told apart by the label containerssh_instance):
  A  session mode,    readonlyrootfs with a tmpfs /tmp (the helper's volume must work there)
  B  connection mode, readonlyrootfs with a tmpfs /tmp
  C  session mode,    disableCommand, disableShell, disableSubsystem
  D  connection mode, the same three disabled
Checked in A and B: exec stdout/stderr/exit codes (OpenSSH), `ssh -tt` whose first command sees
the client's terminal size, an asyncssh shell likewise, env requests + the auth answer's
environment + SSH_* variables, sftp -b put/get and scp with checksums, TERM to `sleep` (asyncssh:
exit-signal TERM), a trap for USR1, a client killed mid-command leaving no container; in B two
sessions on one connection (asyncssh, and OpenSSH multiplexing with scp) sharing the container's
filesystem. In C and D the refusals. Finally A and B are killed with SIGKILL while sessions run,
restarted, and must remove their orphans before serving again. No container of ours may remain.
"""

import asyncio
import base64
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

from ops_lib import (PASSWORD, ServerProcess, check, check_nothing_left, conclude, config_head,  # noqa: E402
                     docker_section, free_port, kill_group, ssh_options, wait_until)
from webhook_lib import JsonWebhook, password_of  # noqa: E402

logging.getLogger("asyncssh").setLevel(logging.CRITICAL)


# --- the auth webhook: admits alice, answers with an environment variable -------------------

class Webhook(JsonWebhook):
    def __init__(self):
        self.connection_ids = set()
        super().__init__(self.answer)

    def answer(self, path, body, reply):
        self.connection_ids.add(body.get("connectionId", ""))
        user = body.get("username")
        ok = path.endswith("/password") and user in ("alice", "filer") and password_of(body) == PASSWORD
        answer = {"success": ok}
        if ok:
            answer["environment"] = {"AUTH_ENV": {"value": "from-webhook", "sensitive": False}}
        if ok and user == "filer":
            answer["files"] = {"/etc/cssh-from-auth": {"value": base64.b64encode(b"auth-file\n").decode(),
                                                       "sensitive": False}}
        return 200, answer


# --- a server ---------------------------------------------------------------------------------

class Server(ServerProcess):
    """A server on a port of its own (hence its own derived instance id); `execution` is the
    lines under docker.execution (mode and options). Started at once."""

    listen_timeout = 30
    stop_timeout = 15

    def __init__(self, binary, tmp, name, webhook_port, execution):
        super().__init__(binary, os.path.join(tmp, name), name)
        self.port = free_port()
        self.write_config(config_head(self.port, self.dir, f"http://127.0.0.1:{webhook_port}") +
                          docker_section(execution_extra=execution) + "log:\n  level: debug\n")
        self.start()


# BatchMode=no: `sftp -b` turns batch mode on, which would forbid the password sshpass types.
SSH_OPTS = ssh_options("-o", "BatchMode=no")


def ssh(server, *args, stdin=subprocess.DEVNULL, timeout=60, options=(), user="alice"):
    cmd = ["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, *options, "-p", str(server.port), f"{user}@127.0.0.1", *args]
    return subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=timeout)


def ssh_in_terminal(server, rows, cols, command, timeout=60):
    """OpenSSH with -tt inside a terminal of the given size (util-linux `script`), as a person types."""
    inner = " ".join(["stty", "rows", str(rows), "cols", str(cols), ";", "sshpass", "-p", PASSWORD, "ssh",
                      *SSH_OPTS, "-tt", "-p", str(server.port), "alice@127.0.0.1", f"'{command}'"])
    return subprocess.run(["script", "-qec", inner, "/dev/null"], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)


async def connect(server):
    return await asyncssh.connect("127.0.0.1", port=server.port, username="alice", password=PASSWORD,
                                  known_hosts=None, preferred_auth="password")


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


# --- checks for both modes ----------------------------------------------------------------------

def check_exec_and_exit_codes(s, mode):
    r = ssh(s, "echo hello; echo oops >&2; exit 3")
    check(r.stdout == b"hello\n" and r.stderr == b"oops\n" and r.returncode == 3,
          f"{mode}: exec relays stdout, stderr and exit code 3", f"{r.stdout!r} {r.stderr!r} {r.returncode}")
    codes = {}
    for code in (0, 1, 42, 255):
        codes[code] = ssh(s, f"exit {code}").returncode
    check(all(k == v for k, v in codes.items()), f"{mode}: exit codes 0, 1, 42, 255 arrive", f"{codes}")
    r = ssh(s, "/bin/echo a   'b c'")
    check(r.stdout == b"a b c\n", f"{mode}: a command starting with / runs as an argument list", repr(r.stdout))
    r = ssh(s, "/no/such/program")
    check(r.returncode == 127 and b"/no/such/program" in r.stderr,
          f"{mode}: a missing program exits 127 naming it", f"{r.returncode} {r.stderr[-200:]!r}")


def check_terminal_size(s, mode):
    r = ssh_in_terminal(s, 33, 77, "stty size; echo TERM=$TERM; exit 4")
    # `script` echoes the NUL its empty stdin produces (as "^@") before the session's output.
    out = r.stdout.replace(b"\x00", b"").replace(b"^@", b"").decode(errors="replace").replace("\r", "")
    lines = [line for line in out.split("\n") if line]
    check(r.returncode == 4 and lines[:1] == ["33 77"] and "TERM=" in out and "TERM=\n" not in out,
          f"{mode}: ssh -tt: the program's first `stty size` sees the client's 33x77 terminal, exit code 4",
          f"{r.returncode} {out[:200]!r}")


async def check_shell_and_env(s, mode):
    async with await connect(s) as conn:
        # A shell request, and `stty size` as its very first input.
        proc = await conn.create_process(term_type="xterm", term_size=(91, 27))
        proc.stdin.write("stty size; exit 7\n")
        out = ""
        try:
            while True:
                chunk = await asyncio.wait_for(proc.stdout.read(1024), 15)
                if not chunk:
                    break
                out += chunk
        except asyncio.TimeoutError:
            pass
        await asyncio.wait_for(proc.wait_closed(), 15)
        check("27 91" in out and proc.exit_status == 7,
              f"{mode}: shell with a pty: the first command sees 27x91, exit 7",
              f"{out[-200:]!r} status={proc.exit_status}")
        proc = await conn.create_process("read x; stty size", term_type="xterm", term_size=(80, 24))
        await asyncio.sleep(0.5)
        proc.change_terminal_size(132, 43)
        await asyncio.sleep(0.5)
        proc.stdin.write("go\n")
        resized = await asyncio.wait_for(proc.stdout.read(), 15)
        await asyncio.wait_for(proc.wait_closed(), 15)
        check("43 132" in resized, f"{mode}: window-change resizes the program's terminal", repr(resized[-100:]))
        r = await conn.run("echo $CLIENT_ENV/$AUTH_ENV/$USER/$LOGNAME/$SSH_CLIENT/$SSH_CONNECTION/$SSH_ORIGINAL_COMMAND",
                           env={"CLIENT_ENV": "from-client"}, check=False)
        parts = r.stdout.strip().split("/")
        local_port = conn.get_extra_info("sockname")[1]
        ok = len(parts) >= 7 and parts[:4] == ["from-client", "from-webhook", "alice", "alice"]
        ok = ok and parts[4] == f"127.0.0.1 {local_port} {s.port}"
        ok = ok and parts[5] == f"127.0.0.1 {local_port} 127.0.0.1 {s.port}" and parts[6].startswith("echo $CLIENT_ENV")
        check(ok, f"{mode}: env request, the auth answer's environment, USER, LOGNAME, SSH_CLIENT, SSH_CONNECTION, "
                  "SSH_ORIGINAL_COMMAND", repr(r.stdout))


async def check_signals(s, mode):
    async with await connect(s) as conn:
        start = time.time()
        proc = await conn.create_process("sleep 100")
        await asyncio.sleep(0.5)
        proc.send_signal("TERM")
        await asyncio.wait_for(proc.wait_closed(), 20)
        took = time.time() - start
        check(proc.exit_signal is not None and proc.exit_signal[0] == "TERM" and took < 10,
              f"{mode}: signal TERM ends `sleep 100`, reported as exit-signal TERM ({took:.1f}s)",
              f"status={proc.exit_status} signal={proc.exit_signal}")
        proc = await conn.create_process("trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.1; done")
        ready = await asyncio.wait_for(proc.stdout.readline(), 15)
        proc.send_signal("USR1")
        got = await asyncio.wait_for(proc.stdout.readline(), 10)
        proc.send_signal("KILL")
        await asyncio.wait_for(proc.wait_closed(), 20)
        check(ready.strip() == "ready" and got.strip() == "got-usr1" and proc.exit_signal is not None
              and proc.exit_signal[0] == "KILL",
              f"{mode}: USR1 reaches the program's trap; KILL then ends it (exit-signal KILL)",
              f"{ready!r} {got!r} {proc.exit_signal}")
        r = await conn.run("exit 143", check=False)
        check(r.exit_status == 143 and r.exit_signal is None,
              f"{mode}: exit 143 without a signal from us stays exit-status 143", f"{r.exit_status} {r.exit_signal}")


def check_sftp_scp(s, mode, tmp):
    local = os.path.join(tmp, f"{mode}-up.bin")
    with open(local, "wb") as f:
        f.write(os.urandom(1 << 20))
    down = os.path.join(tmp, f"{mode}-down.bin")
    batch = os.path.join(tmp, f"{mode}-batch")
    with open(batch, "w") as f:
        f.write(f"put {local} /tmp/up.bin\nget /tmp/up.bin {down}\n")
    r = subprocess.run(["sshpass", "-p", PASSWORD, "sftp", *SSH_OPTS, "-b", batch, "-P", str(s.port),
                        "alice@127.0.0.1"], capture_output=True, timeout=60)
    check(r.returncode == 0 and os.path.exists(down) and md5(down) == md5(local),
          f"{mode}: sftp -b put then get of 1 MiB: checksums match", f"rc={r.returncode} {r.stderr[-300:]!r}")
    got = os.path.join(tmp, f"{mode}-busybox")
    r = subprocess.run(["sshpass", "-p", PASSWORD, "scp", *SSH_OPTS, "-P", str(s.port),
                        "alice@127.0.0.1:/bin/busybox", got], capture_output=True, timeout=60)
    remote = ssh(s, "md5sum /bin/busybox").stdout.split()[:1]
    check(r.returncode == 0 and os.path.exists(got) and [md5(got).encode()] == remote,
          f"{mode}: scp (sftp protocol) download matches md5sum in the container",
          f"rc={r.returncode} {r.stderr[-300:]!r} {remote}")


def check_client_killed(s, mode):
    before = set(s.containers())
    client = subprocess.Popen(["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, "-p", str(s.port), "alice@127.0.0.1",
                               "sleep 100"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    appeared = wait_until(lambda: len(set(s.containers()) - before) > 0, 20)
    time.sleep(0.5)  # the program runs
    os.killpg(client.pid, signal.SIGKILL)
    client.wait()
    start = time.time()
    gone = wait_until(lambda: not (set(s.containers()) - before), 10)
    check(appeared and gone, f"{mode}: a client killed mid-command leaves no container "
                             f"(removed {time.time() - start:.1f}s after the kill)", f"appeared={appeared}")


# --- connection mode only -------------------------------------------------------------------------

async def check_shared_container(s):
    async with await connect(s) as conn:
        a = await conn.run("echo shared-$$ > /tmp/shared.txt; cat /proc/1/cgroup | tail -1; hostname", check=False)
        b = await conn.run("cat /tmp/shared.txt; cat /proc/1/cgroup | tail -1; hostname", check=False)
        first = a.stdout.split("\n")
        second = b.stdout.split("\n")
        check(second[0].startswith("shared-") and first == second[1:],
              "connection: two sessions on one connection share the container and its filesystem",
              f"{a.stdout!r} {b.stdout!r}")
        ids = s.containers()
        check(len(ids) == 1, "connection: one container for the connection, whatever its sessions", f"{ids}")
        # A channel the client closes while its program runs: the program must not stay behind in
        # the container the connection keeps.
        proc = await conn.create_process("exec sleep 4321")
        await asyncio.sleep(0.7)
        running = (await conn.run("ps -o args", check=False)).stdout
        proc.close()
        await asyncio.sleep(1.0)
        after = (await conn.run("ps -o args", check=False)).stdout
        check("sleep 4321" in running and "sleep 4321" not in after,
              "connection: closing a channel kills its program, the connection's container lives on",
              f"{running!r} / {after!r}")


def check_multiplexed_scp(s, tmp):
    control = os.path.join(tmp, "ctl")
    opts = ["-o", f"ControlPath={control}", "-p", str(s.port)]
    # The master stays in the foreground of its own sshpass: forking it away (-f) would leave
    # it without the terminal sshpass gives it.
    master = subprocess.Popen(["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, "-o", "ControlMaster=yes", "-N",
                               *opts, "alice@127.0.0.1"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, start_new_session=True)
    try:
        up_master = wait_until(lambda: os.path.exists(control), 20)
        local = os.path.join(tmp, "mux-up.bin")
        with open(local, "wb") as f:
            f.write(os.urandom(300000))
        up = subprocess.run(["scp", *SSH_OPTS, "-o", f"ControlPath={control}", "-P", str(s.port), local,
                             "alice@127.0.0.1:/tmp/mux.bin"], capture_output=True, timeout=30)
        remote = subprocess.run(["ssh", *SSH_OPTS, *opts, "alice@127.0.0.1", "md5sum /tmp/mux.bin"],
                                capture_output=True, timeout=30).stdout.split()[:1]
        back = os.path.join(tmp, "mux-down.bin")
        down = subprocess.run(["scp", *SSH_OPTS, "-o", f"ControlPath={control}", "-P", str(s.port),
                               "alice@127.0.0.1:/tmp/mux.bin", back], capture_output=True, timeout=30)
        check(up_master and up.returncode == 0 and down.returncode == 0
              and remote == [md5(local).encode()] and os.path.exists(back) and md5(back) == md5(local),
              "connection: scp up, md5sum and scp down as three sessions of one OpenSSH connection",
              f"master={up_master} {up.stderr[-200:]!r} {down.stderr[-200:]!r} {remote}")
    finally:
        subprocess.run(["ssh", *SSH_OPTS, *opts, "-O", "exit", "alice@127.0.0.1"], capture_output=True, timeout=30)
        try:
            master.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(master.pid, signal.SIGKILL)
            master.wait()


def check_auth_files(plain, readonly):
    r = ssh(plain, "cat /etc/cssh-from-auth; stat -c %a /etc/cssh-from-auth", user="filer")
    check(r.returncode == 0 and r.stdout == b"auth-file\n600\n",
          "connection: the auth answer's files are in the connection's container (mode 600) before a session runs",
          f"{r.returncode} {r.stdout!r} {r.stderr[-300:]!r}")
    r = ssh(readonly, "cat /etc/cssh-from-auth", user="filer")
    check(r.returncode != 0 and b"read-only" in r.stderr.replace(b"read only", b"read-only").lower(),
          "connection: with readonlyrootfs the auth answer's files fail the session with a clear message",
          f"{r.returncode} {r.stderr[-300:]!r}")


# --- the refusals -----------------------------------------------------------------------------------

def check_disabled(s, mode):
    r = ssh(s, "echo should-not-run")
    check(r.returncode == 255 and b"exec request failed" in r.stderr and b"should-not-run" not in r.stdout,
          f"{mode}: disableCommand refuses exec", f"{r.returncode} {r.stderr[-200:]!r}")
    r = ssh(s, options=("-tt",))
    check(r.returncode == 255 and b"shell request failed" in r.stderr,
          f"{mode}: disableShell refuses the shell", f"{r.returncode} {r.stderr[-200:]!r}")
    r = subprocess.run(["sshpass", "-p", PASSWORD, "sftp", *SSH_OPTS, "-b", "-", "-P", str(s.port),
                        "alice@127.0.0.1"], input=b"ls\n", capture_output=True, timeout=60)
    check(r.returncode != 0 and b"subsystem request failed" in r.stderr,
          f"{mode}: disableSubsystem refuses sftp", f"{r.returncode} {r.stderr[-200:]!r}")
    check(not s.containers(), f"{mode}: refused requests create no container")


# --- kill -9 and restart -----------------------------------------------------------------------------

def check_orphans_reaped(servers):
    clients = []
    for s in servers:
        for _ in range(2):
            clients.append(subprocess.Popen(["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, "-p", str(s.port),
                                             "alice@127.0.0.1", "sleep 100"], stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True))
    live = all(wait_until(lambda s=s: len(s.containers()) >= 2, 20) for s in servers)
    time.sleep(0.3)
    counts = {s.name: len(s.containers()) for s in servers}
    for s in servers:
        s.stop(signal.SIGKILL)
    for c in clients:
        kill_group(c)
    left = {s.name: len(s.containers()) for s in servers}
    check(live and all(left[n] >= 2 for n in left),
          "kill -9 of the servers with live sessions leaves their containers behind (orphans)",
          f"before={counts} after={left}")
    for s in servers:
        start = time.time()
        s.start()
        took = time.time() - start
        text = s.log_text()
        check(not s.containers() and "DOCKER_ORPHANS_REMOVED" in text.split("SSH_LISTENING")[-2],
              f"{s.name}: the restarted server removed its orphans before listening ({took:.1f}s to listen)",
              f"left={s.containers()}")
        r = ssh(s, "echo back")
        check(r.stdout == b"back\n", f"{s.name}: the restarted server serves again", repr(r.stdout + r.stderr))


# --- main ---------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) < 2:
        print("usage: execution_test.py BINARY", file=sys.stderr)
        return 2
    binary = sys.argv[1]
    for tool in ("docker", "sshpass", "ssh", "sftp", "scp", "script"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is not installed")
            return 1
    tmp = tempfile.mkdtemp(prefix="cssh-execution-e2e.")
    webhook = Webhook()
    readonly = ("    host:\n      readonlyrootfs: true\n      tmpfs:\n        /tmp: rw,size=16m\n")
    disabled = "    disableCommand: true\n    disableShell: true\n    disableSubsystem: true\n"
    servers = []
    started = time.time()
    try:
        a = Server(binary, tmp, "session", webhook.port, "    mode: session\n" + readonly)
        b = Server(binary, tmp, "connection", webhook.port, "    mode: connection\n" + readonly)
        c = Server(binary, tmp, "session-disabled", webhook.port, "    mode: session\n" + disabled)
        d = Server(binary, tmp, "connection-disabled", webhook.port, "    mode: connection\n" + disabled)
        e = Server(binary, tmp, "connection-plain", webhook.port, "    mode: connection\n")
        servers = [a, b, c, d, e]
        print(f"INFO: servers up in {time.time() - started:.1f}s; instances "
              + ", ".join(s.instance or "?" for s in servers), flush=True)
        check(all(s.instance for s in servers) and len({s.instance for s in servers}) == len(servers),
              "each server names its instance (host name and listen address), all different")
        for s, mode in ((a, "session"), (b, "connection")):
            t = time.time()
            check_exec_and_exit_codes(s, mode)
            check_terminal_size(s, mode)
            asyncio.run(check_shell_and_env(s, mode))
            asyncio.run(check_signals(s, mode))
            check_sftp_scp(s, mode, tmp)
            check_client_killed(s, mode)
            if mode == "connection":
                asyncio.run(check_shared_container(s))
                check_multiplexed_scp(s, tmp)
            settled = wait_until(lambda s=s: not s.containers(), 10)
            check(settled, f"{mode}: no container left once every session ended", f"{s.containers()}")
            print(f"INFO: {mode} mode checks took {time.time() - t:.1f}s", flush=True)
        check_auth_files(e, b)
        check_disabled(c, "session")
        check_disabled(d, "connection")
        check_orphans_reaped([a, b])
    except Exception as e:  # a crash in the test is a failure, with the servers' logs shown below
        check(False, f"test aborted: {type(e).__name__}: {e}")
    finally:
        for s in servers:
            s.stop()
        webhook.close()
    check_nothing_left(servers, webhook.connection_ids)
    return conclude("e2e_execution", servers, tmp, started, 60)


if __name__ == "__main__":
    sys.exit(main())
