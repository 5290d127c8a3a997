"""The three things the benchmark compares: this server, an OpenSSH sshd peer whose ForceCommand
runs `docker run`, and the Docker Engine itself (the floor). Each starts on 127.0.0.1 only.
"""
import os
import resource
import shlex
import socket
import subprocess
import time

CIPHER = "aes128-gcm@openssh.com"
PASSWORD = "bench-secret"
USER = "bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


CLIENT_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
               "-o", f"Ciphers={CIPHER}", "-o", "ConnectTimeout=60"]


class ContainerSSH:
    """This server, with the built-in users file (password auth) and the given execution mode."""

    def __init__(self, binary, image, workdir, mode="session", name="cssh", forwarding=False):
        self.binary, self.image, self.mode, self.forwarding, self.name = binary, image, mode, forwarding, name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.key = os.path.join(self.dir, "client_key")
        self.proc = None

    def _write_config(self):
        digest = subprocess.run(["openssl", "passwd", "-6", PASSWORD], capture_output=True, text=True,
                                check=True).stdout.strip()
        # A key as well: row 4 also measures a public-key login, which costs no crypt(3) hash.
        if not os.path.exists(self.key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        with open(self.key + ".pub") as pub:
            public_key = pub.read().strip()
        users = os.path.join(self.dir, "users.yaml")
        with open(users, "w") as f:
            f.write(f"users:\n  {USER}:\n    password: \"{digest}\"\n    authorizedKeys: [\"{public_key}\"]\n")
        # Forwarding (row 7) needs connection mode; the label finds the connection's container. The
        # instanceId is this run's own: the default (host and port) may be a port another server on
        # this machine used before, and its clean-up (by that label) would take our containers.
        forwarding = "security:\n  forwarding:\n    forwardingMode: enable\n" if self.forwarding else ""
        config = os.path.join(self.dir, "config.yaml")
        with open(config, "w") as f:
            f.write(f"""instanceId: cssh-bench-{os.getpid()}-{self.name}
ssh:
  listen: 127.0.0.1:{self.port}
  hostkeys: [{self.dir}/hostkey]
  ciphers: [{CIPHER}]
  maxStartups: 4000
  maxStartupsPerSource: 4000
  loginGraceTime: 300s
auth:
  password:
    method: file
    file: {{path: {users}}}
  publicKey:
    method: file
    file: {{path: {users}}}
backend: docker
docker:
  connection: {{host: unix:///var/run/docker.sock}}
  execution:
    mode: {self.mode}
    container:
      image: {self.image}
      networkdisabled: true
      labels: {{cssh-bench: "1", cssh-bench-server: "{self.port}"}}
    imagePullPolicy: Never
log:
  level: warning
{forwarding}""")
        return config

    def start(self):
        config = self._write_config()
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([self.binary, "--config", config], stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=raise_fd_limit)
        wait_listening(self.port, self.proc, "containerssh")
        return self

    def ssh(self, command, extra=()):
        return ["sshpass", "-p", PASSWORD, "ssh", *CLIENT_OPTS, *extra, "-p", str(self.port),
                f"{USER}@127.0.0.1", command]

    def ssh_key(self, command, extra=()):
        """The same login with the public key instead of the password."""
        return ["ssh", *CLIENT_OPTS, "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey", "-i", self.key,
                *extra, "-p", str(self.port), f"{USER}@127.0.0.1", command]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()


class SshdPeer:
    """OpenSSH sshd with key auth whose ForceCommand runs the command in `docker run --rm -i`."""

    def __init__(self, image, workdir):
        self.image = image
        self.dir = os.path.join(workdir, "sshd")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.key = os.path.join(self.dir, "client_key")
        self.proc = None

    def start(self):
        for path, kind in ((os.path.join(self.dir, "host_key"), "ed25519"), (self.key, "ed25519")):
            if not os.path.exists(path):
                subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", path], check=True)
        with open(self.key + ".pub") as pub, open(os.path.join(self.dir, "authorized_keys"), "w") as out:
            out.write(pub.read())
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
        force = f'docker run --rm -i --network none {self.image} sh -c "$SSH_ORIGINAL_COMMAND"'
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.dir}/host_key
PidFile {self.dir}/sshd.pid
AuthorizedKeysFile {self.dir}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 4000
MaxSessions 100
Ciphers {CIPHER}
LogLevel ERROR
ForceCommand {force}
""")
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", config, "-E", os.path.join(self.dir, "sshd.log")],
                                     preexec_fn=raise_fd_limit)
        wait_listening(self.port, self.proc, "sshd")
        return self

    def ssh(self, command, extra=()):
        user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        return ["ssh", *CLIENT_OPTS, "-o", "BatchMode=yes", "-i", self.key, *extra, "-p", str(self.port),
                f"{user}@127.0.0.1", command]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


class Engine:
    """The floor: the same work straight through the Docker CLI."""

    def __init__(self, image):
        self.image = image

    def run(self, command, interactive=False):
        return ["docker", "run", "--rm", *(["-i"] if interactive else []), "--network", "none", self.image,
                "sh", "-c", command]

    def exec(self, container, command):
        return ["docker", "exec", container, "sh", "-c", command]

    def start_long_running(self):
        out = subprocess.run(["docker", "run", "-d", "--rm", "--network", "none", "--label", "cssh-bench=1",
                              self.image, "sleep", "3600"], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    @staticmethod
    def remove(container):
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def shell_join(argv):
    return " ".join(shlex.quote(a) for a in argv)
