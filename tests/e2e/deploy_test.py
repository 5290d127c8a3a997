#!/usr/bin/python3
"""deploy/: the daemon's image built with no registry, serving a login (issue 10).

Usage: deploy_test.py BINARY REPO_ROOT

- deploy/stage-prebuilt.sh puts the built binary's shared libraries on a minimal root filesystem,
  which `docker import` turns into a base image; deploy/Dockerfile.prebuilt builds the daemon's
  image on it (the final stage of deploy/Dockerfile: non-root user, HEALTHCHECK via --healthcheck);
- the image runs with the host's Docker socket mounted (host network: the test's dockerd has no
  bridge), becomes `healthy` through its HEALTHCHECK, runs as uid 10000, serves an OpenSSH login
  (the auth webhook on the host) whose container it creates and removes on the host's Engine, and
  exits 0 on `docker stop`;
- deploy/haproxy.cfg passes `haproxy -c`, deploy/containerssh.service passes `systemd-analyze
  verify`, the compose instances' configurations load.
Everything it creates carries a unique tag or name and is removed at the end.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_lib import IMAGE, PASSWORD, check, finish, free_port, remove_containers, ssh_options, wait_until  # noqa: E402
from webhook_lib import RecordingWebhook as Webhook  # noqa: E402

SSH_OPTS = ssh_options(connect_timeout=20)


def run(args, timeout=300, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def inspect(name, fmt):
    return run(["docker", "inspect", "-f", fmt, name], timeout=30).stdout.strip()


def check_artefacts(binary, root, tmp):
    r = run(["haproxy", "-c", "-f", os.path.join(root, "deploy", "haproxy.cfg")], timeout=30)
    check(r.returncode == 0 and "Configuration file is valid" in r.stdout + r.stderr,
          "deploy/haproxy.cfg passes haproxy -c", (r.stdout + r.stderr)[-300:])
    # The unit as installed, but pointing at this build's binary (verify wants ExecStart to exist).
    unit = open(os.path.join(root, "deploy", "containerssh.service")).read().replace(
        "/usr/local/bin/containerssh", os.path.abspath(binary))
    unit_path = os.path.join(tmp, "containerssh.service")
    with open(unit_path, "w") as f:
        f.write(unit)
    if shutil.which("systemd-analyze"):
        r = run(["systemd-analyze", "verify", unit_path], timeout=60)
        check(r.returncode == 0 and r.stderr.strip() == "", "deploy/containerssh.service passes systemd-analyze verify",
              r.stderr[-300:])
    for name in ("containerssh-a.yaml", "containerssh-b.yaml"):
        # --healthcheck loads and validates the whole configuration before asking the endpoint.
        r = run([binary, "--config", os.path.join(root, "deploy", "compose", name), "--healthcheck"], timeout=30)
        check("invalid configuration" not in r.stderr and "not ok:" in r.stderr,
              f"deploy/compose/{name} is a valid configuration", r.stderr[-300:])


def main():
    binary, root = sys.argv[1], sys.argv[2]
    tag = uuid.uuid4().hex[:10]
    base_image, image, name = f"cssh-deploy-base:{tag}", f"cssh-deploy:{tag}", f"cssh-deploy-{tag}"
    instance = f"deploy-{tag}"
    tmp = tempfile.mkdtemp(prefix="cssh-deploy-")
    webhook = Webhook()
    try:
        check_artefacts(binary, root, tmp)

        stage = os.path.join(tmp, "stage")
        started = time.time()
        r = run(["bash", os.path.join(root, "deploy", "stage-prebuilt.sh"), binary, stage])
        check(r.returncode == 0, "stage-prebuilt.sh stages a root filesystem and a build context", r.stderr[-300:])
        r = run(["docker", "import", os.path.join(stage, "rootfs.tar"), base_image])
        check(r.returncode == 0, "docker import makes the base image (no registry)", r.stderr[-300:])
        r = run(["docker", "build", "-f", os.path.join(root, "deploy", "Dockerfile.prebuilt"),
                 "--build-arg", f"BASE={base_image}", "-t", image, os.path.join(stage, "context")])
        check(r.returncode == 0, "docker build -f deploy/Dockerfile.prebuilt builds the daemon's image",
              (r.stdout + r.stderr)[-500:])
        print(f"measured: staging, import and build took {time.time() - started:.1f}s; image size "
              f"{int(inspect(image, '{{.Size}}') or 0) / 1e6:.0f} MB", flush=True)
        check(inspect(image, "{{.Config.User}}") == "10000:10000", "the image runs as the non-root user 10000")
        health_cmd = inspect(image, "{{json .Config.Healthcheck.Test}}")
        check("--healthcheck" in health_cmd, "the image's HEALTHCHECK runs containerssh --healthcheck", health_cmd)

        ssh_port, health_port = free_port(), free_port()
        config = os.path.join(tmp, "config.yaml")
        with open(config, "w") as f:
            f.write(f"ssh:\n  listen: 127.0.0.1:{ssh_port}\n  hostkeys: [/var/lib/containerssh/host_ed25519]\n"
                    "auth:\n  password:\n    method: webhook\n    webhook:\n"
                    f"      url: http://127.0.0.1:{webhook.port}\n"
                    f"instanceId: {instance}\n"
                    f"docker:\n  execution:\n    mode: session\n    container:\n      image: {IMAGE}\n"
                    "    imagePullPolicy: Never\n"
                    f"health:\n  enable: true\n  listen: 127.0.0.1:{health_port}\n"
                    f"  client:\n    url: http://127.0.0.1:{health_port}/\n"
                    "log:\n  level: info\n  format: ljson\n")
        os.chmod(config, 0o644)
        socket_gid = str(os.stat("/var/run/docker.sock").st_gid)
        r = run(["docker", "run", "-d", "--name", name, "--network", "host", "--group-add", socket_gid,
                 "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", f"{config}:/etc/containerssh/config.yaml:ro",
                 "--health-interval", "1s", "--health-start-period", "1s", "--health-timeout", "3s", image])
        check(r.returncode == 0, "the daemon's container starts with the host's Docker socket mounted",
              r.stderr[-300:])
        healthy = wait_until(lambda: inspect(name, "{{.State.Health.Status}}") == "healthy", 60, step=0.5)
        check(healthy, "its HEALTHCHECK (containerssh --healthcheck) reports healthy",
              inspect(name, "{{.State.Health.Status}} {{json .State.Health.Log}}")[-400:] + " " +
              run(["docker", "logs", name], timeout=30).stdout[-800:])
        uids = run(["docker", "top", name, "-o", "pid,uid,comm"], timeout=30).stdout
        check("10000" in uids and "containerssh" in uids, "the daemon's process runs as uid 10000", uids)

        r = run(["sshpass", "-p", PASSWORD, "ssh", *SSH_OPTS, "-p", str(ssh_port), "deployuser@127.0.0.1",
                 "echo served-from-image; echo $SSH_CLIENT"], timeout=90)
        lines = r.stdout.split()
        check(r.returncode == 0 and lines[:2] == ["served-from-image", "127.0.0.1"],
              "an OpenSSH login through the containerised daemon runs its command in a container on the host's Engine",
              f"rc={r.returncode} out={r.stdout!r} err={r.stderr[-300:]!r}")
        check(webhook.addresses_of("deployuser") != [], "the daemon in the container asked the host's auth webhook")
        check(wait_until(lambda: remove_containers_count(instance) == 0, 20),
              "the session's container is removed after the login")

        stopped = time.time()
        r = run(["docker", "stop", "-t", "60", name], timeout=90)
        took = time.time() - stopped
        exit_code = inspect(name, "{{.State.ExitCode}}")
        logs = run(["docker", "logs", name], timeout=30).stdout
        check(r.returncode == 0 and exit_code == "0" and "SERVER_STOPPED" in logs,
              "docker stop (SIGTERM) stops the daemon cleanly: exit code 0, SERVER_STOPPED",
              f"exit {exit_code} after {took:.1f}s")
    finally:
        run(["docker", "rm", "-f", name], timeout=60)
        left = remove_containers(instance)
        check(left == 0, "no session container of the image's daemon remains", f"{left} left")
        run(["docker", "rmi", "-f", image, base_image], timeout=120)
        webhook.close()
        shutil.rmtree(tmp, ignore_errors=True)
    finish("e2e_deploy_full")


def remove_containers_count(instance):
    out = run(["docker", "ps", "-aq", "--filter", f"label=containerssh_instance={instance}"], timeout=30).stdout
    return len(out.split())


if __name__ == "__main__":
    main()
