#!/usr/bin/python3
"""Exposes a Unix socket (a Docker Engine's) as plain TCP on 127.0.0.1, for tests of the
server's plain-TCP Engine connection. Each direction is copied on its own; a half-close
(EOF from one side) is passed on as a half-close, so stdin EOF still reaches containers.

Usage: tcp_unix_proxy.py --socket /var/run/docker.sock [--port 0]
Prints "LISTENING <port>" on stdout once ready. Only the Python standard library is used.
"""

import argparse
import asyncio
import sys


COUNTER = 0


def log(conn, text):
    print(f"proxy: conn {conn}: {text}", file=sys.stderr, flush=True)


async def pump(reader, writer, conn, direction):
    total = 0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            total += len(data)
            writer.write(data)
            await writer.drain()
        log(conn, f"{direction}: EOF after {total} bytes; passing the half-close on")
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError) as e:
        log(conn, f"{direction}: {e!r} after {total} bytes; closing")
        writer.close()


# asyncio's streams hold their readers weakly: a connection's tasks that only reference each
# other (a pump waiting on a reader) can be garbage-collected mid-copy, which silently drops that
# connection. Every task is kept here until it ends.
LIVE_TASKS = set()


def keep(task):
    LIVE_TASKS.add(task)
    task.add_done_callback(LIVE_TASKS.discard)
    return task


async def handle(client_reader, client_writer, socket_path):
    global COUNTER
    COUNTER += 1
    conn = COUNTER
    keep(asyncio.current_task())
    try:
        engine_reader, engine_writer = await asyncio.open_unix_connection(socket_path)
    except OSError as e:
        log(conn, f"cannot reach {socket_path}: {e!r}")
        client_writer.close()
        return
    await asyncio.gather(keep(asyncio.create_task(pump(client_reader, engine_writer, conn, "client->engine"))),
                         keep(asyncio.create_task(pump(engine_reader, client_writer, conn, "engine->client"))))
    client_writer.close()
    engine_writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = await asyncio.start_server(lambda r, w: handle(r, w, args.socket), "127.0.0.1", args.port)
    print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
