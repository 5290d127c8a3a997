#!/usr/bin/python3
"""The benchmark suite: this server side by side with the Docker Engine's own floor and with an
OpenSSH sshd whose ForceCommand runs `docker run`, all measured in the same run on this machine.

    bench/run.py                 the full suite (tens of minutes on 2 cores)
    bench/run.py --smoke         ~10-30 s: every row at a tiny size, so the suite cannot rot
    bench/run.py --rows 1,3      only some rows
    bench/run.py --json F        where the JSON goes (default bench/results/<UTC time>.json)

Rows (see bench/README.md for what each measures and the targets):
  1 session start   2 second session (connection mode)   3 throughput   4 concurrency
  5 idle connections   6 daemon CPU overhead (derived from rows 3 and 4)   7 forwarding (ssh -L)
Ratios are always against a reference measured in this run; absolute times vary with the machine.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore", message=".*has been deprecated")  # asyncssh on cryptography 38
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import rows  # noqa: E402
from servers import ContainerSSH, Engine, SshdPeer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FULL = dict(start_runs=25, second_runs=25, stream_mb=500, concurrency=[50, 100, 200], idle_connections=2000,
            forward_samples=200, forward_mb=500, forward_connections=100, forward_kb_each=10000)
SMOKE = dict(start_runs=2, second_runs=2, stream_mb=4, concurrency=[3], idle_connections=20,
             forward_samples=10, forward_mb=5, forward_connections=10, forward_kb_each=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite works, measures nothing")
    parser.add_argument("--rows", default="1,2,3,4,5,6,7")
    parser.add_argument("--json", help="output file (default bench/results/<time>.json)")
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "containerssh"))
    parser.add_argument("--image", default="containerssh-guest:latest")
    parser.add_argument("--no-peer", action="store_true", help="skip the OpenSSH sshd peer")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless every requested row produced numbers and every session succeeded "
                             "(what the ctest smoke run asserts; targets are not judged)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (server logs, configs)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a size, e.g. --set stream_mb=100 --set concurrency=20,50")
    args = parser.parse_args()
    sizes = dict(SMOKE if args.smoke else FULL)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in sizes:
            sys.exit(f"bench: --set {item}: unknown size (known: {', '.join(sizes)})")
        sizes[key] = [int(v) for v in value.split(",")] if isinstance(sizes[key], list) else int(value)
    wanted = {int(r) for r in args.rows.split(",") if r}

    if not os.access(args.binary, os.X_OK):
        sys.exit(f"bench: {args.binary} is not built (scripts/build.sh)")
    if subprocess.run(["docker", "image", "inspect", args.image], capture_output=True).returncode != 0:
        sys.exit(f"bench: image {args.image} is missing (scripts/build-guest-image.sh {args.image})")
    peer_available = not args.no_peer and os.path.exists("/usr/sbin/sshd")
    if not peer_available and not args.no_peer:
        print("bench: /usr/sbin/sshd missing (Debian openssh-server): the sshd peer columns stay empty",
              file=sys.stderr)

    workdir = tempfile.mkdtemp(prefix="cssh-bench-")
    session = ContainerSSH(args.binary, args.image, workdir, mode="session", name="session")
    connection = ContainerSSH(args.binary, args.image, workdir, mode="connection", name="connection")
    forwarding = ContainerSSH(args.binary, args.image, workdir, mode="connection", name="forwarding", forwarding=True)
    peer = SshdPeer(args.image, workdir) if peer_available else None
    engine = Engine(args.image)
    results = {"time": datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z", "smoke": args.smoke,
               "sizes": sizes, "machine": rows.machine(), "rows": {}}
    try:
        session.start()
        if peer:
            peer.start()
        ctx = rows.Context(session=session, connection=connection, peer=peer, engine=engine, sizes=sizes,
                           smoke=args.smoke, forwarding=forwarding)
        if 1 in wanted:
            results["rows"]["session_start"] = rows.session_start(ctx)
        if 2 in wanted:
            connection.start()
            results["rows"]["second_session"] = rows.second_session(ctx)
            connection.stop()
        if 3 in wanted:
            results["rows"]["throughput"] = rows.throughput(ctx)
        if 4 in wanted:
            results["rows"]["concurrency"] = rows.concurrency(ctx)
        if 5 in wanted:
            results["rows"]["idle"] = rows.idle_connections(ctx)
        if 6 in wanted:
            results["rows"]["overhead"] = rows.overhead(results["rows"])
        if 7 in wanted:
            forwarding.start()
            results["rows"]["forwarding"] = rows.forwarding(ctx)
            forwarding.stop()
    finally:
        session.stop()
        connection.stop()
        forwarding.stop()
        if peer:
            peer.stop()
        leftovers = subprocess.run(["docker", "ps", "-aq", "--filter", "label=cssh-bench=1"], capture_output=True,
                                   text=True).stdout.split()
        for c in leftovers:
            Engine.remove(c)

    results["targets"] = rows.targets(results["rows"], smoke=args.smoke)
    out = args.json or os.path.join(ROOT, "bench", "results",
                                    datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ") + ".json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    rows.print_table(results)
    print(f"\nbench: JSON written to {out}")
    if args.keep:
        print(f"bench: working directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.check:
        problems = rows.problems(results["rows"], wanted, peer_expected=peer is not None)
        for p in problems:
            print(f"bench: check failed: {p}", file=sys.stderr)
        sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
