#!/usr/bin/python3
"""End-to-end test of the security policy (ContainerSSH's `security:` block) and the server-wide
caps (`limits:`), with the real server, the real dockerd, a real auth webhook and config server,
and real clients: OpenSSH ssh/sftp and asyncssh.

Usage: security_test.py BINARY

Servers (session mode but one; each on its own port, so each has its own instance id):
  policy   defaultMode disable; command filter (an allow list), env filter, subsystem enable with
           sftp denied, tty off, shell off (by defaultMode), signal enable with KILL denied,
           maxSessions 2; metrics on
  force    forceCommand, which prints SSH_ORIGINAL_COMMAND
  peruser  no security block in the file; the config server sends one for bob only
  limits   limits.maxConnectionsPerUser 2, maxConnections 3; metrics on
  boxes    limits.maxContainers 1 (and boxes-connection: the same in connection mode)
For each option: the refusal the client sees (OpenSSH's message and exit code, asyncssh's
exception), the log line with its code, and that what is allowed still works. No container of
this test's servers may remain at the end.
"""

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asyncssh  # noqa: E402

from ops_lib import (PASSWORD, ServerProcess, check, check_nothing_left, conclude, config_head,  # noqa: E402
                     docker_section, free_port, kill_group, ssh_options, wait_until)
from webhook_lib import JsonWebhook, password_of  # noqa: E402

logging.getLogger("asyncssh").setLevel(logging.CRITICAL)

USERS = ("alice", "bob", "carol")

# The exact commands the policy server's security.command.allow lists.
SIGNAL_SCRIPT = ("trap 'echo got-usr1' USR1; trap 'echo got-term; exit 7' TERM; echo ready; "
                 "while :; do sleep 0.1; done")
ALLOWED = ["echo allowed", "echo $ALLOWED_VAR/$OTHER_VAR/$LANG", "sleep 20", SIGNAL_SCRIPT]


def yaml_str(text):
    return json.dumps(text)  # JSON strings are YAML strings


# --- the auth webhook and config server: everyone in USERS; bob gets a policy of his own ---------

class Webhooks(JsonWebhook):
    def __init__(self):
        self.connection_ids = set()
        super().__init__(self.answer)

    def answer(self, path, body, reply):
        self.connection_ids.add(body.get("connectionId", ""))
        if path.endswith("/password"):
            return 200, {"success": body.get("username") in USERS and password_of(body) == PASSWORD}
        if path.endswith("/config"):
            config = {}
            if body.get("username") == "bob":
                config = {"security": {"command": {"mode": "disable"}, "env": {"mode": "disable"}}}
            return 200, {"config": config}
        return 200, {}


# --- a server ---------------------------------------------------------------------------------

class Server(ServerProcess):
    """A server on a port of its own (hence its own instance id); `extra` is YAML at top level.
    Started at once."""

    listen_timeout = 30
    stop_timeout = 20

    def __init__(self, binary, tmp, name, webhook_port, extra, metrics=False, configserver=False, mode="session"):
        super().__init__(binary, os.path.join(tmp, name), name)
        self.port = free_port()
        self.metrics_port = free_port() if metrics else None
        text = (config_head(self.port, self.dir, f"http://127.0.0.1:{webhook_port}") + docker_section(mode) +
                "log:\n  level: debug\n  format: ljson\n" + extra)
        if metrics:
            text += f"metrics:\n  enable: true\n  listen: 127.0.0.1:{self.metrics_port}\n"
        if configserver:
            text += f"configserver:\n  url: http://127.0.0.1:{webhook_port}/config\n"
        self.write_config(text)
        self.start()

    def metric(self, name):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read().decode()
        for line in text.splitlines():
            if line.split(" ")[0] == name:  # name as written, labels included
                return float(line.rsplit(" ", 1)[1])
        return None


SSH_OPTS = ssh_options("-o", "BatchMode=no")


def ssh(server, *args, stdin=subprocess.DEVNULL, timeout=60, options=(), user="alice", input=None, log_level="ERROR"):
    opts = [o if o != "LogLevel=ERROR" else f"LogLevel={log_level}" for o in SSH_OPTS]
    cmd = ["sshpass", "-p", PASSWORD, "ssh", *opts, *options, "-p", str(server.port), f"{user}@127.0.0.1", *args]
    if input is not None:
        return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
    return subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=timeout)


def ssh_background(server, command, user="alice"):
    return subprocess.Popen(["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, "-p", str(server.port),
                             f"{user}@127.0.0.1", command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


class BannerClient(asyncssh.SSHClient):
    """Keeps the authentication banners the server sent (a refused login's reason comes as one)."""
    banners = []

    def auth_banner_received(self, msg, lang):
        BannerClient.banners.append(msg)


async def connect(server, user="alice"):
    return await asyncssh.connect("127.0.0.1", port=server.port, username=user, password=PASSWORD,
                                  known_hosts=None, preferred_auth="password", client_factory=BannerClient)


async def refused(coro):
    """The ChannelOpenError (or other SSH error) a request ends with, or None if it succeeded."""
    try:
        result = await asyncio.wait_for(coro, 30)
    except (asyncssh.Error, asyncssh.ChannelListenError, OSError) as e:
        return e
    if hasattr(result, "close"):
        result.close()
    return None


# --- the policy server ------------------------------------------------------------------------------

def check_policy_openssh(s):
    r = ssh(s, "echo allowed")
    check(r.returncode == 0 and r.stdout == b"allowed\n", "command filter: an allowed command runs (OpenSSH)",
          f"{r.returncode} {r.stdout!r} {r.stderr[-300:]!r}")
    # OpenSSH ends at the failure reply, before it prints the reason sent on stderr just before it.
    r = ssh(s, "echo not-listed")
    check(r.returncode == 255 and b"exec request failed" in r.stderr and b"not-listed" not in r.stdout,
          "command filter: another command is refused: exec request failed (OpenSSH)",
          f"{r.returncode} {r.stderr[-300:]!r}")
    check(s.wait_record("SECURITY_EXEC_REJECTED", lambda rec: rec.get("level") == "notice"),
          "command filter: the refusal is logged as SECURITY_EXEC_REJECTED (notice)")

    r = ssh(s, options=("-T",), input=b"echo from-shell\n")
    check(r.returncode == 255 and b"shell request failed" in r.stderr and b"from-shell" not in r.stdout,
          "shell: refused through defaultMode disable: shell request failed (OpenSSH)",
          f"{r.returncode} {r.stderr[-300:]!r}")
    check(s.wait_record("SECURITY_SHELL_REJECTED"), "shell: logged as SECURITY_SHELL_REJECTED")

    # -tt makes a refused terminal fatal for OpenSSH; without it, no pty is asked for (stdin is no terminal).
    r = ssh(s, "echo allowed", options=("-tt",))
    check(b"PTY allocation request failed" in r.stderr and r.returncode == 255,
          "tty disable: the pty request fails (OpenSSH -tt says so and stops)",
          f"{r.returncode} {r.stdout!r} {r.stderr[-300:]!r}")
    check(s.wait_record("SECURITY_TTY_REJECTED"), "tty: logged as SECURITY_TTY_REJECTED")

    r = ssh(s, "echo $ALLOWED_VAR/$OTHER_VAR/$LANG",
            options=("-o", "SetEnv=ALLOWED_VAR=yes OTHER_VAR=no LANG=C.UTF-8"))
    check(r.returncode == 0 and r.stdout == b"yes//\n",
          "env filter: only the allowed variable reaches the program (OpenSSH SetEnv)", f"{r.stdout!r} {r.stderr!r}")
    names = {rec.get("details", {}).get("name") for rec in s.wait_record("SECURITY_ENV_REJECTED")}
    check({"OTHER_VAR", "LANG"} <= names, "env filter: each refused variable is logged as SECURITY_ENV_REJECTED",
          f"{names}")

    r = subprocess.run(["sshpass", "-p", PASSWORD, "sftp", *SSH_OPTS, "-b", "-", "-P", str(s.port),
                        "alice@127.0.0.1"], input=b"ls\n", capture_output=True, timeout=60)
    check(r.returncode != 0 and b"subsystem request failed" in r.stderr,
          "subsystem deny: sftp is refused (OpenSSH sftp)", f"{r.returncode} {r.stderr[-300:]!r}")
    check(s.wait_record("SECURITY_SUBSYSTEM_REJECTED",
                        lambda rec: rec.get("details", {}).get("subsystem") == "sftp"),
          "subsystem deny: logged as SECURITY_SUBSYSTEM_REJECTED naming sftp")

    r = ssh(s, "echo allowed", options=("-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"))
    check(r.returncode == 255 and b"forwarding failed" in r.stderr and b"allowed" not in r.stdout,
          "forwarding: ssh -R is refused (ExitOnForwardFailure ends the client)", f"{r.returncode} {r.stderr[-300:]!r}")
    check(s.wait_record("SECURITY_REVERSE_FORWARDING_REJECTED"), "forwarding: -R logged as SECURITY_REVERSE_FORWARDING_REJECTED")

    # X11 (-X) and agent (-A) forwarding: refused; the command itself still runs.
    agent_sock = os.path.join(s.dir, "agent.sock")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", agent_sock], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.exists(agent_sock), 10)
        env = dict(os.environ, DISPLAY=":99", SSH_AUTH_SOCK=agent_sock)
        r = subprocess.run(["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, "-A", "-X", "-p", str(s.port),
                            "alice@127.0.0.1", "echo allowed"], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
    finally:
        agent.terminate()
        agent.wait()
    check(r.returncode == 0 and r.stdout == b"allowed\n" and b"X11 forwarding request failed" in r.stderr,
          "forwarding: ssh -X is refused (OpenSSH says so), the command still runs",
          f"{r.returncode} {r.stdout!r} {r.stderr[-300:]!r}")
    check(s.wait_record("SECURITY_X11_FORWARDING_REJECTED"), "forwarding: -X logged as SECURITY_X11_FORWARDING_REJECTED")
    check(s.wait_record("SECURITY_AGENT_FORWARDING_REJECTED"),
          "forwarding: -A logged as SECURITY_AGENT_FORWARDING_REJECTED (nothing is forwarded)")

    # maxSessions 2 on one OpenSSH connection (multiplexed): the third session is refused while two run.
    control = os.path.join(s.dir, "ctl")
    opts = ["-o", f"ControlPath={control}", "-p", str(s.port)]
    master = subprocess.Popen(["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, "-o", "ControlMaster=yes", "-N", *opts,
                               "alice@127.0.0.1"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    sleepers = []
    try:
        up = wait_until(lambda: os.path.exists(control), 20)
        for _ in range(2):
            sleepers.append(subprocess.Popen(["ssh", *SSH_OPTS, *opts, "alice@127.0.0.1", "sleep 20"],
                                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL, start_new_session=True))
        running = wait_until(lambda: len(s.containers()) >= 2, 20)
        third = subprocess.run(["ssh", *SSH_OPTS, *opts, "alice@127.0.0.1", "echo allowed"], capture_output=True,
                               timeout=30)
        check(up and running and third.returncode == 255 and b"Session open refused by peer" in third.stderr,
              "maxSessions 2: a third session on the connection is refused (OpenSSH multiplexing)",
              f"up={up} running={running} {third.returncode} {third.stderr[-300:]!r}")
        kill_group(sleepers.pop())
        freed = wait_until(lambda: len(s.containers()) <= 1, 20)
        again = subprocess.run(["ssh", *SSH_OPTS, *opts, "alice@127.0.0.1", "echo allowed"], capture_output=True,
                               timeout=30)
        check(freed and again.returncode == 0 and again.stdout == b"allowed\n",
              "maxSessions 2: once one session closed, a new one opens", f"{again.returncode} {again.stderr[-300:]!r}")
    finally:
        for p in sleepers:
            kill_group(p)
        subprocess.run(["ssh", *SSH_OPTS, *opts, "-O", "exit", "alice@127.0.0.1"], capture_output=True, timeout=30)
        kill_group(master)
    check(s.wait_record("SECURITY_MAX_SESSIONS"), "maxSessions: logged as SECURITY_MAX_SESSIONS")


async def check_policy_asyncssh(s):
    async with await connect(s) as conn:
        r = await conn.run("echo allowed", check=False)
        check(r.exit_status == 0 and r.stdout == "allowed\n", "command filter: an allowed command runs (asyncssh)",
              f"{r.exit_status} {r.stdout!r}")
        e = await refused(conn.run("echo not-listed", check=False))
        check(isinstance(e, asyncssh.ChannelOpenError), "command filter: another command is refused (asyncssh)",
              repr(e))
        e = await refused(conn.create_process())
        check(isinstance(e, asyncssh.ChannelOpenError), "shell: refused (asyncssh)", repr(e))
        e = await refused(conn.create_process("echo allowed", term_type="xterm"))
        check(isinstance(e, asyncssh.ChannelOpenError) and "PTY" in str(e), "tty: the pty request is refused (asyncssh)",
              repr(e))
        r = await conn.run("echo $ALLOWED_VAR/$OTHER_VAR/$LANG", env={"ALLOWED_VAR": "a", "OTHER_VAR": "b"},
                           check=False)
        check(r.stdout == "a//\n", "env filter: only the allowed variable reaches the program (asyncssh)", repr(r.stdout))
        e = await refused(conn.start_sftp_client())
        check(e is not None, "subsystem deny: sftp is refused (asyncssh)", repr(e))
        e = await refused(conn.open_connection("127.0.0.1", 9))
        check(isinstance(e, asyncssh.ChannelOpenError), "forwarding: a direct-tcpip channel (ssh -L) is refused (asyncssh)",
              repr(e))
        e = await refused(conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", 9))
        check(e is not None, "forwarding: tcpip-forward (ssh -R) is refused (asyncssh)", repr(e))

        # Signals: KILL is denied (dropped, the program lives on), USR1 and TERM reach it.
        proc = await conn.create_process(SIGNAL_SCRIPT)
        ready = await asyncio.wait_for(proc.stdout.readline(), 20)
        proc.send_signal("KILL")
        await asyncio.sleep(1.0)
        proc.send_signal("USR1")
        got = await asyncio.wait_for(proc.stdout.readline(), 10)
        proc.send_signal("TERM")
        term = await asyncio.wait_for(proc.stdout.readline(), 10)
        await asyncio.wait_for(proc.wait_closed(), 20)
        check(ready.strip() == "ready" and got.strip() == "got-usr1" and term.strip() == "got-term"
              and proc.exit_status == 7,
              "signal deny KILL: KILL is dropped, USR1 and TERM reach the program (asyncssh)",
              f"{ready!r} {got!r} {term!r} status={proc.exit_status} signal={proc.exit_signal}")

        # maxSessions 2: two running sessions, the third channel is refused, one closes, a new one opens.
        a = await conn.create_process("sleep 20")
        b = await conn.create_process("sleep 20")
        e = await refused(conn.create_process("echo allowed"))
        check(isinstance(e, asyncssh.ChannelOpenError) and e.code == asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
              "maxSessions 2: a third session channel is refused (asyncssh)", repr(e))
        a.close()
        await a.wait_closed()
        r = await conn.run("echo allowed", check=False)
        check(r.stdout == "allowed\n", "maxSessions 2: after one closed, a new session runs (asyncssh)", repr(r.stdout))
        b.close()
    check(s.wait_record("SECURITY_SIGNAL_REJECTED", lambda rec: rec.get("details", {}).get("signal") == "KILL"),
          "signal: the dropped KILL is logged as SECURITY_SIGNAL_REJECTED")
    check(s.wait_record("SECURITY_FORWARDING_REJECTED",
                        lambda rec: rec.get("details", {}).get("destination") == "127.0.0.1:9"),
          "forwarding: the direct-tcpip channel is logged as SECURITY_FORWARDING_REJECTED with its destination")
    exec_refusals = s.metric('cssh_security_refusals_total{request="exec"}')
    check(exec_refusals is not None and exec_refusals >= 2, "metrics: cssh_security_refusals_total{request=\"exec\"} counts",
          f"{exec_refusals}")


# --- forceCommand -----------------------------------------------------------------------------------

def check_force_openssh(s):
    r = ssh(s, "ls -l /")
    check(r.returncode == 0 and r.stdout == b"forced:[ls -l /]\n",
          "forceCommand: an exec runs the forced command, SSH_ORIGINAL_COMMAND is the request (OpenSSH)",
          f"{r.returncode} {r.stdout!r} {r.stderr[-200:]!r}")
    r = ssh(s, options=("-T",), input=b"")
    check(r.returncode == 0 and r.stdout == b"forced:[unset]\n",
          "forceCommand: a shell runs the forced command, SSH_ORIGINAL_COMMAND unset (OpenSSH)",
          f"{r.returncode} {r.stdout!r} {r.stderr[-200:]!r}")
    r = ssh(s, options=("-T", "-o", "SetEnv=SSH_ORIGINAL_COMMAND=spoofed"), input=b"")
    check(r.stdout == b"forced:[unset]\n", "forceCommand: the client cannot set SSH_ORIGINAL_COMMAND with env",
          repr(r.stdout))
    check(s.wait_record("SECURITY_EXEC_FORCING_COMMAND"), "forceCommand: logged as SECURITY_EXEC_FORCING_COMMAND (debug)")


async def check_force_asyncssh(s):
    async with await connect(s) as conn:
        r = await conn.run("id -u", check=False)
        check(r.stdout == "forced:[id -u]\n", "forceCommand: exec (asyncssh)", repr(r.stdout))
        proc = await conn.create_process(subsystem="sftp", encoding=None)
        out = await asyncio.wait_for(proc.stdout.read(), 20)
        await asyncio.wait_for(proc.wait_closed(), 20)
        check(out == b"forced:[sftp]\n", "forceCommand: a subsystem request runs it with SSH_ORIGINAL_COMMAND=sftp "
              "(asyncssh)", repr(out))


# --- a config server's policy for one user --------------------------------------------------------------

async def check_per_user(s):
    async with await connect(s, "alice") as conn:
        r = await conn.run("echo alice-runs", env={"SOME_VAR": "x"}, check=False)
        check(r.stdout == "alice-runs\n", "config server: alice (no policy in the answer) runs commands", repr(r.stdout))
    async with await connect(s, "bob") as conn:
        e = await refused(conn.run("echo bob-runs", check=False))
        check(isinstance(e, asyncssh.ChannelOpenError),
              "config server: bob's answer disables commands: his exec is refused (asyncssh)", repr(e))
    r = ssh(s, "echo bob-runs", user="bob")
    check(r.returncode == 255 and b"exec request failed" in r.stderr and b"bob-runs" not in r.stdout,
          "config server: bob's exec is refused (OpenSSH)", f"{r.returncode} {r.stderr!r}")
    check(s.wait_record("SECURITY_EXEC_REJECTED", lambda rec: "security.command.mode: disable" in rec.get("message", "")),
          "config server: bob's refusal names the setting from the answer")
    r = ssh(s, "echo alice-runs", user="alice")
    check(r.stdout == b"alice-runs\n", "config server: alice is unaffected (OpenSSH)", repr(r.stdout + r.stderr))
    users = {rec.get("details", {}).get("username") for rec in s.wait_record("SECURITY_EXEC_REJECTED")}
    check(users == {"bob"}, "config server: only bob's requests were refused", f"{users}")


# --- limits: connections per user and in total ------------------------------------------------------------

async def check_connection_limits(s):
    held = [await connect(s, "alice"), await connect(s, "alice")]
    try:
        check(s.metric("cssh_limit_connections") == 2 and s.metric("cssh_limit_connections_user_max") == 2,
              "limits: the gauges count alice's two connections",
              f"{s.metric('cssh_limit_connections')} {s.metric('cssh_limit_connections_user_max')}")
        BannerClient.banners.clear()
        e = await refused(connect(s, "alice"))
        banner = "".join(BannerClient.banners)
        check(e is not None and 'too many connections for user "alice"' in banner
              and "maxConnectionsPerUser: 2" in banner,
              "maxConnectionsPerUser 2: alice's third connection is refused, the reason in a banner (asyncssh)",
              f"{e!r} {banner!r}")
        r = ssh(s, "echo third", user="alice", log_level="INFO")
        check(r.returncode == 255 and b"too many connections for user \"alice\"" in r.stderr
              and b"maxConnectionsPerUser: 2" in r.stderr and b"third" not in r.stdout,
              "maxConnectionsPerUser 2: OpenSSH (default LogLevel) shows why the third connection was refused",
              f"{r.returncode} {r.stderr[-300:]!r}")
        held.append(await connect(s, "bob"))
        r = await held[-1].run("echo bob-runs", check=False)
        check(r.stdout == "bob-runs\n", "maxConnectionsPerUser: another user still logs in and runs", repr(r.stdout))
        r = ssh(s, "echo carol", user="carol", log_level="INFO")
        check(r.returncode == 255 and b"connection limit" in r.stderr and b"maxConnections: 3" in r.stderr,
              "maxConnections 3: a fourth connection (any user) is refused with the reason",
              f"{r.returncode} {r.stderr[-300:]!r}")
        held.pop(0).close()
        await asyncio.sleep(0.5)
        ok = False
        for _ in range(20):  # the server notices the closed connection within moments
            try:
                conn = await connect(s, "alice")
                r = await conn.run("echo alice-again", check=False)
                conn.close()
                ok = r.stdout == "alice-again\n"
                break
            except (asyncssh.Error, OSError):
                await asyncio.sleep(0.25)
        check(ok, "limits: once alice closed a connection, she logs in again")
    finally:
        for c in held:
            c.close()
    check(s.wait_record("LIMIT_CONNECTIONS_PER_USER", lambda rec: rec.get("details", {}).get("username") == "alice"),
          "limits: logged as LIMIT_CONNECTIONS_PER_USER naming alice")
    check(s.wait_record("LIMIT_CONNECTIONS"), "limits: logged as LIMIT_CONNECTIONS")
    refusals = s.metric('cssh_limit_refusals_total{limit="connections_per_user"}')
    check(refusals is not None and refusals >= 2, "limits: cssh_limit_refusals_total counts the refusals",
          f"{refusals}")


async def check_flood(s):
    """One user opening many connections: with alice at her cap, 40 more logins (in waves of 8, under
    ssh.maxStartupsPerSource) are all refused and counted, and another user still gets in."""
    held = [await connect(s, "alice"), await connect(s, "alice")]
    try:
        before = s.metric('cssh_limit_refusals_total{limit="connections_per_user"}') or 0
        start = time.time()
        outcomes = []
        for _ in range(5):
            outcomes += await asyncio.gather(*(refused(connect(s, "alice")) for _ in range(8)))
        took = time.time() - start
        refusals = (s.metric('cssh_limit_refusals_total{limit="connections_per_user"}') or 0) - before
        check(all(e is not None for e in outcomes) and refusals == 40 and s.metric("cssh_limit_connections") == 2,
              f"flood: 40 more logins of alice are all refused and counted, 2 stay admitted ({took:.1f}s for 40)",
              f"admitted={sum(e is None for e in outcomes)} refusals={refusals}")
        bob = await connect(s, "bob")
        r = await bob.run("echo bob-after-flood", check=False)
        bob.close()
        check(r.stdout == "bob-after-flood\n", "flood: another user logs in and runs right after", repr(r.stdout))
    finally:
        for c in held:
            c.close()
    print(f"INFO: flood: 40 refused logins in {took:.2f}s", flush=True)


def check_openssh_n_plus_one(s):
    """The brief's case with OpenSSH alone: N=2 connections of alice held open, the N+1th refused."""
    bg = [ssh_background(s, "sleep 20") for _ in range(2)]
    try:
        up = wait_until(lambda: len(s.containers()) >= 2, 30)
        r = ssh(s, "echo third", log_level="INFO")
        check(up and r.returncode == 255 and b"too many connections" in r.stderr,
              "maxConnectionsPerUser 2: OpenSSH's third concurrent connection is refused", f"up={up} {r.stderr[-300:]!r}")
    finally:
        for p in bg:
            kill_group(p)


# --- limits: containers -------------------------------------------------------------------------------------

async def check_container_limit(s):
    async with await connect(s) as conn:
        first = await conn.create_process("sleep 20")
        up = await asyncio.get_event_loop().run_in_executor(None, lambda: wait_until(lambda: len(s.containers()) == 1, 20))
        r = await conn.run("echo second", check=False)
        check(up and r.exit_status == 125 and "limits.maxContainers" in r.stderr and r.stdout == "",
              "maxContainers 1: a second container is refused: exit 125, the reason on stderr (asyncssh)",
              f"up={up} {r.exit_status} {r.stdout!r} {r.stderr!r}")
        first.close()
        await first.wait_closed()
        gone = await asyncio.get_event_loop().run_in_executor(None, lambda: wait_until(lambda: not s.containers(), 20))
        r = await conn.run("echo again", check=False)
        check(gone and r.stdout == "again\n", "maxContainers 1: once the first container is removed, a new one runs",
              f"{r.exit_status} {r.stdout!r} {r.stderr!r}")
    check(s.wait_record("LIMIT_CONTAINERS"), "maxContainers: logged as LIMIT_CONTAINERS")


async def check_container_limit_connection_mode(s):
    """Connection mode: the first connection's container is the one allowed; a second connection
    gets no container, and each of its sessions says why."""
    async with await connect(s) as first:
        r = await first.run("echo first", check=False)
        up = r.stdout == "first\n"
        async with await connect(s) as second:
            r = await second.run("echo second", check=False)
            check(up and r.exit_status == 125 and "limits.maxContainers" in r.stderr and r.stdout == "",
                  "maxContainers 1, connection mode: the second connection's session fails with the reason (exit 125)",
                  f"up={up} {r.exit_status} {r.stdout!r} {r.stderr!r}")
            check(len(s.containers()) == 1, "maxContainers 1, connection mode: one container exists",
                  f"{s.containers()}")
    gone = await asyncio.get_event_loop().run_in_executor(None, lambda: wait_until(lambda: not s.containers(), 20))
    async with await connect(s) as third:
        r = await third.run("echo third", check=False)
        check(gone and r.stdout == "third\n", "maxContainers 1, connection mode: after the first connection, a new one works",
              f"{r.exit_status} {r.stdout!r} {r.stderr!r}")


# --- main ---------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) < 2:
        print("usage: security_test.py BINARY", file=sys.stderr)
        return 2
    binary = sys.argv[1]
    for tool in ("docker", "sshpass", "ssh", "sftp", "ssh-agent"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is not installed")
            return 1
    tmp = tempfile.mkdtemp(prefix="cssh-security-e2e.")
    hooks = Webhooks()
    servers = []
    started = time.time()
    allow = "".join(f"      - {yaml_str(c)}\n" for c in ALLOWED)
    policy_block = ("security:\n  defaultMode: disable\n"
                    "  env:\n    mode: filter\n    allow: [ALLOWED_VAR]\n"
                    "  command:\n    mode: filter\n    allow:\n" + allow +
                    "  subsystem:\n    mode: enable\n    deny: [sftp]\n"
                    "  tty:\n    mode: disable\n"
                    "  signal:\n    mode: enable\n    deny: [KILL]\n"
                    "  maxSessions: 2\n")
    force_block = ("security:\n  forceCommand: "
                   + yaml_str('echo "forced:[${SSH_ORIGINAL_COMMAND-unset}]"') + "\n")
    try:
        policy = Server(binary, tmp, "policy", hooks.port, policy_block, metrics=True)
        force = Server(binary, tmp, "force", hooks.port, force_block)
        per_user = Server(binary, tmp, "peruser", hooks.port, "", configserver=True)
        limits = Server(binary, tmp, "limits", hooks.port,
                        "limits:\n  maxConnectionsPerUser: 2\n  maxConnections: 3\n", metrics=True)
        boxes = Server(binary, tmp, "boxes", hooks.port, "limits:\n  maxContainers: 1\n")
        boxes_conn = Server(binary, tmp, "boxes-connection", hooks.port, "limits:\n  maxContainers: 1\n",
                            mode="connection")
        servers = [policy, force, per_user, limits, boxes, boxes_conn]
        print(f"INFO: servers up in {time.time() - started:.1f}s", flush=True)
        for step in (lambda: check_policy_openssh(policy), lambda: asyncio.run(check_policy_asyncssh(policy)),
                     lambda: check_force_openssh(force), lambda: asyncio.run(check_force_asyncssh(force)),
                     lambda: asyncio.run(check_per_user(per_user)),
                     lambda: asyncio.run(check_connection_limits(limits)), lambda: asyncio.run(check_flood(limits)),
                     lambda: check_openssh_n_plus_one(limits),
                     lambda: asyncio.run(check_container_limit(boxes)),
                     lambda: asyncio.run(check_container_limit_connection_mode(boxes_conn))):
            t = time.time()
            step()
            print(f"INFO: step took {time.time() - t:.1f}s", flush=True)
        for s in servers:
            check(wait_until(lambda s=s: not s.containers(), 20), f"{s.name}: no container left once sessions ended",
                  f"{s.containers()}")
    except Exception as e:  # a crash in the test is a failure, with the servers' logs shown below
        check(False, f"test aborted: {type(e).__name__}: {e}")
    finally:
        for s in servers:
            s.stop()
        hooks.close()
    check_nothing_left(servers, hooks.connection_ids)
    return conclude("e2e_security", servers, tmp, started, 40)


if __name__ == "__main__":
    sys.exit(main())
