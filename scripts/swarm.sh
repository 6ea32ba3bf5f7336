#!/usr/bin/env bash
# Turn this one machine into an N-node Docker Swarm to try and test fgform's Swarm backend:
# the host engine is the manager, N-1 Docker-in-Docker containers are the workers.
#
#   bash scripts/swarm.sh up [N]     # default 3 nodes; idempotent (adds missing workers)
#   bash scripts/swarm.sh down       # removes the workers, their volumes, the forwarding,
#                                    # and leaves the swarm if this script created it
#   bash scripts/swarm.sh status
#
# Facts this relies on (measured here, see docs/swarm.md):
# - `--privileged` fails in this sandbox (no CAP_SYS_RESOURCE); the capability set below runs
#   a working dockerd. /var/lib/docker is a volume so the inner engine uses overlay2, not vfs.
# - The kernel has no IPVS: the routing mesh and service VIPs do not answer. fgform does not
#   use them (endpoint mode dnsrr, its own HAProxy on the overlay network).
# - Workers reach fgform's registries (published on the host's 127.0.0.1, ports 5000-5999)
#   through their own 127.0.0.1: each worker DNATs those ports to the host's docker0 address,
#   and the host forwards them (from docker0 only) to its loopback. So an image reference
#   `127.0.0.1:PORT/repo@sha256:...` pulls on every node, and Docker trusts it as it trusts
#   any loopback registry (no --insecure-registry anywhere).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOCKER_API_VERSION="${DOCKER_API_VERSION:-1.41}"
DOCKER=/usr/bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker)

NODE_IMAGE=fgform-swarm-node:1
PREFIX=fgform-swarm-node
MARK_LABEL=fgform.swarm-script        # on the manager node: this script ran `swarm init`
REG_PORTS=5000:5999                   # registry ports forwarded to the manager
GATEWAY=""                            # docker0's address (the manager as workers see it)

log() { printf '[swarm %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

gateway() {
    GATEWAY=$($DOCKER network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}')
    if [[ -z $GATEWAY ]]; then
        # An engine started where its bridge interface already existed (a machine that kept
        # an earlier run's docker0) lists only the Subnet: the interface's address is it.
        local ifname
        ifname=$($DOCKER network inspect bridge \
            -f '{{index .Options "com.docker.network.bridge.name"}}')
        GATEWAY=$(ip -4 -o addr show dev "${ifname:-docker0}" 2>/dev/null \
            | awk '{ split($4, a, "/"); print a[1]; exit }')
    fi
    [[ -n $GATEWAY ]] || { echo "no gateway on Docker's bridge network" >&2; exit 1; }
}

self_id() { $DOCKER info -f '{{.Swarm.NodeID}}'; }

swarm_state() { $DOCKER info -f '{{.Swarm.LocalNodeState}}'; }

build_node_image() {
    if $DOCKER image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
        return
    fi
    local t dir
    t=$(date +%s)
    dir=$(mktemp -d)
    cat >"$dir/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io iptables ca-certificates procps >/dev/null \
 && rm -rf /var/lib/apt/lists/*
# iptables-legacy: the inner dockerd and this script's DNAT rule agree on one backend.
RUN update-alternatives --set iptables /usr/sbin/iptables-legacy
COPY node-entry.sh /usr/local/bin/node-entry.sh
ENTRYPOINT ["/bin/sh", "/usr/local/bin/node-entry.sh"]
EOF
    cat >"$dir/node-entry.sh" <<'EOF'
#!/bin/sh
# A worker node: forward registry ports on 127.0.0.1 to the manager (route_localnet is set by
# `docker run --sysctl`: /proc/sys is read-only in here), then run dockerd.
set -e
iptables -t nat -A OUTPUT -d 127.0.0.1/32 -p tcp --dport "$REG_PORTS" \
    -j DNAT --to-destination "$GATEWAY"
iptables -t nat -A POSTROUTING -s 127.0.0.1/32 -d "$GATEWAY" -j MASQUERADE
exec dockerd --host unix:///var/run/docker.sock >/var/log/dockerd.log 2>&1
EOF
    log "building $NODE_IMAGE (Debian + docker.io, about 30 s)"
    $DOCKER build -q -t "$NODE_IMAGE" "$dir" >/dev/null
    rm -rf "$dir"
    log "built $NODE_IMAGE in $(( $(date +%s) - t )) s"
}

host_forwarding() {  # add|del: the manager's side of the registry forwarding
    local op=$1 flag=-A
    [[ $op == del ]] && flag=-D
    if [[ $op == add ]]; then
        sysctl -qw net.ipv4.conf.docker0.route_localnet=1
        iptables -t nat -C PREROUTING -i docker0 -d "$GATEWAY" -p tcp --dport "$REG_PORTS" \
            -j DNAT --to-destination 127.0.0.1 2>/dev/null && return 0
    fi
    iptables -t nat $flag PREROUTING -i docker0 -d "$GATEWAY" -p tcp --dport "$REG_PORTS" \
        -j DNAT --to-destination 127.0.0.1 2>/dev/null || true
    [[ $op == del ]] && sysctl -qw net.ipv4.conf.docker0.route_localnet=0 || true
}

wait_inner() {  # wait for a worker's dockerd
    local name=$1 i
    for i in $(seq 1 60); do
        $DOCKER exec "$name" docker info >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "the engine in $name did not start; its log:" >&2
    $DOCKER exec "$name" tail -n 20 /var/log/dockerd.log >&2 || true
    exit 1
}

up() {
    local n=${1:-3}
    [[ $n =~ ^[0-9]+$ ]] && ((n >= 1)) || { echo "usage: swarm.sh up [N>=1]" >&2; exit 2; }
    bash "$REPO_ROOT/scripts/setup.sh" >/dev/null
    gateway
    if [[ $(swarm_state) != active ]]; then
        log "docker swarm init (the host engine is the manager, advertised on $GATEWAY)"
        $DOCKER swarm init --advertise-addr "$GATEWAY" >/dev/null
        $DOCKER node update --label-add "$MARK_LABEL=1" "$(self_id)" >/dev/null
    fi
    host_forwarding add
    build_node_image
    local token i name
    token=$($DOCKER swarm join-token -q worker)
    for i in $(seq 2 "$n"); do
        name="$PREFIX-$i"
        if [[ -n $($DOCKER ps -q -f "name=^${name}$") ]]; then
            continue
        fi
        $DOCKER rm -f "$name" >/dev/null 2>&1 || true
        log "starting worker $name"
        $DOCKER run -d --name "$name" --hostname "$name" \
            --label fgform.swarm-node=1 --sysctl net.ipv4.conf.all.route_localnet=1 \
            --cap-add ALL --cap-drop SYS_RESOURCE \
            --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
            -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v "$name-data:/var/lib/docker" --tmpfs /run \
            -e REG_PORTS="$REG_PORTS" -e GATEWAY="$GATEWAY" \
            "$NODE_IMAGE" >/dev/null
        wait_inner "$name"
        # A node left over from an earlier run with the same name is removed first.
        $DOCKER node ls -q -f "name=$name" | xargs -r $DOCKER node rm -f >/dev/null 2>&1 || true
        $DOCKER exec "$name" docker swarm join --token "$token" "$GATEWAY:2377" >/dev/null
    done
    for i in $(seq 1 60); do
        [[ $($DOCKER node ls -f role=worker --format '{{.Status}}' | grep -c Ready) -ge $((n - 1)) ]] \
            && break
        sleep 0.5
    done
    status
}

down() {
    gateway
    local name
    for name in $($DOCKER ps -a --filter label=fgform.swarm-node=1 --format '{{.Names}}'); do
        log "removing worker $name"
        $DOCKER exec "$name" docker swarm leave --force >/dev/null 2>&1 || true
        $DOCKER rm -f -v "$name" >/dev/null
        $DOCKER volume rm "$name-data" >/dev/null 2>&1 || true
        $DOCKER node rm -f "$name" >/dev/null 2>&1 || true
    done
    host_forwarding del
    if [[ $(swarm_state) == active ]] && \
            [[ $($DOCKER node inspect "$(self_id)" -f "{{index .Spec.Labels \"$MARK_LABEL\"}}") == 1 ]]; then
        log "leaving the swarm (this script created it)"
        $DOCKER swarm leave --force >/dev/null
        # `swarm leave` leaves docker_gwbridge and the ingress network's sandbox behind.
        for _ in $(seq 1 20); do
            $DOCKER network rm docker_gwbridge >/dev/null 2>&1 && break
            sleep 0.5  # still held by the ingress sandbox for a moment
        done
        if $DOCKER network inspect docker_gwbridge >/dev/null 2>&1; then
            # Engine 20.10 may keep a stale ingress endpoint on it until dockerd restarts;
            # it holds no container, and the next `swarm init` reuses it.
            log "docker_gwbridge kept: the engine still lists an ingress endpoint on it"
        fi
    fi
    log "down"
}

status() {
    if [[ $(swarm_state) != active ]]; then
        echo "not a swarm"
        return
    fi
    $DOCKER node ls --format '{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}' \
        | sort
}

case "${1:-}" in
    up) shift; up "$@" ;;
    down) down ;;
    status) status ;;
    *) echo "usage: bash scripts/swarm.sh up [N] | down | status" >&2; exit 2 ;;
esac
