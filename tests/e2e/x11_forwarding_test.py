#!/usr/bin/python3
"""End-to-end test of X11 forwarding (docs/forwarding.md, `ssh -X` / `ssh -Y`) with real parts: an
Xvfb X server on the client side guarded by a real MIT-MAGIC-COOKIE-1 cookie, OpenSSH's ssh (which
reads that cookie with xauth, sends the server a fake one and swaps it back in every x11 channel),
asyncssh for single_connection, the real server and dockerd, and xdpyinfo (copied into the guest
image by scripts/build-guest-image.sh) as the X client in the container.

Usage: x11_forwarding_test.py BINARY

Servers (each on its own port, connection mode, networkmode none):
  x11   x11ForwardingMode enable
  ro    the same with a read-only root filesystem (the authority file goes to /dev/shm)
  off   x11ForwardingMode disable
"""

import asyncio
import base64
import logging
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asyncssh  # noqa: E402

from forwarding_test import Server as ForwardingServer, Webhooks  # noqa: E402
from ops_lib import (PASSWORD, check, check_nothing_left, conclude, ssh_options, stop_process,  # noqa: E402
                     wait_until)

logging.getLogger("asyncssh").setLevel(logging.CRITICAL)

SSH_OPTS = ssh_options("-o", "BatchMode=no")
WIDTH, HEIGHT = 1280, 1024
DIMENSIONS = f"{WIDTH}x{HEIGHT} pixels"
MIT = b"MIT-MAGIC-COOKIE-1"
# Between two X connections made one after the other in the container. Debian 12's Xvfb (xserver
# 21.1.7) drops a connection it accepts in the same instant as another client hangs up (a raw
# client straight on its Unix socket, no SSH involved, loses about a third of such connections);
# the pause keeps this suite about the forwarding, not about that race.
GAP = "sleep 0.3"


def Server(binary, tmp, name, webhook_port, x11_mode, host_extra=""):
    """forwarding_test's server (connection mode, networkmode none, metrics) with X11 in `x11_mode`."""
    return ForwardingServer(binary, tmp, name, webhook_port, [f"x11ForwardingMode: {x11_mode}"],
                            host_extra=host_extra)


def ssh_args(server, *options, log_level="ERROR"):
    opts = [o if o != "LogLevel=ERROR" else f"LogLevel={log_level}" for o in SSH_OPTS]  # the first value wins
    return ["sshpass", "-p", PASSWORD, "ssh", *opts, *options, "-p", str(server.port), "alice@127.0.0.1"]


# --- the client side's X server ------------------------------------------------------------------

class XServer:
    """Xvfb on a display it chooses itself (-displayfd), Unix socket only, admitting only clients
    that present its random MIT-MAGIC-COOKIE-1 cookie. `env` is a client environment for it:
    DISPLAY=:N and XAUTHORITY=a file holding the cookie for that display (what xauth, and so
    ssh -X/-Y, read)."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "xvfb")
        os.makedirs(self.dir, exist_ok=True)
        self.cookie = os.urandom(16)
        server_auth = os.path.join(self.dir, "server.auth")
        self.client_auth = os.path.join(self.dir, "client.auth")
        # The server loads every cookie of its -auth file whatever display number the entry names.
        subprocess.run(["xauth", "-q", "-f", server_auth, "add", ":0", ".", self.cookie.hex()], check=True,
                       capture_output=True)
        read_fd, write_fd = os.pipe()
        self.log = os.path.join(self.dir, "xvfb.log")
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp", "-auth", server_auth,
                                      "-screen", "0", f"{WIDTH}x{HEIGHT}x24"],
                                     pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        os.close(write_fd)
        number = b""
        with os.fdopen(read_fd, "rb") as r:
            while not number.endswith(b"\n"):
                chunk = r.read(1)
                if not chunk:
                    raise RuntimeError("Xvfb did not start: " + open(self.log).read()[-2000:])
                number += chunk
        self.display = f":{int(number)}"
        subprocess.run(["xauth", "-q", "-f", self.client_auth, "add", self.display, ".", self.cookie.hex()],
                       check=True, capture_output=True)
        self.env = dict(os.environ, DISPLAY=self.display, XAUTHORITY=self.client_auth)

    def stop(self):
        stop_process(self.proc, signal.SIGTERM, 10)


def check_xserver(x):
    r = subprocess.run(["xdpyinfo"], env=x.env, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and DIMENSIONS in r.stdout,
          f"client side: xdpyinfo with the cookie reaches Xvfb {x.display} ({DIMENSIONS})",
          f"{r.returncode} {r.stderr[-300:]!r}")
    r = subprocess.run(["xdpyinfo"], env=dict(x.env, XAUTHORITY="/nonexistent"), capture_output=True, text=True,
                       timeout=30)
    check(r.returncode != 0, "client side: Xvfb refuses a client without the cookie (the cookie is real)",
          f"{r.returncode} {r.stdout[:200]!r}")


# --- helpers for what the container prints --------------------------------------------------------

def field(text, name):
    m = re.search(rf"^{name}=(.*)$", text, re.M)
    return m.group(1) if m else None


def authority_entries(hex_text):
    """The entries of an Xauthority file given as hex: (family, address, number, name, data)."""
    data = bytes.fromhex(hex_text)
    entries = []
    pos = 0

    def counted():
        nonlocal pos
        (n,) = struct.unpack_from("!H", data, pos)
        value = data[pos + 2:pos + 2 + n]
        if len(value) != n:
            raise ValueError("truncated")
        pos += 2 + n
        return value

    while pos < len(data):
        (family,) = struct.unpack_from("!H", data, pos)
        pos += 2
        entries.append((family, counted(), counted(), counted(), counted()))
    return entries


def authority_file(entries):
    out = b""
    for family, address, number, name, data in entries:
        out += struct.pack("!H", family)
        for value in (address, number, name, data):
            out += struct.pack("!H", len(value)) + value
    return out


# What the container reports about the session's X11 environment, then xdpyinfo's answer.
REPORT = ('echo "display=$DISPLAY"; echo "xauthority=$XAUTHORITY"; echo "uid=$(id -u)"; '
          'echo "mode=$(stat -c "%a %u" "$XAUTHORITY")"; '
          'echo "auth=$(od -An -tx1 -v "$XAUTHORITY" | tr -d " \\n")"; ')


def check_session_report(out, what, x, scratch):
    display = field(out, "display") or ""
    m = re.fullmatch(r"localhost:(\d+)\.0", display)
    check(m is not None and int(m.group(1)) >= 10 and display.startswith("localhost:1"),
          f"{what}: DISPLAY is localhost:N.0 with N from 10 up", repr(display), always_detail=True)
    authority = field(out, "xauthority") or ""
    check(re.fullmatch(re.escape(scratch) + r"/\.containerssh-Xauthority-[0-9a-f]{8,}", authority) is not None,
          f"{what}: XAUTHORITY is a file of its own under {scratch}", repr(authority), always_detail=True)
    uid = field(out, "uid")
    check(field(out, "mode") == f"600 {uid}", f"{what}: the authority file is 0600, owned by the session's user",
          f"{field(out, 'mode')!r} uid {uid!r}")
    try:
        entries = authority_entries(field(out, "auth") or "")
    except (ValueError, struct.error) as e:
        entries = [("unreadable", str(e))]
    number = m.group(1).encode() if m else b"?"
    ok = (len(entries) == 1 and entries[0][0] == 0xffff and entries[0][2] == number and entries[0][3] == MIT and
          len(entries[0][4]) == 16)
    check(ok, f"{what}: the authority file holds one FamilyWild MIT-MAGIC-COOKIE-1 entry for display {number.decode()}",
          f"{entries}")
    check(ok and entries[0][4] != x.cookie,
          f"{what}: the cookie in the container is ssh's fake one, not the X server's real cookie")
    return display, authority


def check_openssh(s, x, flag):
    what = f"ssh {flag}"
    r = subprocess.run(ssh_args(s, flag) + [REPORT + 'xdpyinfo; echo "xdpyinfo-rc=$?"'],
                       env=x.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
    check(r.returncode == 0, f"{what}: the session ends with exit code 0", f"{r.returncode} {r.stderr[-500:]!r}")
    check_session_report(r.stdout, what, x, "/tmp")
    dims = re.search(r"^\s*dimensions:\s+(.*)$", r.stdout, re.M)
    check(field(r.stdout, "xdpyinfo-rc") == "0" and dims is not None and dims.group(1).startswith(DIMENSIONS),
          f"{what}: xdpyinfo in the container prints the client's Xvfb screen ({DIMENSIONS}) through the forwarding",
          (dims.group(0).strip() if dims else f"{r.stdout[-600:]!r} {r.stderr[-400:]!r}"), always_detail=True)
    name = re.search(r"^name of display:\s+(\S+)", r.stdout, re.M)
    check(name is not None and name.group(1) == field(r.stdout, "display"),
          f"{what}: xdpyinfo opened the display named by DISPLAY", repr(name.group(1) if name else None))


def check_parallel(s, x):
    # Several X connections at once, then one more after them: each an x11 channel of its own.
    cmd = ('for i in 1 2 3 4 5; do (xdpyinfo > /tmp/x$i.out 2>&1; echo "rc$i=$?") & done; wait; '
           'grep -c "dimensions:" /tmp/x?.out | grep -c ":1$" | sed "s/^/parallel=/"; '
           f'n=0; for i in 1 2 3 4 5 6 7 8 9 10; do {GAP}; xdpyinfo | grep -q "dimensions:" && n=$((n+1)); done; '
           'echo "after=$n"')
    r = subprocess.run(ssh_args(s, "-Y") + [cmd], env=x.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=90)
    rcs = sorted(re.findall(r"^rc\d=(\d+)$", r.stdout, re.M))
    check(rcs == ["0"] * 5 and field(r.stdout, "parallel") == "5",
          "ssh -Y: five xdpyinfo at once in one session all reach the X server (five x11 channels)",
          f"{r.stdout!r} {r.stderr[-400:]!r}")
    check(field(r.stdout, "after") == "10", "ssh -Y: the display then serves ten connections one after the other",
          f"{r.stdout!r}")


def check_wrong_cookie(s, x):
    # A wrong cookie for any display from 10 to 99 (whichever the session gets) and no cookie at all:
    # OpenSSH compares what the X client presents with its fake cookie and closes the channel.
    bad = authority_file([(0xffff, b"", str(n).encode(), MIT, os.urandom(16)) for n in range(10, 100)])
    cmd = (f'echo {base64.b64encode(bad).decode()} | base64 -d > /tmp/bad.auth; '
           'XAUTHORITY=/tmp/bad.auth xdpyinfo > /tmp/bad.out 2>&1; echo "bad-rc=$?"; '
           f'{GAP}; XAUTHORITY=/nonexistent xdpyinfo > /tmp/none.out 2>&1; echo "none-rc=$?"; '
           'for f in bad none; do grep -c "unable to open display" /tmp/$f.out | sed "s/^/$f-unable=/"; done; '
           f'{GAP}; xdpyinfo | grep -c "dimensions:" | sed "s/^/good=/"')
    r = subprocess.run(ssh_args(s, "-X", log_level="DEBUG") + [cmd], env=x.env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=90)
    check(field(r.stdout, "bad-rc") not in (None, "0") and field(r.stdout, "bad-unable") == "1",
          "wrong cookie: xdpyinfo with a wrong cookie in its authority file cannot open the display",
          f"{r.stdout!r}")
    check(field(r.stdout, "none-rc") not in (None, "0") and field(r.stdout, "none-unable") == "1",
          "wrong cookie: xdpyinfo without an authority file (XAUTHORITY=/nonexistent) cannot open the display",
          f"{r.stdout!r}")
    rejected = r.stderr.count("X11 connection rejected because of wrong authentication")
    check(rejected >= 2, "wrong cookie: the OpenSSH client rejected both connections (its debug log says so)",
          f"{rejected} {r.stderr[-800:]!r}")
    check(field(r.stdout, "good") == "1", "wrong cookie: the session's own cookie still works after the refusals",
          f"{r.stdout!r}")


async def asyncssh_single_connection(s, x):
    async with asyncssh.connect("127.0.0.1", port=s.port, username="alice", password=PASSWORD, known_hosts=None,
                                preferred_auth="password", agent_path=None) as conn:
        cmd = ('xdpyinfo | grep -c "dimensions:" | sed "s/^/first=/"; '
               f'{GAP}; xdpyinfo > /dev/null 2>&1; echo "second-rc=$?"')
        r = await conn.run(cmd, x11_forwarding=True, x11_display=x.display, x11_auth_path=x.client_auth,
                           x11_single_connection=True, timeout=90)
        check(field(r.stdout, "first") == "1",
              "asyncssh single_connection: the first X connection reaches the X server", f"{r.stdout!r} {r.stderr!r}")
        check(field(r.stdout, "second-rc") not in (None, "0"),
              "asyncssh single_connection: a second X connection is refused (the display was closed)",
              f"{r.stdout!r}")
        r = await conn.run('echo "display=$DISPLAY"; echo "auth=$XAUTHORITY"; '
                           'xdpyinfo | grep -c "dimensions:" | sed "s/^/again=/"',
                           x11_forwarding=True, x11_display=x.display, x11_auth_path=x.client_auth, timeout=90)
        check(field(r.stdout, "again") == "1" and (field(r.stdout, "display") or "").startswith("localhost:1"),
              "asyncssh: a second session on the same connection gets a display of its own that works",
              f"{r.stdout!r} {r.stderr!r}")
        display = field(r.stdout, "display") or "localhost:10.0"
        auth = field(r.stdout, "auth") or "/nonexistent"
        # That session ended: as with sshd, its display and authority file are gone for the next one.
        port = 6000 + int(display.split(":")[1].split(".")[0])
        for _ in range(50):
            r = await conn.run(f'netstat -ltn | grep -c ":{port} " | sed "s/^/listening=/"; '
                               f'ls {auth} >/dev/null 2>&1 && echo file=yes || echo file=no', timeout=30)
            if field(r.stdout, "listening") == "0" and field(r.stdout, "file") == "no":
                break
            await asyncio.sleep(0.1)
        check(field(r.stdout, "listening") == "0" and field(r.stdout, "file") == "no",
              "a session's display (its listen and authority file) ends with the session, as sshd's",
              f"{r.stdout!r}")


def check_second_x11_request(s):
    """As sshd: a second x11-req on a session that has a display is refused."""
    import paramiko
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=s.port, username="alice", password=PASSWORD, look_for_keys=False,
                   allow_agent=False, timeout=30)
    try:
        ch = client.get_transport().open_session()
        ch.request_x11(auth_cookie="00" * 16)
        try:
            ch.request_x11(auth_cookie="11" * 16)
            second = "accepted"
        except paramiko.SSHException as e:
            second = f"refused: {e}"
        check(second.startswith("refused"), "a second x11-req on the same session is refused", second)
        check(s.wait_record("FORWARD_X11_ACTIVE"), "the second x11-req is logged as FORWARD_X11_ACTIVE")
    finally:
        client.close()


def check_read_only(ro, x):
    r = subprocess.run(ssh_args(ro, "-Y") + [REPORT + 'touch /tmp/probe 2>/dev/null || echo "tmp=read-only"; '
                                             'xdpyinfo | grep -c "dimensions:" | sed "s/^/dims=/"'],
                       env=x.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
    check(field(r.stdout, "tmp") == "read-only", "read-only root: /tmp in the container is not writable",
          f"{r.stdout!r} {r.stderr[-400:]!r}")
    check_session_report(r.stdout, "read-only root", x, "/dev/shm")
    check(field(r.stdout, "dims") == "1", "read-only root: xdpyinfo reaches the X server",
          f"{r.stdout!r} {r.stderr[-400:]!r}")


def check_disabled(off, x):
    r = subprocess.run(ssh_args(off, "-X") + ['echo "display=[$DISPLAY]"; echo "xauthority=[$XAUTHORITY]"; echo ran'],
                       env=x.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
    check("X11 forwarding request failed" in r.stderr, "disable: OpenSSH prints \"X11 forwarding request failed\"",
          f"{r.stderr[-400:]!r}")
    check(r.returncode == 0 and "ran" in r.stdout.splitlines(),
          "disable: the command still runs", f"{r.returncode} {r.stdout!r}")
    check(field(r.stdout, "display") == "[]" and field(r.stdout, "xauthority") == "[]",
          "disable: no DISPLAY nor XAUTHORITY in the session", f"{r.stdout!r}")
    check(off.wait_record("SECURITY_X11_FORWARDING_REJECTED"),
          "disable: the server logs SECURITY_X11_FORWARDING_REJECTED")
    refused = off.metric("cssh_forward_refusals_total", kind="x11", reason="policy") or 0
    check(refused >= 1, "disable: the refusal is counted (cssh_forward_refusals_total kind=x11 reason=policy)",
          str(refused))


def main():
    binary = sys.argv[1]
    for tool in ("Xvfb", "xauth", "xdpyinfo", "sshpass", "ssh"):
        if shutil.which(tool) is None:
            print(f"x11_forwarding_test: {tool} is missing (run scripts/install-deps.sh)", flush=True)
            raise SystemExit(1)
    tmp = tempfile.mkdtemp(prefix="cssh-x11-")
    started = time.time()
    hooks = Webhooks()
    servers = []
    x = None
    try:
        x = XServer(tmp)
        check_xserver(x)
        s = Server(binary, tmp, "x11", hooks.port, "enable")
        servers.append(s)
        ro = Server(binary, tmp, "ro", hooks.port, "enable", host_extra="      readonlyrootfs: true\n")
        servers.append(ro)
        off = Server(binary, tmp, "off", hooks.port, "disable")
        servers.append(off)
        check_openssh(s, x, "-X")
        check_openssh(s, x, "-Y")
        check_parallel(s, x)
        check_wrong_cookie(s, x)
        asyncio.run(asyncssh_single_connection(s, x))
        check_second_x11_request(s)
        check_read_only(ro, x)
        check_disabled(off, x)
        total = s.metric("cssh_forward_connections_total", kind="x11") or 0
        check(total >= 22, "metrics: cssh_forward_connections_total{kind=x11} counts the X connections", str(total),
              always_detail=True)
        gone = wait_until(lambda: not s.containers() and not ro.containers() and not off.containers(), 60)
        check(gone, "every connection's container is removed once its client is gone")
        check(wait_until(lambda: s.metric("cssh_forward_connections_open", kind="x11") in (None, 0.0), 30),
              "metrics: cssh_forward_connections_open{kind=x11} is back to 0")
        codes = ("SSH_FORWARD_PROTOCOL", "FORWARD_PROTOCOL", "FORWARD_HELPER_FAILED", "FORWARD_LISTEN_FAILED")
        bad = [r for srv in servers for r in srv.log_lines() if r.get("code") in codes]
        check(not bad, "no helper protocol error nor failed listen in the servers' logs", f"{bad[:3]}")
        stopped = [srv.stop() for srv in servers]
        check(stopped == [0] * len(servers), "the servers stop on SIGTERM with exit code 0", f"{stopped}")
        check_nothing_left(servers)
    finally:
        for server in servers:
            if server.proc and server.proc.poll() is None:
                server.stop()
        if x:
            x.stop()
        hooks.close()
    raise SystemExit(conclude("x11_forwarding_test", servers, tmp, started, 80))


if __name__ == "__main__":
    main()
