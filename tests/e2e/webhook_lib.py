"""Real HTTP webhook servers for the end-to-end tests, on 127.0.0.1 with a port of their own.

JsonWebhook is the HTTP part every test's auth / config server shares: it reads each POST's JSON
body and hands it, with the path, to the test's `answer(path, body, reply)`; the test returns
(status, object) to send as JSON, or answers itself through `reply` (raw bytes, a hang, a stream)
and returns None. RecordingWebhook is the plain auth webhook most tests need."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PASSWORD = "secret"


def password_of(body):
    """The password a ContainerSSH auth request carries (base64 in passwordBase64)."""
    return base64.b64decode(body.get("passwordBase64", "")).decode(errors="replace")


class Reply:
    """How an answer function sends something other than one JSON object."""

    def __init__(self, handler):
        self.handler = handler

    def send(self, status, data, content_type="application/json"):
        h = self.handler
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def json(self, status, obj):
        self.send(status, json.dumps(obj).encode())

    def headers(self, status, length):
        """Status and headers announcing `length` bytes; the caller writes the body to `wfile`."""
        h = self.handler
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(length))
        h.end_headers()
        return h.wfile


class JsonWebhook:
    """A threading HTTP/1.1 server whose POSTs go to `answer(path, body, reply)`."""

    def __init__(self, answer):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                reply = Reply(self)
                try:
                    result = answer(self.path, body, reply)
                    if result is not None:
                        reply.json(*result)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server under test gave up on this call: that is what some tests want

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


class RecordingWebhook(JsonWebhook):
    """ContainerSSH's auth webhook: admits any user with PASSWORD and records each request's
    path, username, remoteAddress and connectionId."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        super().__init__(self._answer)

    def _answer(self, path, body, reply):
        with self.lock:
            self.requests.append({"path": path, "username": body.get("username"),
                                  "remoteAddress": body.get("remoteAddress"),
                                  "connectionId": body.get("connectionId")})
        return 200, {"success": path.endswith("/password") and password_of(body) == PASSWORD}

    def addresses_of(self, username):
        with self.lock:
            return [r["remoteAddress"] for r in self.requests if r["username"] == username]
