#!/bin/bash
# The container health check of the frontbase images: healthcheck.sh PORT PATH [STATUS]
# exits 0 only if GET http://127.0.0.1:PORT/PATH answers STATUS (default 200) within 2 s.
# Cheap on purpose (it runs every 30 s in every tenant's containers): bash and its /dev/tcp, no
# python, no curl. For Docker's own monitoring only; tenantctl decides readiness with its probes.
# Whatever it prints ends up in `docker inspect` (.State.Health.Log): keep it short.
set -u
# Docker runs it as root; it needs no privilege, so it drops to the service's user when there is one.
if [ "$EUID" = 0 ] && [ -n "${RUN_AS:-}" ]; then exec setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --init-groups "$0" "$@"; fi
port="${1:?usage: healthcheck.sh PORT PATH [STATUS]}"
path="${2:?usage: healthcheck.sh PORT PATH [STATUS]}"
expected="${3:-200}"

if ! exec 3<>"/dev/tcp/127.0.0.1/$port"; then
  echo "cannot connect to 127.0.0.1:$port"
  exit 1
fi 2>/dev/null
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
if ! IFS= read -r -t 2 status <&3; then echo "no answer from $path within 2 s"; exit 1; fi
exec 3<&-
status="${status%$'\r'}"
case "$status" in
  "HTTP/1."?" $expected"*) echo "ok ($status)"; exit 0 ;;
  *) echo "${status:-empty answer} (expected $expected)"; exit 1 ;;
esac
