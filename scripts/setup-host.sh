#!/usr/bin/env bash
# Makes this host ready to run tenantctl and its tests, and says exactly what is missing when it
# cannot: Docker Engine and compose (Debian's docker.io and docker-compose), debootstrap, a running
# dockerd, and the images tenantctl's defaults use (scripts/build-images.sh). Idempotent and quick
# when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup-host] %s\n' "$*" >&2; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then missing+=(docker-compose); fi
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)

if [ ${#missing[@]} -gt 0 ]; then
  packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing $packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $packages >/dev/null
  else
    log "missing: $packages — install them (e.g. sudo apt-get install $packages) and run this again"
    exit 1
  fi
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "the Docker engine is not running and this user cannot start it: start dockerd (e.g. sudo systemctl start docker)"
    exit 1
  fi
  # A dockerd that is still shutting down (its API already closed) holds the pid file, and a new
  # one refuses to start: wait for it to finish first.
  for _ in $(seq 1 60); do
    pgrep -x dockerd >/dev/null 2>&1 || break
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  # A pid file left by a dockerd that was killed outright names a process that no longer exists.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
  if docker info >/dev/null 2>&1; then
    log "dockerd is running"
  elif [ -d /run/systemd/system ] && systemctl start docker 2>/dev/null; then
    log "started docker with systemctl"
  else
    # No init system here (containers, CI sandboxes): run dockerd in the background ourselves.
    log "starting dockerd (log: /var/log/tenantctl-dockerd.log)"
    nohup dockerd >/var/log/tenantctl-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/tenantctl-dockerd.log"; tail -5 /var/log/tenantctl-dockerd.log >&2; exit 1; }
fi

bash scripts/build-images.sh
log "ready: $(docker version --format 'Docker Engine {{.Server.Version}}'), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /' || docker compose version --short)"
