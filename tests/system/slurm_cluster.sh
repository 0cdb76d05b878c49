#!/usr/bin/env bash
# A real single-node SLURM cluster on 127.0.0.1 with all state under one folder.
#
#   tests/system/slurm_cluster.sh start FOLDER   install SLURM and munge from Debian packages when
#                                                missing, start munged, slurmctld and slurmd, wait
#                                                until the node is idle
#   tests/system/slurm_cluster.sh stop FOLDER    stop exactly the daemons started in FOLDER
#
# Clients are reached through wrappers in FOLDER/bin (put it first on PATH): SLURM's job step strips
# SLURM_CONF from the environment, so the wrappers set it for every sbatch/srun/squeue call, also
# inside jobs. No slurmdbd: Snakemake's SLURM plugin checks job status with squeue
# (--slurm-status-command squeue), and jobs stay visible to squeue for MinJobAge seconds.
set -euo pipefail

action=${1:?usage: slurm_cluster.sh start|stop FOLDER}
folder=$(realpath -m "${2:?usage: slurm_cluster.sh start|stop FOLDER}")
daemons=(slurmd slurmctld munged)

stop() {
    for daemon in "${daemons[@]}"; do
        pidfile="$folder/run/$daemon.pid"
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
}

if [ "$action" = stop ]; then
    stop
    exit 0
fi
[ "$action" = start ] || { echo "unknown action '$action'; use start or stop" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "SLURM is missing; install Debian's slurmctld slurmd slurm-client munge as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    packages=(slurmctld slurmd slurm-client munge)
    apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null 2>&1 || {
        apt-get update >/dev/null
        apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null
    }
fi

mkdir -p "$folder"/{munge,state,spool,log,run,bin}
cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))

head -c 1024 /dev/urandom > "$folder/munge/munge.key"
chmod 400 "$folder/munge/munge.key"
munged --force --key-file="$folder/munge/munge.key" --socket="$folder/munge/munge.socket.2" \
    --pid-file="$folder/run/munged.pid" --log-file="$folder/log/munged.log" --seed-file="$folder/munge/seed"
for _ in $(seq 50); do
    munge --socket="$folder/munge/munge.socket.2" -n 2>/dev/null | unmunge --socket="$folder/munge/munge.socket.2" >/dev/null 2>&1 && break
    sleep 0.1
done

cat > "$folder/slurm.conf" <<EOF
ClusterName=oncofactor-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$folder/munge/munge.socket.2
StateSaveLocation=$folder/state
SlurmdSpoolDir=$folder/spool
SlurmctldPidFile=$folder/run/slurmctld.pid
SlurmdPidFile=$folder/run/slurmd.pid
SlurmctldLogFile=$folder/log/slurmctld.log
SlurmdLogFile=$folder/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
JobCompType=jobcomp/filetxt
JobCompLoc=$folder/log/jobcomp.log
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=5
SlurmctldPort=$((20000 + RANDOM % 20000))
SlurmdPort=$((40000 + RANDOM % 20000))
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Default=YES Nodes=localhost MaxTime=INFINITE State=UP
EOF

for client in sbatch srun squeue scancel sinfo sacct scontrol; do
    printf '#!/bin/sh\nSLURM_CONF=%s/slurm.conf exec /usr/bin/%s "$@"\n' "$folder" "$client" > "$folder/bin/$client"
    chmod +x "$folder/bin/$client"
done

export SLURM_CONF="$folder/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
        echo "SLURM is up: $folder (clients in $folder/bin)"
        exit 0
    fi
    sleep 0.2
done
echo "SLURM did not come up; logs in $folder/log" >&2
stop
exit 1
