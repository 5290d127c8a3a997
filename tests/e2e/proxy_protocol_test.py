#!/usr/bin/python3
"""End-to-end test of the PROXY protocol on the SSH listener (ssh.proxyProtocol, issue 10).

Usage: proxy_protocol_test.py BINARY

One server with proxyProtocol enabled for 127.0.0.1/32 (timeout 1.5s). Headers are built by the
test (tests/e2e/ops_lib.py), not by the server's parser. Checked:
- OpenSSH through a ProxyCommand that sends a v1 TCP4 header, and one that sends a v2 TCP6 header:
  the login works, the auth webhook's remoteAddress and $SSH_CLIENT are the header's client;
- paramiko after a v2 TCP4 header: the container's containerssh_ip label and SSH_CONNECTED's
  remoteAddress/proxyAddress are the header's client and the balancer;
- v2 LOCAL and v1 UNKNOWN: the login works with the socket's own address;
- a malformed v1 header, a v2 header for UDP, OpenSSH without any header, and a valid header from
  127.0.0.2 (not allowed) are each closed before any SSH byte, with their log code and reason;
- a silent connection and a half-sent header are closed after the timeout, and while three of
  them wait, another connection gets its SSH banner at once (the accept thread is not held);
- cssh_proxy_protocol_rejected_total counts each reason; SIGTERM exits 0; no container remains.
"""

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
import paramiko  # noqa: E402

from ops_lib import (PASSWORD, Server, check, connect_with_header, docker_ids, finish, free_port,  # noqa: E402
                     metric, proxy_v1, proxy_v2, proxy_v2_local, read_until_closed, remove_containers,
                     ssh_options, wait_until)
from webhook_lib import RecordingWebhook as Webhook  # noqa: E402

RELAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proxy_relay.py")
SSH_OPTS = ssh_options()


def openssh(port, user, command, proxy_command=None):
    opts = list(SSH_OPTS)
    if proxy_command:
        opts += ["-o", f"ProxyCommand={proxy_command}"]
    return subprocess.run(["sshpass", "-p", PASSWORD, "ssh", *opts, "-p", str(port), f"{user}@127.0.0.1", command],
                          capture_output=True, text=True, timeout=60)


def paramiko_exec(sock, user, command):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", username=user, password=PASSWORD, sock=sock, look_for_keys=False,
                   allow_agent=False, timeout=15, banner_timeout=15, auth_timeout=15)
    try:
        _, out, _ = client.exec_command(command, timeout=30)
        text = out.read().decode().strip()
        return text, out.channel.recv_exit_status()
    finally:
        client.close()


def logged(server, code, needle=""):
    return [e for e in server.log_lines(code) if needle in e.get("message", "") + str(e.get("details", ""))]


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="cssh-proxy-")
    webhook = Webhook()
    metrics_port = free_port()
    server = Server(binary, tmp, "proxy", webhook.port, metrics_port=metrics_port,
                    ssh_extra="  proxyProtocol:\n    enable: true\n    allowedSources: [127.0.0.1/32]\n"
                              "    timeout: 1500ms\n")
    server.start()
    port = server.port
    try:
        # --- OpenSSH through a relay that adds the header ---------------------------------------
        r = openssh(port, "v1user", "echo $SSH_CLIENT", f"/usr/bin/python3 {RELAY} {port} v1 203.0.113.7 40001")
        check(r.returncode == 0 and r.stdout.strip() == f"203.0.113.7 40001 {port}",
              "OpenSSH behind a v1 TCP4 header: SSH_CLIENT is the header's client",
              f"rc={r.returncode} out={r.stdout!r} err={r.stderr[-300:]!r}")
        check(webhook.addresses_of("v1user") == ["203.0.113.7:40001"],
              "v1: the auth webhook's remoteAddress is the header's client", str(webhook.addresses_of("v1user")))

        r = openssh(port, "v6user", "echo $SSH_CLIENT", f"/usr/bin/python3 {RELAY} {port} v2 2001:db8::5 40002")
        check(r.returncode == 0 and r.stdout.strip() == f"2001:db8::5 40002 {port}",
              "OpenSSH behind a v2 TCP6 header: SSH_CLIENT is the IPv6 client",
              f"rc={r.returncode} out={r.stdout!r} err={r.stderr[-300:]!r}")
        check(webhook.addresses_of("v6user") == ["[2001:db8::5]:40002"],
              "v2 TCP6: the auth webhook's remoteAddress is [2001:db8::5]:40002", str(webhook.addresses_of("v6user")))

        # --- paramiko after a v2 TCP4 header: labels and logs -----------------------------------
        result = {}

        def hold():
            sock = connect_with_header(port, proxy_v2("198.51.100.20", "127.0.0.1", 40003, port))
            result["out"] = paramiko_exec(sock, "labeluser", "sleep 3; echo held")

        holder = threading.Thread(target=hold)
        holder.start()
        mine = [f"containerssh_instance={server.instance}", "containerssh_username=labeluser"]
        labelled = wait_until(lambda: docker_ids(*mine) != [], 15)
        ip_label = ""
        if labelled:
            inspect = subprocess.run(["docker", "inspect", "-f", '{{index .Config.Labels "containerssh_ip"}}',
                                      docker_ids(*mine)[0]], capture_output=True, text=True, timeout=30)
            ip_label = inspect.stdout.strip()
        holder.join(60)
        check(result.get("out") == ("held", 0), "paramiko behind a v2 TCP4 header: login and exec", str(result))
        check(ip_label == "198.51.100.20", "the container's containerssh_ip label is the header's client", ip_label)
        connected = [e for e in server.log_lines("SSH_CONNECTED")
                     if e["details"].get("remoteAddress") == "198.51.100.20:40003"]
        check(len(connected) == 1 and connected[0]["details"].get("proxyAddress", "").startswith("127.0.0.1:"),
              "SSH_CONNECTED carries the client as remoteAddress and the balancer as proxyAddress", str(connected))
        check(webhook.addresses_of("labeluser") == ["198.51.100.20:40003"], "v2 TCP4: the webhook sees the client",
              str(webhook.addresses_of("labeluser")))

        # --- headers without an address: the socket's own is used --------------------------------
        for name, header in (("v2 LOCAL", proxy_v2_local()), ("v1 UNKNOWN", b"PROXY UNKNOWN\r\n")):
            user = "local" + name.split()[0]
            try:
                sock = connect_with_header(port, header)
                local_port = sock.getsockname()[1]
                out = paramiko_exec(sock, user, "echo ok")
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                out, local_port = repr(e), 0
            check(out == ("ok", 0) and webhook.addresses_of(user) == [f"127.0.0.1:{local_port}"],
                  f"{name}: the login works and the webhook sees the socket's address",
                  f"{out} {webhook.addresses_of(user)}")

        # --- refusals -------------------------------------------------------------------------
        refusals = [
            ("a malformed v1 header (port 99999)", "127.0.0.1", b"PROXY TCP4 203.0.113.9 127.0.0.1 99999 22\r\n",
             "PROXY_HEADER_INVALID", "source port"),
            ("a v2 header for UDP", "127.0.0.1", proxy_v2("203.0.113.9", "127.0.0.1", 1, 2)[:13] + b"\x12" +
             proxy_v2("203.0.113.9", "127.0.0.1", 1, 2)[14:], "PROXY_HEADER_INVALID", "datagram"),
            ("a valid header from 127.0.0.2 (not in allowedSources)", "127.0.0.2",
             proxy_v1("192.0.2.99", "127.0.0.1", 1234, port), "PROXY_SOURCE_DENIED", "127.0.0.2"),
        ]
        for what, source, header, code, needle in refusals:
            before = len(logged(server, code, needle))
            sock = connect_with_header(port, header, source=source)
            data, closed = read_until_closed(sock, 5)
            sock.close()
            check(closed and data == b"" and wait_until(lambda: len(logged(server, code, needle)) > before, 5),
                  f"{what}: closed before any SSH byte, {code} logged with the reason",
                  f"closed={closed} data={data[:40]!r}")
        check(webhook.addresses_of("") == [] and all("192.0.2.99" not in str(a) for a in
                                                       [r["remoteAddress"] for r in webhook.requests]),
              "no refused connection reached the webhook")

        before = len(logged(server, "PROXY_HEADER_MISSING"))
        r = openssh(port, "direct", "true")
        check(r.returncode != 0 and wait_until(lambda: len(logged(server, "PROXY_HEADER_MISSING")) > before, 5),
              "OpenSSH without a header is refused with PROXY_HEADER_MISSING", f"rc={r.returncode}")

        # --- the timeout, and the accept thread staying free -----------------------------------
        silent = [connect_with_header(port, b"") for _ in range(2)] + [connect_with_header(port, b"PROXY TCP4 ")]
        started = time.time()
        time.sleep(0.2)
        probe = connect_with_header(port, proxy_v1("203.0.113.50", "127.0.0.1", 5000, port))
        probe.settimeout(5)
        banner = b""
        try:
            banner = probe.recv(64)
        except OSError:
            pass
        banner_after = time.time() - started
        probe.close()
        check(banner.startswith(b"SSH-2.0-") and banner_after < 1.0,
              "while three connections wait for their headers, another gets its SSH banner at once",
              f"banner={banner[:20]!r} after {banner_after:.2f}s")
        closes = []
        for sock in silent:
            _, closed = read_until_closed(sock, 6)
            closes.append((closed, time.time() - started))
            sock.close()
        check(all(c for c, _ in closes) and all(1.3 <= t <= 3.5 for _, t in closes),
              "silent and half-sent headers are closed after proxyProtocol.timeout (1.5s)",
              str([(c, round(t, 2)) for c, t in closes]))
        check(len(logged(server, "PROXY_HEADER_TIMEOUT")) >= 3, "PROXY_HEADER_TIMEOUT logged for each")

        # --- metrics --------------------------------------------------------------------------
        counts = {reason: metric(metrics_port, "cssh_proxy_protocol_rejected_total", {"reason": reason})
                  for reason in ("invalid", "source_denied", "missing", "timeout", "closed")}
        check(counts["invalid"] == 2 and counts["source_denied"] == 1 and counts["missing"] == 1
              and counts["timeout"] == 3, "cssh_proxy_protocol_rejected_total counts each refusal by reason",
              str(counts))
    finally:
        code = server.stop(signal.SIGTERM)
        check(code == 0, "SIGTERM: the server exits 0", f"exit code {code}")
        left = remove_containers(server.instance)
        check(left == 0, "no container of this server remains", f"{left} left")
        webhook.close()
    finish("e2e_proxy_protocol")


if __name__ == "__main__":
    main()
