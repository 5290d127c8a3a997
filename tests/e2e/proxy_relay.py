#!/usr/bin/python3
"""OpenSSH ProxyCommand for the PROXY protocol tests: connects to 127.0.0.1:PORT, sends a PROXY
header naming SOURCE_IP:SOURCE_PORT as the client (VERSION "v1" or "v2"), then relays stdin and
stdout to and from the socket, as a load balancer would.

Usage: proxy_relay.py PORT VERSION SOURCE_IP SOURCE_PORT"""

import os
import selectors
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_lib import proxy_v1, proxy_v2  # noqa: E402


def main():
    port, version, source_ip, source_port = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    destination = "::1" if ":" in source_ip else "127.0.0.1"
    build = proxy_v1 if version == "v1" else proxy_v2
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(build(source_ip, destination, source_port, port))
    sel = selectors.DefaultSelector()
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    sel.register(stdin, selectors.EVENT_READ, "in")
    sel.register(sock, selectors.EVENT_READ, "sock")
    while True:
        for key, _ in sel.select():
            if key.data == "in":
                data = os.read(stdin, 65536)
                if not data:
                    sock.shutdown(socket.SHUT_WR)
                    sel.unregister(stdin)
                    continue
                sock.sendall(data)
            else:
                data = sock.recv(65536)
                if not data:
                    return
                os.write(stdout, data)


if __name__ == "__main__":
    main()
