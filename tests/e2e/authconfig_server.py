#!/usr/bin/python3
"""A ContainerSSH-compatible authentication, authorization and configuration server for the
end-to-end tests. It checks every field of every request it gets, and behaves per user name so
that one server covers success, refusal and every failure mode.

Endpoints (under any prefix): POST .../password, .../pubkey, .../authz, .../config.
GET /stats answers {"requests": {"<endpoint> <user>": n}, "violations": [...], "connections": n}.

Users (password "open-sesame-42" unless said otherwise):
  alice      success; returns metadata (team, a sensitive token), environment (one sensitive) and
             a file; her public key is the one in --alice-key. authz and config must carry her
             metadata. The config server adds CONFIG_ENV.
  carol      success; the config server gives her --alt-image and CONFIG_ENV=from-config.
  mallory    authentication succeeds, authorization refuses.
  renamed    success with authenticatedUsername "renamed-user".
  flaky      the first /password answer is HTTP 500, later ones succeed.
  slowpoke   /password never answers in time (sleeps 30 s).
  garbage    /password answers 200 with a body that is not JSON.
  redirect   /password answers 307 to .../elsewhere (which would admit her).
  cfgfail    the config server answers 500.
  cfgbad     the config server answers a configuration that does not validate.

Every request is logged to stderr as one JSON line, without passwords.
Usage: authconfig_server.py [--port 0] [--alice-key FILE] [--alt-image IMAGE]
                            [--tls-cert F --tls-key F [--tls-client-ca F]]
Only the Python standard library is used.
"""

import argparse
import base64
import binascii
import json
import re
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 256 * 1024
PASSWORD = "open-sesame-42"
COMMON_FIELDS = {"username", "remoteAddress", "connectionId", "clientVersion", "metadata", "environment", "files"}
EXPECTED_FIELDS = {
    "password": COMMON_FIELDS | {"passwordBase64"},
    "pubkey": COMMON_FIELDS | {"publicKey"},
    "authz": COMMON_FIELDS | {"authenticatedUsername"},
    "config": COMMON_FIELDS | {"authenticatedUsername"},
}

ALICE_METADATA = {"team": {"value": "blue", "sensitive": False},
                  "token": {"value": "s3cr3t-token", "sensitive": True}}
ALICE_ENV = {"AUTH_ENV": {"value": "from-auth", "sensitive": False},
             "SECRET_ENV": {"value": "hush-hush", "sensitive": True}}
ALICE_FILES = {"/etc/cssh-test/greeting": {"value": base64.b64encode(b"hello file\n").decode(), "sensitive": False}}


def log(event):
    sys.stderr.write("authconfig: " + json.dumps(event, sort_keys=True) + "\n")
    sys.stderr.flush()


def check_values(body, kind, problems, binary=False):
    values = body.get(kind)
    if not isinstance(values, dict):
        problems.append(f"{kind} is not an object")
        return
    for name, entry in values.items():
        if not isinstance(entry, dict) or set(entry) != {"value", "sensitive"}:
            problems.append(f"{kind}.{name} is not {{value, sensitive}}")
            continue
        if not isinstance(entry["value"], str) or not isinstance(entry["sensitive"], bool):
            problems.append(f"{kind}.{name} has wrong types")
        elif binary:
            try:
                base64.b64decode(entry["value"], validate=True)
            except (binascii.Error, ValueError):
                problems.append(f"{kind}.{name}.value is not base64")


def validate(kind, body):
    """Every field ContainerSSH sends, with the right type and shape; nothing else."""
    problems = []
    keys = set(body)
    if keys != EXPECTED_FIELDS[kind]:
        problems.append(f"fields {sorted(keys)} != {sorted(EXPECTED_FIELDS[kind])}")
    if not isinstance(body.get("username"), str) or not body.get("username"):
        problems.append("username")
    if not re.fullmatch(r"127\.0\.0\.1:\d{1,5}", str(body.get("remoteAddress"))):
        problems.append(f"remoteAddress {body.get('remoteAddress')!r}")
    if not re.fullmatch(r"[0-9a-f]{32}", str(body.get("connectionId"))):
        problems.append(f"connectionId {body.get('connectionId')!r}")
    if not str(body.get("clientVersion")).startswith("SSH-2.0-OpenSSH"):
        problems.append(f"clientVersion {body.get('clientVersion')!r}")
    check_values(body, "metadata", problems)
    check_values(body, "environment", problems)
    check_values(body, "files", problems, binary=True)
    if kind == "password":
        try:
            base64.b64decode(str(body.get("passwordBase64")), validate=True)
        except (binascii.Error, ValueError):
            problems.append("passwordBase64 is not base64")
    if kind == "pubkey" and not re.fullmatch(r"(ssh-[a-z0-9-]+|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+",
                                             str(body.get("publicKey"))):
        problems.append(f"publicKey {str(body.get('publicKey'))[:40]!r}")
    if kind in ("authz", "config"):
        if not isinstance(body.get("authenticatedUsername"), str) or not body.get("authenticatedUsername"):
            problems.append("authenticatedUsername")
        # What the authentication answer returned travels along.
        if body.get("username") == "alice":
            if body.get("metadata") != ALICE_METADATA:
                problems.append(f"alice's metadata did not travel: {body.get('metadata')!r}")
            if body.get("files") != ALICE_FILES:
                problems.append("alice's files did not travel")
            env = body.get("environment") or {}
            if {k: env.get(k) for k in ALICE_ENV} != ALICE_ENV:
                problems.append("alice's environment did not travel")
    return problems


class Handler(BaseHTTPRequestHandler):
    server_version = "cssh-test-authconfig/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - silence the default access log
        pass

    def setup(self):
        super().setup()
        with self.server.lock:  # one per TCP connection: shows whether clients keep them alive
            self.server.connections += 1

    def reply(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/stats"):
            with self.server.lock:
                self.reply(200, {"requests": self.server.counts, "violations": self.server.violations,
                                 "connections": self.server.connections})
        else:
            self.reply(200, {"status": "ok"})

    def count(self, key):
        with self.server.lock:
            self.server.counts[key] = self.server.counts.get(key, 0) + 1
            return self.server.counts[key]

    def do_POST(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        kind = path.rsplit("/", 1)[-1]
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.reply(400, {"error": "bad Content-Length"})
            return
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        user = body.get("username") if isinstance(body, dict) else None
        n = self.count(f"{kind} {user}")
        event = {"path": self.path, "kind": kind, "username": user, "n": n}
        if kind == "elsewhere":
            log(event)
            self.reply(200, {"success": True})
            return
        if kind not in EXPECTED_FIELDS or not isinstance(body, dict):
            event["error"] = "unknown path or body is not a JSON object"
            log(event)
            with self.server.lock:
                self.server.violations.append(event)
            self.reply(404 if kind not in EXPECTED_FIELDS else 400, {"error": event["error"]})
            return
        if self.headers.get("Content-Type") != "application/json":
            event["contentType"] = self.headers.get("Content-Type")
        problems = validate(kind, body)
        if problems:
            event["violations"] = problems
            with self.server.lock:
                self.server.violations.append(event)
        if kind == "pubkey":
            event["publicKey"] = str(body.get("publicKey"))[:30]
        log(event)
        getattr(self, "answer_" + kind)(user, body, n)

    # --- answers --------------------------------------------------------------------------

    def answer_password(self, user, body, n):
        password = base64.b64decode(str(body.get("passwordBase64")) + "==").decode("utf-8", "replace")
        if user == "flaky" and n == 1:
            self.reply(500, {"error": "temporarily broken"})
            return
        if user == "slowpoke":
            time.sleep(30)
            return
        if user == "garbage":
            self.reply(200, b"this is not json{")
            return
        if user == "redirect":
            self.reply(307, {"moved": True}, {"Location": self.path.rsplit("/", 1)[0] + "/elsewhere"})
            return
        self.answer_credential(user, password == PASSWORD)

    def answer_pubkey(self, user, body, n):
        key = " ".join(str(body.get("publicKey")).split()[:2])
        self.answer_credential(user, user == "alice" and key == self.server.alice_key)

    def answer_credential(self, user, ok):
        answer = {"success": ok}
        if ok:
            answer["authenticatedUsername"] = "renamed-user" if user == "renamed" else user
            if user == "alice":
                answer.update(metadata=ALICE_METADATA, environment=ALICE_ENV, files=ALICE_FILES)
        self.reply(200, answer)

    def answer_authz(self, user, body, n):
        self.reply(200, {"success": user != "mallory", "authenticatedUsername": body.get("authenticatedUsername")})

    def answer_config(self, user, body, n):
        if user == "cfgfail":
            self.reply(500, {"error": "config backend down"})
            return
        if user == "cfgbad":
            self.reply(200, {"config": {"docker": {"execution": {"imagePullPolicy": "Sometimes"}}}})
            return
        answer = {"config": {}}
        if user == "carol":
            answer["config"] = {"docker": {"execution": {"container": {"image": self.server.alt_image}}}}
            answer["environment"] = {"CONFIG_ENV": {"value": "from-config", "sensitive": False}}
        if user == "alice":
            answer["environment"] = {"CONFIG_ENV": {"value": "alice-config", "sensitive": False}}
        self.reply(200, answer)


def main():
    ap = argparse.ArgumentParser(description="test auth/authz/config server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--alice-key", default="", help="file with alice's public key (authorized_keys line)")
    ap.add_argument("--alt-image", default="cssh-auth-alt:latest")
    ap.add_argument("--tls-cert", default="")
    ap.add_argument("--tls-key", default="")
    ap.add_argument("--tls-client-ca", default="", help="require client certificates signed by this CA")
    args = ap.parse_args()

    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.lock = threading.Lock()
    server.counts = {}
    server.connections = 0
    server.violations = []
    server.alt_image = args.alt_image
    server.alice_key = ""
    if args.alice_key:
        with open(args.alice_key) as f:
            server.alice_key = " ".join(f.read().split()[:2])
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.tls_client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    log({"event": "listening", "port": server.server_address[1], "tls": bool(args.tls_cert)})
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
