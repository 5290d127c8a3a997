#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016  # the cleanup hooks run from the EXIT trap; remote commands are quoted on purpose
# End-to-end test of the docker options (container / host / network / platform / containerName):
# the real server binary, the real dockerd, the OpenSSH client (through sshpass) and the test
# auth webhook, all on 127.0.0.1. Each option is checked where it takes effect: inside the
# container (cgroup files, /proc, mounts) and with `docker inspect` on the live container while
# a session holds it open. Options this Engine cannot honour are shown to reach the Engine, and
# its refusal to reach the SSH user's stderr and the server log.
#
# Usage: tests/e2e/docker_options_test.sh path/to/containerssh
# Needs: a Docker Engine on /var/run/docker.sock (cgroup v1, as here), the image
# containerssh-guest:latest (tests/e2e/setup.sh provides both).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib/engine_env.sh
source "$HERE/lib/engine_env.sh"
e2e_start "${1:-}" /tmp/cssh-e2e-options.XXXXXX docker sshpass ssh "$PYTHON" timeout
chmod 755 "$TMP"
RUN_ID="$$-$RANDOM"
RUN_LABEL=cssh-e2e-options    # every container this test's configurations create carries RUN_LABEL=RUN_ID
VOLUME=cssh-e2e-vol-$RUN_ID
FIXED_NAME=cssh-e2e-fixed-$RUN_ID
BG_PIDS=()
LOG_TAIL=40

# This test's containers: by its run label, and the one with the fixed name.
our_containers() {
  docker ps -aq --filter "label=$RUN_LABEL=$RUN_ID"
  docker ps -aq --filter "name=^/$FIXED_NAME\$"
}

before_cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}"; do
    pkill -KILL -P "$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
  done
}
after_cleanup() { docker volume rm -f "$VOLUME" >/dev/null 2>&1; }

start_webhook

# --- servers -----------------------------------------------------------------------------
# write_config NAME: stdin is the docker part of the configuration (backend + docker/dockerrun);
# the server on $TMP/NAME.yaml listens on $SSH_PORT and logs (debug) to $TMP/NAME.log.
write_config() { write_server_config "$1" debug; }

# session [COMMAND]: one SSH session as alice to the current server (no command: a shell request;
# limit: $SSH_TIMEOUT s, default 60).
session() { SSH_TIMEOUT=${SSH_TIMEOUT:-60} cssh "$SSH_PORT" "$@"; }

# wait_container FILTER...: prints the id of the first container matching the docker ps filters
# (waits up to 10 s).
wait_container() {
  local id="" start
  start=$(now_ms)
  while (($(now_ms) - start < 10000)); do
    id=$(docker ps -q "$@" | head -n 1)
    [[ -n "$id" ]] && break
    sleep 0.05
  done
  echo "$id"
}

# check_json WHAT FILE: each stdin line is "<python expression over d> => <expected JSON>", where d
# is the first object of the JSON array in FILE (docker inspect's output).
check_json() {
  local what=$1 file=$2 verdict rest
  while IFS=$'\t' read -r verdict rest; do
    if [[ "$verdict" == ok ]]; then pass "$what: $rest"; else fail "$what: $rest"; fi
  done < <("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))[0]
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    expr, want = line.split(" => ", 1)
    try:
        got = eval(expr, {"d": d})
    except Exception as e:
        got = "<%s: %s>" % (type(e).__name__, e)
    ok = got == json.loads(want)
    print(("ok" if ok else "bad") + "\t" + line + ("" if ok else "   (got " + json.dumps(got) + ")"))
' "$file")
}

# check_output WHAT FILE: each stdin line must be a line of FILE.
check_output() {
  local what=$1 file=$2 line
  while IFS= read -r line; do
    [[ -n "$line" ]] || continue
    if grep -qxF -- "$line" "$file"; then
      pass "$what: inside the container: $line"
    else
      fail "$what: inside the container: expected the line '$line'"
    fi
  done
}

# check_refusal WHAT RC ERRFILE LOG PATTERN: the session failed with exit code 125 and the Engine's
# message (PATTERN, an extended regex) reached both the user's stderr and the server log.
check_refusal() {
  local what=$1 rc=$2 err=$3 log=$4 pattern=$5
  if ((rc == 125)) && grep -qE -- "$pattern" "$err"; then
    pass "$what: refused with exit code 125; the user's stderr says: $(grep -E -- "$pattern" "$err" | head -n 1 | cut -c1-220)"
  else
    fail "$what: expected exit code 125 and /$pattern/ on stderr, got exit $rc, stderr '$(show "$err")'"
  fi
  if grep -E -- "$pattern" "$log" | grep -q DOCKER_PROGRAM_FAILED; then
    pass "$what: the server log has it (DOCKER_PROGRAM_FAILED)"
  else
    fail "$what: the server log has no DOCKER_PROGRAM_FAILED line matching /$pattern/"
  fi
}

# --- host side preparations ----------------------------------------------------------------------
CGROUP_V1=0
[[ "$(stat -fc %T /sys/fs/cgroup)" == tmpfs ]] && CGROUP_V1=1
mkdir -p "$TMP/bind-ro" "$TMP/bind-rw"
echo "hello from the host" >"$TMP/bind-ro/hello"
# Both writable for everyone: only the :ro option may keep uid 1000 from writing to /mnt/ro.
chmod 777 "$TMP/bind-ro" "$TMP/bind-rw"
# A block device for the blkio limits: the one holding Docker's data, if it is one.
BLOCK_DEV=$(findmnt -no SOURCE -T /var/lib/docker 2>/dev/null | head -n 1 | sed 's/\[.*//' || true)
BLOCK_MAJMIN=""
if [[ -b "$BLOCK_DEV" ]]; then
  BLOCK_MAJMIN=$(lsblk -dno MAJ:MIN "$BLOCK_DEV" 2>/dev/null | tr -d ' ' || true)
fi
BLKIO_DEVICE_YAML=""
if [[ -n "$BLOCK_MAJMIN" ]]; then
  BLKIO_DEVICE_YAML="        blkiodevicereadbps: [{path: $BLOCK_DEV, rate: 1048576}]
        blkiodevicewriteiops: [{path: $BLOCK_DEV, rate: 100}]"
else
  info "no block device under /var/lib/docker: the blkio device limits are not exercised"
fi
info "run $RUN_ID, cgroup v1: $CGROUP_V1, block device: ${BLOCK_DEV:-none} ${BLOCK_MAJMIN}"

# ==================================================================================================
# 1. The current shape (docker.connection + docker.execution): container, host, resources, mounts.
# ==================================================================================================
write_config limits <<EOF
backend: docker
docker:
  connection:
    host: unix:///var/run/docker.sock
  execution:
    mode: session
    imagePullPolicy: Never
    container:
      image: $GUEST_IMAGE
      env: [CSSH_E2E_VAR=from-config]
      cmd: [/bin/sh, -c, 'echo "cmd-ran uid=\$(id -u)"']
      user: 1000
      hostname: optbox
      domainname: example.test
      workingdir: /tmp
      stopsignal: SIGINT
      labels:
        $RUN_LABEL: "$RUN_ID"
    host:
      binds: ["$TMP/bind-ro:/mnt/ro:ro"]
      mounts:
        - type: volume
          source: $VOLUME
          target: /mnt/vol
          volumeoptions:
            labels:
              - owner: alice
              - tier: gold
        - type: bind
          source: $TMP/bind-rw
          target: /mnt/bind
          bindoptions:
            propagation: rprivate
        - type: tmpfs
          target: /mnt/scratch
          tmpfsoptions:
            sizebytes: 8388608
            mode: 0750
      tmpfs:
        /tmp: rw,size=16m
      readonlyrootfs: true
      oomscoreadj: 500
      networkDisabled: true
      groupadd: ["100"]
      capdrop: [NET_RAW]
      shmsize: 33554432
      dns: [127.0.0.53]
      dnsoptions: [ndots:1]
      dnssearch: [example.test]
      extrahosts: ["db.example.test:127.0.0.2"]
      sysctls:
        kernel.shm_rmid_forced: 1
      resources:
        memory: 67108864
        memoryreservation: 33554432
        memoryswap: 134217728
        memoryswappiness: 60
        oomkilldisable: true
        cpusetcpus: "0"
        cpuperiod: 100000
        cpuquota: 50000
        cpushares: 512
        pidslimit: 100
        ulimits: [{name: nofile, soft: 1024, hard: 2048}]
        blkioweight: 300
$BLKIO_DEVICE_YAML
EOF
start_server limits
LOG=$TMP/limits.log

# 1a. A shell request in session mode runs container.cmd (as uid 1000).
rc=0
session </dev/null >"$TMP/shell.out" 2>"$TMP/shell.err" || rc=$?
if ((rc == 0)) && grep -qx 'cmd-ran uid=1000' "$TMP/shell.out"; then
  pass "cmd: a shell request ran container.cmd as uid 1000 ('cmd-ran uid=1000')"
else
  fail "cmd: expected 'cmd-ran uid=1000' and exit 0, got exit $rc, stdout '$(show "$TMP/shell.out")', stderr '$(show "$TMP/shell.err")'"
fi

# 1b. One exec session prints what the container sees, then holds it open for docker inspect.
PROBE='cg=/sys/fs/cgroup
echo "uid=$(id -u)"
echo "groups=$(id -G)"
echo "var=$CSSH_E2E_VAR"
echo "hostname=$(hostname)"
echo "pwd=$(pwd)"
echo "ro-file=$(cat /mnt/ro/hello)"
touch /mnt/ro/probe 2>/dev/null && echo "binds-ro=writable" || echo "binds-ro=read-only"
echo "binds-ro-mount=$(awk "\$2 == \"/mnt/ro\" {split(\$4, o, \",\"); print o[1]}" /proc/mounts)"
touch /home/user/rootfs-probe 2>/dev/null && echo "rootfs=writable" || echo "rootfs=read-only"
echo "rootfs-mount=$(awk "\$2 == \"/\" {split(\$4, o, \",\"); print o[1]}" /proc/mounts)"
touch /tmp/probe 2>/dev/null && echo "tmp=writable" || echo "tmp=read-only"
echo "written by the container" > /mnt/bind/from-container && echo "bind-rw=written"
grep -q " /mnt/vol " /proc/mounts && echo "volume=mounted"
echo "scratch-mode=$(stat -c %a /mnt/scratch)"
echo "scratch-size=$(df -k /mnt/scratch | awk "NR==2 {print \$2}")"
echo "tmp-size=$(df -k /tmp | awk "NR==2 {print \$2}")"
echo "shm-size=$(df -k /dev/shm | awk "NR==2 {print \$2}")"
echo "net=$(ls /sys/class/net | tr "\n" ",")"
echo "oom_score_adj=$(cat /proc/self/oom_score_adj)"
echo "nofile=$(ulimit -n)"
echo "nonewprivs=$(awk "/^NoNewPrivs/ {print \$2}" /proc/self/status)"
echo "pid1=$(cat /proc/1/comm)"
echo "memory.limit=$(cat $cg/memory/memory.limit_in_bytes)"
echo "memory.soft=$(cat $cg/memory/memory.soft_limit_in_bytes)"
echo "memory.memsw=$(cat $cg/memory/memory.memsw.limit_in_bytes)"
echo "memory.swappiness=$(cat $cg/memory/memory.swappiness)"
echo "memory.oom_kill_disable=$(awk "/^oom_kill_disable/ {print \$2}" $cg/memory/memory.oom_control)"
echo "cpuset=$(cat $cg/cpuset/cpuset.cpus)"
echo "cfs_period=$(cat $cg/cpu/cpu.cfs_period_us)"
echo "cfs_quota=$(cat $cg/cpu/cpu.cfs_quota_us)"
echo "cpu_shares=$(cat $cg/cpu/cpu.shares)"
echo "pids.max=$(cat $cg/pids/pids.max)"
echo "blkio.read_bps=$(cat $cg/blkio/blkio.throttle.read_bps_device 2>/dev/null)"
echo "blkio.write_iops=$(cat $cg/blkio/blkio.throttle.write_iops_device 2>/dev/null)"
echo "blkio.weight=$(cat $cg/blkio/blkio.weight $cg/blkio/blkio.bfq.weight 2>/dev/null | head -n 1)"
sleep 3'
start=$(now_ms)
session "$PROBE" >"$TMP/probe.out" 2>"$TMP/probe.err" &
PROBE_PID=$!
BG_PIDS+=("$PROBE_PID")
cid=$(wait_container --filter "label=$RUN_LABEL=$RUN_ID")
if [[ -n "$cid" ]]; then
  docker inspect "$cid" >"$TMP/limits.inspect.json"
  pass "limits: the session's container runs ($(($(now_ms) - start)) ms after connecting); inspected while the session holds it"
  check_json "limits: docker inspect" "$TMP/limits.inspect.json" <<EOF
d["Config"]["User"] => "1000"
"CSSH_E2E_VAR=from-config" in d["Config"]["Env"] => true
d["Config"]["Hostname"] => "optbox"
d["Config"]["Domainname"] => "example.test"
d["Config"]["WorkingDir"] => "/tmp"
d["Config"]["StopSignal"] => "SIGINT"
d["Config"]["NetworkDisabled"] => true
d["Config"]["Labels"]["$RUN_LABEL"] => "$RUN_ID"
d["HostConfig"]["Binds"] => ["$TMP/bind-ro:/mnt/ro:ro"]
d["HostConfig"]["Mounts"][0] => {"Type": "volume", "Source": "$VOLUME", "Target": "/mnt/vol", "VolumeOptions": {"Labels": {"owner": "alice", "tier": "gold"}}}
d["HostConfig"]["Mounts"][1] => {"Type": "bind", "Source": "$TMP/bind-rw", "Target": "/mnt/bind", "BindOptions": {"Propagation": "rprivate"}}
d["HostConfig"]["Mounts"][2] => {"Type": "tmpfs", "Target": "/mnt/scratch", "TmpfsOptions": {"SizeBytes": 8388608, "Mode": 488}}
d["HostConfig"]["Tmpfs"] => {"/tmp": "rw,size=16m"}
d["HostConfig"]["ReadonlyRootfs"] => true
d["HostConfig"]["OomScoreAdj"] => 500
d["HostConfig"]["GroupAdd"] => ["100"]
d["HostConfig"]["CapDrop"] => ["NET_RAW"]
d["HostConfig"]["ShmSize"] => 33554432
d["HostConfig"]["Dns"] => ["127.0.0.53"]
d["HostConfig"]["DnsOptions"] => ["ndots:1"]
d["HostConfig"]["DnsSearch"] => ["example.test"]
d["HostConfig"]["ExtraHosts"] => ["db.example.test:127.0.0.2"]
d["HostConfig"]["Sysctls"] => {"kernel.shm_rmid_forced": "1"}
d["HostConfig"]["Memory"] => 67108864
d["HostConfig"]["MemoryReservation"] => 33554432
d["HostConfig"]["MemorySwap"] => 134217728
d["HostConfig"]["MemorySwappiness"] => 60
d["HostConfig"]["OomKillDisable"] => true
d["HostConfig"]["CpusetCpus"] => "0"
d["HostConfig"]["CpuPeriod"] => 100000
d["HostConfig"]["CpuQuota"] => 50000
d["HostConfig"]["CpuShares"] => 512
d["HostConfig"]["PidsLimit"] => 100
d["HostConfig"]["Ulimits"] => [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
d["HostConfig"]["Init"] => true
d["HostConfig"]["SecurityOpt"] => ["no-new-privileges"]
EOF
  if [[ -n "$BLOCK_MAJMIN" ]]; then
    check_json "limits: docker inspect" "$TMP/limits.inspect.json" <<EOF
d["HostConfig"]["BlkioDeviceReadBps"] => [{"Path": "$BLOCK_DEV", "Rate": 1048576}]
d["HostConfig"]["BlkioDeviceWriteIOps"] => [{"Path": "$BLOCK_DEV", "Rate": 100}]
EOF
  fi
else
  fail "limits: no container labelled $RUN_LABEL=$RUN_ID appeared within 10 s"
fi
rc=0
wait "$PROBE_PID" || rc=$?
if ((rc == 0)); then
  pass "limits: the probe session ended with exit code 0"
else
  fail "limits: the probe session ended with exit code $rc, stderr '$(show "$TMP/probe.err")'"
fi
check_output limits "$TMP/probe.out" <<EOF
uid=1000
var=from-config
hostname=optbox
pwd=/tmp
ro-file=hello from the host
binds-ro=read-only
binds-ro-mount=ro
rootfs=read-only
rootfs-mount=ro
tmp=writable
bind-rw=written
volume=mounted
scratch-mode=750
scratch-size=8192
tmp-size=16384
shm-size=32768
net=lo,
oom_score_adj=500
nofile=1024
nonewprivs=1
pid1=docker-init
EOF
if grep -qE '^groups=.*\b100\b' "$TMP/probe.out"; then
  pass "limits: inside the container: groupadd 100 is among the user's groups ($(grep '^groups=' "$TMP/probe.out"))"
else
  fail "limits: inside the container: group 100 missing: $(grep '^groups=' "$TMP/probe.out" || echo none)"
fi
if ((CGROUP_V1)); then
  check_output limits "$TMP/probe.out" <<EOF
memory.limit=67108864
memory.soft=33554432
memory.memsw=134217728
memory.swappiness=60
memory.oom_kill_disable=1
cpuset=0
cfs_period=100000
cfs_quota=50000
cpu_shares=512
pids.max=100
EOF
  if [[ -n "$BLOCK_MAJMIN" ]]; then
    check_output limits "$TMP/probe.out" <<EOF
blkio.read_bps=$BLOCK_MAJMIN 1048576
blkio.write_iops=$BLOCK_MAJMIN 100
EOF
  fi
  # Block I/O weight: the Engine applies it only where the kernel has blkio.weight (CFQ); here it
  # may discard the value with a warning, which the server logs (the BFQ file keeps its default).
  if grep -q 'DOCKER_CREATE_WARNING.*Block I/O weight' "$LOG"; then
    pass "limits: blkioweight: the Engine discarded it on this kernel, and its warning is in the server log: $(awk -F'\t' '$3 == "DOCKER_CREATE_WARNING" { print $4; exit }' "$LOG" | cut -c1-160) (in the container: $(grep '^blkio.weight=' "$TMP/probe.out"))"
  else
    check_output limits "$TMP/probe.out" <<<"blkio.weight=300"
  fi
else
  info "cgroup v2: the cgroup v1 file checks are skipped (docker inspect covers the values)"
fi
if [[ -f "$TMP/bind-rw/from-container" ]] && grep -qx "written by the container" "$TMP/bind-rw/from-container"; then
  pass "limits: the bind mount (rprivate) is writable: the host sees the container's file"
else
  fail "limits: the bind mount: the host does not see $TMP/bind-rw/from-container"
fi
labels=$(docker volume inspect -f '{{json .Labels}}' "$VOLUME" 2>/dev/null || echo missing)
if [[ "$labels" == '{"owner":"alice","tier":"gold"}' ]]; then
  pass "limits: the volume $VOLUME was created with the labels given as a list of key: value items: $labels"
else
  fail "limits: volume $VOLUME labels: expected {\"owner\":\"alice\",\"tier\":\"gold\"}, got $labels"
fi
stop_servers

# ==================================================================================================
# 2. The legacy shape (backend: dockerrun, dockerrun: + config:): the server's defaults,
#    containerName and its collision, platform, usernsmode.
# ==================================================================================================
write_config legacy <<EOF
backend: dockerrun
dockerrun:
  host: unix:///var/run/docker.sock
  config:
    container:
      image: $GUEST_IMAGE
      labels:
        $RUN_LABEL: "$RUN_ID"
    host:
      usernsmode: "1000:1000"
    platform:
      os: linux
      architecture: $(docker version -f '{{.Server.Arch}}')
    containerName: $FIXED_NAME
    imagePullPolicy: Never
    timeout: 30s
EOF
start_server legacy
LOG=$TMP/legacy.log
if grep -q 'CONFIG_WARNING.*dockerrun.config.host.usernsmode' "$LOG"; then
  pass "legacy: the server warns at start that usernsmode \"1000:1000\" is passed as given but not implemented by the Engine"
else
  fail "legacy: no CONFIG_WARNING about dockerrun.config.host.usernsmode in the log"
fi
session 'echo "pid1=$(cat /proc/1/comm)"; echo "nonewprivs=$(awk "/^NoNewPrivs/ {print \$2}" /proc/self/status)"; echo "pids.max=$(cat /sys/fs/cgroup/pids/pids.max)"; echo "uid_map=$(cat /proc/self/uid_map | tr -s " " | sed "s/^ //")"; sleep 3' \
  >"$TMP/held.out" 2>"$TMP/held.err" &
HELD_PID=$!
BG_PIDS+=("$HELD_PID")
cid=$(wait_container --filter "name=^/$FIXED_NAME\$")
if [[ -n "$cid" ]]; then
  docker inspect "$cid" >"$TMP/legacy.inspect.json"
  check_json "legacy: docker inspect" "$TMP/legacy.inspect.json" <<EOF
d["Name"] => "/$FIXED_NAME"
d["HostConfig"]["Init"] => true
d["HostConfig"]["SecurityOpt"] => ["no-new-privileges"]
d["HostConfig"]["PidsLimit"] => 4096
d["HostConfig"]["UsernsMode"] => "1000:1000"
EOF
  # containerName: a second session while the first holds the name fails at create, clearly.
  rc=0
  session 'echo should-not-run' >"$TMP/second.out" 2>"$TMP/second.err" || rc=$?
  check_refusal "containerName collision" "$rc" "$TMP/second.err" "$LOG" \
    "creating the container failed: .*Conflict. The container name \"/$FIXED_NAME\" is already in use"
  if [[ -s "$TMP/second.out" ]]; then
    fail "containerName collision: the second session printed '$(show "$TMP/second.out")'"
  fi
else
  fail "legacy: no container named $FIXED_NAME appeared within 10 s"
fi
rc=0
wait "$HELD_PID" || rc=$?
((rc == 0)) || fail "legacy: the first session ended with exit code $rc, stderr '$(show "$TMP/held.err")'"
check_output "legacy defaults" "$TMP/held.out" <<EOF
pid1=docker-init
nonewprivs=1
pids.max=4096
EOF
# The Engine accepted usernsmode "1000:1000" and created no user namespace: uid 0 is the host's 0.
check_output "legacy usernsmode" "$TMP/held.out" <<<"uid_map=0 0 4294967295"
stop_servers

# ==================================================================================================
# 3. Options this Engine cannot honour are still sent exactly; its refusal reaches the user and
#    the log. Each needs its own configuration; they use the seed's docker: + config: shape.
# ==================================================================================================
refusal_config() {  # refusal_config NAME: stdin is the config: body's host/platform part
  write_config "$1" <<EOF
backend: docker
docker:
  host: unix:///var/run/docker.sock
  config:
    container:
      image: $GUEST_IMAGE
      labels:
        $RUN_LABEL: "$RUN_ID"
    imagePullPolicy: Never
    timeout: 30s
$(cat)
EOF
}

refusal_config storageopt <<EOF
    host:
      storageopt:
        size: 524288000
EOF
start_server storageopt
rc=0
session 'echo should-not-run' >"$TMP/storageopt.out" 2>"$TMP/storageopt.err" || rc=$?
check_refusal "storageopt.size (overlay2 over extfs)" "$rc" "$TMP/storageopt.err" "$TMP/storageopt.log" \
  "creating the container failed: .*storage-opt is supported only for overlay over xfs"
stop_servers

refusal_config realtime <<EOF
    host:
      resources:
        cpurealtimeperiod: 10000
        cpurealtimequota: 1000
EOF
start_server realtime
rc=0
session 'cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us' >"$TMP/realtime.out" 2>"$TMP/realtime.err" || rc=$?
if ((rc == 0)) && grep -qx 1000 "$TMP/realtime.out"; then
  pass "cpurealtime: the daemon grants realtime CPU here: cpu.rt_runtime_us is 1000 in the container"
else
  check_refusal "cpurealtimeperiod/cpurealtimequota without the daemon's realtime budget" "$rc" \
    "$TMP/realtime.err" "$TMP/realtime.log" "container failed: .*(rt_runtime|rt_period|real-time|realtime)"
fi
stop_servers

refusal_config platform <<EOF
    platform:
      os: linux
      architecture: arm64
      variant: v8
EOF
start_server platform
rc=0
session 'echo should-not-run' >"$TMP/platform.out" 2>"$TMP/platform.err" || rc=$?
check_refusal "platform linux/arm64/v8 (the image is $(docker version -f '{{.Server.Arch}}'))" "$rc" \
  "$TMP/platform.err" "$TMP/platform.log" "creating the container failed: .*does not match the specified platform: wanted linux/arm64"
stop_servers

# --- nothing left behind --------------------------------------------------------------------------
start=$(now_ms)
while [[ -n "$(our_containers)" ]] && (($(now_ms) - start < 5000)); do sleep 0.1; done
left=$(our_containers | sort -u | tr '\n' ' ')
if [[ -z "${left// /}" ]]; then
  pass "no container of this test is left"
else
  fail "containers left behind: $left"
fi

info "total time $(($(now_ms) - T0)) ms"
report_and_exit e2e_docker_options
