#!/usr/bin/python3
"""A Unix-socket proxy to the shared dockerd that a test can stop and start.

The server under test reaches the Engine only through it (docker.connection.host unix://PATH);
the shared dockerd, which other tests use, must never be stopped. Killing the proxy cuts every
connection at once and refuses new ones, as a stopped dockerd does; starting it again is dockerd
coming back.

Usage as a program: engine_proxy.py LISTEN_PATH TARGET_PATH (prints LISTENING once it accepts).
"""

import asyncio
import os
import subprocess
import sys

DOCKER_SOCKET = "/var/run/docker.sock"


async def _pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def _proxy_main(listen_path, target_path):
    async def handle(r, w):
        try:
            er, ew = await asyncio.open_unix_connection(target_path)
        except OSError:
            w.close()
            return
        await asyncio.gather(_pump(r, ew), _pump(er, w))
        w.close()
        ew.close()

    if os.path.exists(listen_path):
        os.unlink(listen_path)
    server = await asyncio.start_unix_server(handle, path=listen_path)
    print("LISTENING", flush=True)
    async with server:
        await server.serve_forever()


class EngineProxy:
    """The proxy as a child process listening on `path`."""

    def __init__(self, path, target=DOCKER_SOCKET):
        self.path = path
        self.target = target
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), self.path, self.target],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if "LISTENING" not in self.proc.stdout.readline():
            raise RuntimeError("the Engine proxy did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


if __name__ == "__main__":
    asyncio.run(_proxy_main(sys.argv[1], sys.argv[2]))
