#!/usr/bin/python3
"""A tiny ContainerSSH-compatible authentication webhook, for tests and the demo.

Protocol (ContainerSSH 0.5+): the SSH server POSTs JSON to {url}/password or {url}/pubkey.

  POST .../password  {"username", "remoteAddress", "connectionId", "clientVersion", "passwordBase64"}
  POST .../pubkey    {"username", "remoteAddress", "connectionId", "clientVersion", "publicKey"}
  answer: 200 {"success": true|false, "authenticatedUsername": "..." (on success)}

Public-key authentication is always refused for now. Every request is logged to stderr as one line,
"auth_webhook: <json>", without the password. The first line on stdout is "LISTENING <port>".

Usage: auth_webhook.py --port 0 --users alice:secret,bob:pw [--host 127.0.0.1] [--watch-pid PID]
Only the Python standard library is used.
"""

import argparse
import base64
import binascii
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024


def parse_users(spec):
    """"alice:secret,bob:pw" -> {"alice": "secret", "bob": "pw"}; a password may contain ':'."""
    users = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"bad user entry {item!r}: expected name:password")
        users[name] = password
    return users


def log(event):
    sys.stderr.write("auth_webhook: " + json.dumps(event, sort_keys=True) + "\n")
    sys.stderr.flush()


class Handler(BaseHTTPRequestHandler):
    server_version = "cssh-test-auth-webhook/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - silence the default access log
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_json(self):
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return None, "bad Content-Length"
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            return None, f"malformed JSON: {e}"
        if not isinstance(body, dict):
            return None, "JSON body is not an object"
        return body, None

    def do_GET(self):
        # Readiness probe for humans and scripts; not part of the protocol.
        self.reply(200, {"status": "ok"})

    def do_POST(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/password"):
            kind = "password"
        elif path.endswith("/pubkey"):
            kind = "pubkey"
        else:
            log({"path": self.path, "error": "unknown path"})
            self.reply(404, {"error": "unknown path"})
            return
        body, err = self.read_json()
        if err:
            log({"path": self.path, "error": err})
            self.reply(400, {"error": err})
            return

        username = body.get("username")
        event = {
            "path": self.path,
            "method": kind,
            "username": username,
            "remoteAddress": body.get("remoteAddress"),
            "connectionId": body.get("connectionId"),
            "clientVersion": body.get("clientVersion"),
        }
        success = False
        if kind == "password":
            encoded = body.get("passwordBase64")
            password = None
            if isinstance(encoded, str):
                try:
                    password = base64.b64decode(encoded, validate=True).decode("utf-8", "replace")
                except (binascii.Error, ValueError):
                    event["error"] = "passwordBase64 is not valid base64"
            else:
                event["error"] = "passwordBase64 missing"
            expected = self.server.users.get(username) if isinstance(username, str) else None
            if password is not None and expected is not None:
                success = hmac.compare_digest(password.encode(), expected.encode())
        else:
            offered = body.get("publicKey") or ""
            event["publicKey"] = offered[:40]
            # Compare "type base64" only: an authorized_keys line may carry a comment.
            offered_key = " ".join(offered.split()[:2])
            allowed = self.server.keys.get(username, []) if isinstance(username, str) else []
            success = offered_key != "" and offered_key in allowed
        event["success"] = success
        log(event)
        answer = {"success": success}
        if success:
            answer["authenticatedUsername"] = username
        self.reply(200, answer)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except (OSError, IndexError):
        return True


def watch_pid(pid, server):
    """Shut the server down once process `pid` is gone (used by run.sh, which execs the server)."""
    while process_alive(pid):
        time.sleep(0.5)
    log({"event": "watched process exited, stopping", "pid": pid})
    server.shutdown()


def main():
    ap = argparse.ArgumentParser(description="ContainerSSH-compatible test auth webhook")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    ap.add_argument("--users", type=parse_users, default={}, help="name:password,name2:password2")
    ap.add_argument("--authorized-keys", action="append", default=[], metavar="USER:FILE",
                    help="public keys (authorized_keys format) accepted for USER; repeatable")
    ap.add_argument("--watch-pid", type=int, default=0, help="exit when this process exits")
    args = ap.parse_args()

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    try:
        server = ThreadingHTTPServer((args.host, args.port), Handler)
    except OSError as e:
        sys.stderr.write(f"auth_webhook: cannot listen on {args.host}:{args.port}: {e}\n")
        return 1
    server.users = args.users
    server.keys = {}
    for spec in args.authorized_keys:
        user, _, path = spec.partition(":")
        with open(path, encoding="utf-8") as f:
            lines = [" ".join(line.split()[:2]) for line in f if line.strip() and not line.startswith("#")]
        server.keys.setdefault(user, []).extend(lines)
    port = server.server_address[1]
    print(f"LISTENING {port}", flush=True)
    log({"event": "listening", "host": args.host, "port": port, "users": sorted(args.users)})
    if args.watch_pid:
        threading.Thread(target=watch_pid, args=(args.watch_pid, server), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
