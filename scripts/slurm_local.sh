#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine (Debian 12, as root, no systemd), to try
# `hydra/launcher=submitit_slurm` by hand and for tests/test_slurm.py.
#
#   bash scripts/slurm_local.sh start    install Debian's packages if missing, write the configs,
#                                        start munged, mariadbd, slurmdbd, slurmctld, slurmd and
#                                        wait for an idle node (already running: says so, exit 0)
#   bash scripts/slurm_local.sh status   the recorded daemons and the node's state
#                                        (exit 0 running, 3 stopped, 1 some daemon died)
#   bash scripts/slurm_local.sh stop     cancel the cluster's jobs, then stop exactly the daemons
#                                        `start` started, newest first
#
# What it touches:
#   /run/experiments-slurm/pids   one "name pid" line per daemon started, in start order; the only
#                                 record of what is ours (under /run: a reboot forgets it, as it
#                                 forgets the processes)
#   /var/log/experiments-slurm/   every daemon's log, and apt's
#   /etc/munge/munge.key, /etc/slurm/slurm.conf, /etc/slurm/slurmdbd.conf (written by this script;
#   a slurm config written by someone else is left alone and start stops)
#   /var/spool/slurmctld, /var/spool/slurmd and MariaDB's slurm_acct_db: wiped at every start, so
#   each start is a fresh cluster whose job ids begin at 1.
#
# Environment: SLURM_LOCAL_WAIT_S (default 60): how long start waits for each daemon and the node.
# On failure: one line on stderr, exit status 1, and whatever this start had started is stopped.
set -euo pipefail

STATE=/run/experiments-slurm
PIDS=$STATE/pids
LOGS=/var/log/experiments-slurm
LOCK=/run/experiments-slurm.lock
WAIT_S=${SLURM_LOCAL_WAIT_S:-60}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MARK="# written by scripts/slurm_local.sh"
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
PARTITION=debug

die() {
    echo "slurm_local.sh: $*" >&2
    exit 1
}

say() { echo "slurm_local.sh: $*"; }

# Is PID alive and still the daemon NAME? (/proc/PID/comm guards against a reused PID; a zombie
# whose parent has not reaped it yet counts as gone.)
alive() {
    local name=$1 pid=$2 comm state
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
    [[ $comm == "$name" && $state != Z ]]
}

record() { echo "$1 $2" >>"$PIDS"; }

# wait_until WHAT CMD...: poll CMD every 0.2 s for up to WAIT_S seconds; die naming WHAT.
wait_until() {
    local what=$1 deadline=$((SECONDS + WAIT_S))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what did not come up in ${WAIT_S} s; see $LOGS/"
        sleep 0.2
    done
}

port_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Start a daemon that stays in the foreground (-D) as a background child and record its PID.
# setsid: its own session, so a Ctrl+C to whoever ran `start` does not reach the cluster. (A child
# of a non-interactive script is no process-group leader, so setsid execs in place: $! is the
# daemon itself.) Nothing inherited: not our stdout/stderr (a caller reading them to EOF must not
# wait on the daemons), nor the lock on fd 9 (it would outlive this script).
launch() {
    local name=$1 log=$2
    shift 2
    setsid "$@" </dev/null >>"$log" 2>&1 9>&- &
    record "$name" $!
    # Not a job of this shell: bash would otherwise report "Killed" should the cleanup need it.
    disown $!
}

# Stop every recorded daemon, newest first: SIGTERM, wait up to 30 s, then SIGKILL.
stop_recorded() {
    [[ -s $PIDS ]] || return 0
    local name pid deadline
    while read -r name pid; do
        alive "$name" "$pid" || continue
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 30))
        while alive "$name" "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        if alive "$name" "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$((SECONDS + 10))
            while alive "$name" "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        fi
        echo "  stopped $name ($pid)"
    done < <(tac "$PIDS")
}

# 0: every recorded daemon runs; 3: nothing recorded; 1: recorded, but some daemon is gone.
recorded_state() {
    [[ -s $PIDS ]] || return 3
    local name pid
    while read -r name pid; do
        alive "$name" "$pid" || return 1
    done <"$PIDS"
    return 0
}

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null || die "apt-get not found: this needs Debian (${missing[*]})"
    say "installing ${missing[*]} from Debian (about 30 s; log: $LOGS/apt.log)"
    # Another apt-get may hold the dpkg lock: wait for it rather than fail. The post-install
    # scripts cannot start services here (policy-rc.d): harmless, we start the daemons ourselves.
    local apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
    "${apt[@]}" update >>"$LOGS/apt.log" 2>&1 || die "apt-get update failed; see $LOGS/apt.log"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" \
        >>"$LOGS/apt.log" 2>&1 || die "apt-get install failed; see $LOGS/apt.log"
}

# Write FILE from stdin unless someone else's config is there.
write_config() {
    local file=$1 mode=$2
    if [[ -e $file ]] && ! grep -qxF "$MARK" "$file"; then
        die "$file was not written by this script; move it away to use the local cluster"
    fi
    install -d /etc/slurm
    (umask 077 && cat >"$file")
    chmod "$mode" "$file"
}

write_configs() {
    local host cpus mem_mb
    host=$(hostname -s)
    cpus=$(nproc)
    # slurmd drains a node that has less memory than configured: claim 90 % of it.
    mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)

    write_config /etc/slurm/slurmdbd.conf 600 <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=/run/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
EOF

    write_config /etc/slurm/slurm.conf 644 <<EOF
$MARK
ClusterName=experiments
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
MailProg=/bin/true
AuthType=auth/munge
CredType=cred/munge
# A requeued job is not eligible again before the credential lifetime is over: 10 s, not 120 s...
AuthInfo=cred_expire=10
# No cgroups and no systemd on this machine.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job that asks for no memory gets its CPUs' share, not the whole node.
DefMemPerCPU=$((mem_mb / cpus))
# Without accounting sacct fails, and submitit cannot tell a dead job from a running one.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
# ...and only the periodic scheduling pass starts it then (every 60 s by default): every 5 s.
SchedulerParameters=sched_interval=5
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    if [[ ! -s /etc/munge/munge.key ]]; then
        install -d -o munge -g munge -m 0700 /etc/munge
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    rm -f /run/munge/munged.pid
    # munged always daemonises: its PID comes from its pid file.
    runuser -u munge -- /usr/sbin/munged </dev/null >>"$LOGS/munged.out" 2>&1 9>&- ||
        die "munged did not start; see /var/log/munge/munged.log"
    wait_until "munged" test -s /run/munge/munged.pid
    record munged "$(cat /run/munge/munged.pid)"
    munge -n | unmunge >/dev/null 2>&1 || die "munge cannot encode and decode a credential"
}

start_accounting() {
    install -d -o mysql -g mysql /run/mysqld
    if [[ ! -d /var/lib/mysql/mysql ]]; then
        mariadb-install-db --user=mysql >>"$LOGS/mariadb.log" 2>&1 ||
            die "mariadb-install-db failed; see $LOGS/mariadb.log"
    fi
    launch mariadbd "$LOGS/mariadb.log" /usr/sbin/mariadbd --user=mysql --skip-networking \
        --innodb-buffer-pool-size=32M --log-error="$LOGS/mariadb.log"
    wait_until "mariadbd" mariadb-admin --silent ping
    # slurmctld's state is wiped below, so job ids restart at 1: old accounting rows would clash.
    mariadb -e "DROP DATABASE IF EXISTS slurm_acct_db" || die "cannot drop slurm_acct_db"
    launch slurmdbd "$LOGS/slurmdbd.out" /usr/sbin/slurmdbd -D
    wait_until "slurmdbd (port 6819)" port_open 6819
}

start_slurm() {
    rm -rf /var/spool/slurmctld /var/spool/slurmd
    install -d -m 0755 /var/spool/slurmctld /var/spool/slurmd
    launch slurmctld "$LOGS/slurmctld.out" /usr/sbin/slurmctld -D -i
    wait_until "slurmctld (port 6817)" port_open 6817
    launch slurmd "$LOGS/slurmd.out" /usr/sbin/slurmd -D
    local deadline=$((SECONDS + WAIT_S)) state=""
    until [[ $state == idle ]]; do
        if ((SECONDS >= deadline)); then
            die "the node is '${state:-unknown}', not idle, after ${WAIT_S} s" \
                "($(sinfo -h -o %E 2>/dev/null || true)); see $LOGS/slurmd.log"
        fi
        sleep 0.2
        state=$(sinfo -h -o %T 2>/dev/null || true)
    done
}

how_to() {
    local host
    host=$(hostname -s)
    cat <<EOF
SLURM is up: partition '$PARTITION', node $host ($(nproc) CPUs). Try, from $ROOT:
  .venv/bin/python scripts/train.py -m experiment=xor model.lr=0.5,1.0 \\
      hydra/launcher=submitit_slurm hydra.launcher.partition=$PARTITION \\
      hydra.launcher.timeout_min=5 hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=1
  squeue; sacct; sinfo          jobs, accounting, the node
  logs: $LOGS/; a job's own output: <sweep dir>/.submitit/<job id>/
  bash scripts/slurm_local.sh stop
EOF
}

cmd_start() {
    local state=0
    recorded_state || state=$?
    if ((state == 0)); then
        say "already running ($(tr '\n' ' ' <"$PIDS" | sed 's/ $//')); node: $(sinfo -h -o %T)"
        return 0
    fi
    if ((state == 1)); then
        say "a daemon of the last start has died: stopping the rest, starting afresh"
        stop_recorded
        rm -f "$PIDS"
    fi
    local name pid
    for name in munged mariadbd slurmdbd slurmctld slurmd; do
        for pid in $(pgrep -x "$name" || true); do
            alive "$name" "$pid" && die "$name already runs (pid $pid) and is not ours; stop it first"
        done
    done

    install -d -m 0755 "$STATE" "$LOGS"
    local started=$SECONDS
    install_packages
    # From here on, a failure stops whatever this start has started.
    trap 'status=$?; if ((status != 0)); then stop_recorded >/dev/null; rm -rf "$STATE"; fi' EXIT
    : >"$PIDS"
    write_configs
    start_munge
    start_accounting
    start_slurm
    trap - EXIT
    say "started in $((SECONDS - started)) s: $(tr '\n' ' ' <"$PIDS" | sed 's/ $//')"
    how_to
}

cmd_stop() {
    if [[ ! -s $PIDS ]]; then
        say "not running (nothing recorded in $STATE)"
        rm -rf "$STATE"
        return 0
    fi
    local started=$SECONDS jobs
    # A job step outlives slurmd: cancel the cluster's jobs (all ours) and let them end first.
    if jobs=$(squeue -h -o %A 2>/dev/null) && [[ -n $jobs ]]; then
        say "cancelling jobs: $(echo "$jobs" | tr '\n' ' ')"
        # shellcheck disable=SC2086  # one id per word
        scancel $jobs || true
        local deadline=$((SECONDS + 45))
        while [[ -n $(squeue -h -o %A 2>/dev/null) ]] && ((SECONDS < deadline)); do sleep 0.5; done
    fi
    stop_recorded
    rm -rf "$STATE"
    say "stopped in $((SECONDS - started)) s"
}

cmd_status() {
    local state=0 name pid
    recorded_state || state=$?
    if ((state == 3)); then
        say "stopped"
        return 3
    fi
    while read -r name pid; do
        if alive "$name" "$pid"; then echo "  $name $pid running"; else echo "  $name $pid gone"; fi
    done <"$PIDS"
    if ((state == 0)); then
        echo "  node: $(sinfo -h -o '%N %T %c CPUs %m MB' 2>/dev/null || echo unknown)"
        echo "  jobs: $(squeue -h 2>/dev/null | wc -l)"
    else
        say "some daemon is gone: 'stop', then 'start' again (logs: $LOGS/)"
    fi
    return "$state"
}

main() {
    local cmd=${1:-}
    case $cmd in
    start | stop)
        [[ $EUID -eq 0 ]] || die "must run as root: it installs packages and starts system daemons"
        # One start or stop at a time (parallel test workers may call start together).
        exec 9>"$LOCK"
        flock -w 600 9 || die "another start or stop holds $LOCK"
        "cmd_$cmd"
        ;;
    status) cmd_status ;;
    *)
        echo "usage: bash scripts/slurm_local.sh start|status|stop" >&2
        exit 2
        ;;
    esac
}

main "$@"
