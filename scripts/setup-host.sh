#!/usr/bin/env bash
# Makes this host ready to run tenantctl and its tests, and says exactly what is missing when it
# cannot: Docker Engine and compose (Debian's docker.io and docker-compose), compose v2 as a Docker
# CLI plugin (see install_compose_v2), debootstrap, a running dockerd, and the images tenantctl's
# defaults use (scripts/build-images.sh). Idempotent and quick when everything is already there.
# Env: TENANTCTL_DEBIAN_MIRROR (default http://deb.debian.org/debian), also used for trixie.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup-host] %s\n' "$*" >&2; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then missing+=(docker-compose); fi
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
# ssh:// Docker hosts (the docker CLI runs ssh), and the tests' ssh engines (ssh-keygen).
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
# Backups to a repository (src/repository/): restic runs on the host (and in the agent's image),
# and the repository tests and bench read it back with restic itself.
command -v restic >/dev/null 2>&1 || missing+=(restic)
# The ACME tests (test/e2e/acme.test.ts): a real ACME server (pebble, with pebble-challtestsrv as
# its DNS, in the same package; the test starts both on free ports, Debian's package starts no
# service), testssl.sh against the door, and openssl/curl for pebble's certificate and the checks.
command -v pebble >/dev/null 2>&1 || missing+=(pebble)
command -v pebble-challtestsrv >/dev/null 2>&1 || missing+=(pebble)
command -v testssl >/dev/null 2>&1 || missing+=(testssl.sh)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)

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

# Prometheus, for the metrics e2e test (test/e2e/watch-alerts.test.ts starts its own on a free
# loopback port with a temporary configuration). Debian's package enables a service on :9090 that
# nothing here needs: when this script installs it, it is installed without starting (a
# policy-rc.d that refuses starts, unless the host has its own, removed by a trap even if this
# script is killed by INT/TERM/HUP; a -9 cannot be trapped) and that service is then disabled. A prometheus the operator installed
# (already on the PATH) is left exactly as it is: its service is theirs.
if ! command -v prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing prometheus (its own service stays off)"
    export DEBIAN_FRONTEND=noninteractive
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
      trap 'rm -f /usr/sbin/policy-rc.d; exit 130' INT TERM HUP
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && own_policy=1
    fi
    if ! apt-get install -y -qq --no-install-recommends prometheus >/dev/null; then
      log "could not install prometheus"
      exit 1
    fi
    if [ -n "$own_policy" ]; then
      rm -f /usr/sbin/policy-rc.d
      trap - EXIT INT TERM HUP
    fi
    # Installed here: its packaged service is not wanted.
    if [ -d /run/systemd/system ]; then
      systemctl disable --now prometheus.service >/dev/null 2>&1 || log "could not disable prometheus.service: stop it yourself (it listens on :9090)"
    elif [ -x /etc/init.d/prometheus ]; then
      /etc/init.d/prometheus stop >/dev/null 2>&1 || true
      command -v update-rc.d >/dev/null 2>&1 && update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
  else
    log "missing: prometheus — install it (e.g. sudo apt-get install --no-install-recommends prometheus; then sudo systemctl disable --now prometheus) and run this again"
    exit 1
  fi
fi

# Compose v2 (`docker compose`) next to v1 (`docker-compose`, which stays as it is). Bookworm has
# only v1; trixie's docker-compose package is v2 (2.26), a Go binary needing nothing but libc6 >=
# 2.34 (bookworm has 2.36) that works as a CLI plugin for bookworm's engine and client. We do not
# install that package (it would replace v1, and a trixie source left in /etc/apt could pull trixie
# packages into later installs): apt-get runs with a private sources list and private index and
# cache dirs, downloads just that .deb, and the plugin binary alone is copied to
# /usr/local/lib/docker/cli-plugins, a directory both docker.io's client and upstream clients
# search. Nothing under /etc/apt or /var/lib/apt changes.
compose_plugin=/usr/local/lib/docker/cli-plugins/docker-compose
# (A subshell, for the EXIT trap; called with ||, so set -e is off in it and every step is checked.)
install_compose_v2() (
  mirror="${TENANTCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
  tmp=$(mktemp -d) || exit 1
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$tmp/sources.list"
  apt=(-qq -o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o Acquire::Languages=none
    -o APT::Sandbox::User=root -o "APT::Architectures=$(dpkg --print-architecture)")
  if ! apt-get "${apt[@]}" --error-on=any update; then
    log "could not read trixie's package index from $mirror (see apt's error above; if it is NO_PUBKEY, trixie's archive keys come with bookworm's debian-archive-keyring 2023.3+deb12u1 or later: apt-get install debian-archive-keyring)"
    exit 1
  fi
  (cd "$tmp/deb" && apt-get "${apt[@]}" download docker-compose/trixie) || { log "could not download docker-compose from trixie"; exit 1; }
  deb=$(echo "$tmp"/deb/docker-compose_*.deb)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/libexec/docker/cli-plugins/docker-compose || exit 1
  version=$("$tmp/usr/libexec/docker/cli-plugins/docker-compose" version --short) || { log "trixie's docker-compose does not run here"; exit 1; }
  case "$version" in 2.*) ;; *) log "trixie's docker-compose is $version, not compose v2"; exit 1 ;; esac
  install -D -m 0755 "$tmp/usr/libexec/docker/cli-plugins/docker-compose" "$compose_plugin" || exit 1
  log "installed compose $version (from $(basename "$deb")) as $compose_plugin"
)
if ! docker compose version --short 2>/dev/null | grep -Eq '^v?2\.'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing compose v2 from trixie as a Docker CLI plugin"
    install_compose_v2 || exit 1
    docker compose version --short 2>/dev/null | grep -Eq '^v?2\.' || { log "$compose_plugin is installed but \`docker compose\` does not find it"; exit 1; }
  else
    log "missing: compose v2 (\`docker compose\`) — run this as root to install it from Debian trixie into $compose_plugin, or install a compose v2 plugin yourself"
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
log "ready: $(docker version --format 'Docker Engine {{.Server.Version}}'), docker-compose $(docker-compose version --short 2>/dev/null || echo '(none)'), docker compose $(docker compose version --short)"
