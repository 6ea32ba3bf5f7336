#!/usr/bin/env bash
# Bring a fresh Debian 12 machine (root, no systemd, Docker Hub unreachable) to the point where
# fgform's integration tests run: Docker engine up, debian:bookworm-slim present, fgform
# installed. Idempotent: every step checks first, so a second run takes a few seconds.
#
#   scripts/setup.sh            # everything
#   FGFORM_SKIP_PIP=1 scripts/setup.sh   # engine and base image only
#
# Timings are printed per step (see docs in the report / notes).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOCK=/var/run/docker.sock
PIDFILE=/var/run/docker.pid
LOG=/var/log/dockerd.log
CACHE=/var/cache/fgform
BASE_IMAGE=debian:bookworm-slim
BASE_TAR="$CACHE/debian-bookworm-minbase.tar"
PIP_STAMP="$CACHE/pip-install.stamp"
# The engine from docker.io speaks API 1.41. A newer CLI first on PATH (/usr/local/bin/docker)
# negotiates down, but pinning the version makes every client agree and fail loudly otherwise.
export DOCKER_API_VERSION="${DOCKER_API_VERSION:-1.41}"

log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/setup.sh must run as root (it installs packages and starts dockerd)" >&2
    exit 1
fi

T_ALL=$(now)

# --- 1. packages --------------------------------------------------------------------------
# Only what is missing, so a re-run never touches apt (apt-get update alone takes seconds).
need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)  # scripts/swarm.sh
if ((${#need_pkgs[@]})); then
    t=$(now)
    log "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
    log "packages installed in $(elapsed "$t")"
else
    log "packages present (docker.io, debootstrap, curl, iproute2)"
fi

# The CLI from docker.io, not a newer client that may be first on PATH.
DOCKER=/usr/bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker)

# --- 2. engine ----------------------------------------------------------------------------
ping_engine() {
    [[ -S $SOCK ]] && [[ "$(curl -s --max-time 2 --unix-socket "$SOCK" http://localhost/_ping)" == OK ]]
}

if ping_engine; then
    log "Docker engine already answering on $SOCK"
else
    t=$(now)
    if pgrep -x dockerd >/dev/null; then
        # Another run (or a crash-looping one) is bringing it up: wait instead of racing it.
        log "dockerd is starting (pid $(pgrep -x dockerd | tr '\n' ' ')); waiting for it"
    else
        # A pid file left by a killed daemon makes dockerd refuse to start.
        if [[ -f $PIDFILE ]] && ! kill -0 "$(cat "$PIDFILE" 2>/dev/null)" 2>/dev/null; then
            rm -f "$PIDFILE"
        fi
        log "starting dockerd (log: $LOG)"
        # setsid: its own session, so the daemon outlives this shell and its process group.
        setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
    fi
    for _ in $(seq 1 300); do
        ping_engine && break
        sleep 0.1
    done
    if ! ping_engine; then
        echo "dockerd did not answer on $SOCK within 30 s; last lines of $LOG:" >&2
        tail -n 30 "$LOG" >&2 || true
        exit 1
    fi
    log "engine up in $(elapsed "$t")"
fi

# --- 3. base image ------------------------------------------------------------------------
if $DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE present"
else
    t=$(now)
    mkdir -p "$CACHE"
    # Docker Hub is usually unreachable here (DNS fails fast); give it one short try.
    if [[ ! -f $BASE_TAR ]] && timeout 20 "$DOCKER" pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
        log "pulled $BASE_IMAGE in $(elapsed "$t")"
    else
        if [[ ! -f $BASE_TAR ]]; then
            log "building $BASE_IMAGE with debootstrap (about 30 s; cached in $BASE_TAR)"
            root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
            trap 'rm -rf "$root"' EXIT
            debootstrap --variant=minbase bookworm "$root" >"$CACHE/debootstrap.log" 2>&1 || {
                echo "debootstrap failed; see $CACHE/debootstrap.log" >&2
                tail -n 20 "$CACHE/debootstrap.log" >&2
                exit 1
            }
            # Smaller image, same behaviour: downloaded .debs and apt lists are not needed.
            rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
            # Write the tarball atomically, so an interrupted run never leaves a torn cache.
            tar -C "$root" -cf "$BASE_TAR.tmp" .
            mv "$BASE_TAR.tmp" "$BASE_TAR"
            rm -rf "$root"
            trap - EXIT
        fi
        # `docker import` gives an image without ENV or CMD; add what Debian's image has.
        $DOCKER import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["bash"]' \
            "$BASE_TAR" "$BASE_IMAGE" >/dev/null
        log "$BASE_IMAGE imported in $(elapsed "$t")"
    fi
fi

# --- 4. fgform itself ---------------------------------------------------------------------
if [[ -z ${FGFORM_SKIP_PIP:-} ]]; then
    PY=$(command -v python3)
    # Reinstall only when pyproject.toml (the dependency list) or the interpreter changed.
    # The checkout's path is part of it: CI clones elsewhere on the same machine, and an
    # editable install of another checkout would run that checkout's code.
    want="$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -d' ' -f1) $PY $REPO_ROOT"
    installed=$(cd / && "$PY" -c 'import fgform, docker, pytest, os; print(os.path.dirname(os.path.dirname(fgform.__file__)))' 2>/dev/null || true)
    if [[ -f $PIP_STAMP && "$(cat "$PIP_STAMP")" == "$want" && "$installed" == "$REPO_ROOT" ]]; then
        log "fgform already installed"
    else
        t=$(now)
        log "pip install -e '.[test]'"
        (cd "$REPO_ROOT" && "$PY" -m pip install -q -e '.[test]')
        mkdir -p "$CACHE"
        echo "$want" >"$PIP_STAMP"
        log "fgform installed in $(elapsed "$t")"
    fi
fi

log "ready in $(elapsed "$T_ALL")  (engine: $($DOCKER version -f '{{.Server.Version}}' 2>/dev/null))"
