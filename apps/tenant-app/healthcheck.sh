#!/bin/bash
# The container health check of the tenant app image (/app/healthcheck.sh), cheap on purpose: it
# runs every 30 s in every tenant's app and worker, so it starts no node process and (web) no
# curl/wget (Debian minbase has neither): bash, its /dev/tcp and at most one `stat`.
#   MODE=web:    exit 0 only if GET http://127.0.0.1:$PORT/api/health answers 200 within 2 s.
#   MODE=worker: exit 0 only if the heartbeat file (touched on every successful beat, every 15 s;
#                see heartbeat.ts) is younger than HEARTBEAT_MAX_AGE_SECONDS (default 60).
# Whatever it prints ends up in `docker inspect` (.State.Health.Log): keep it short.
# It needs no secret. Docker runs it as the image's user, root (the entrypoint starts as root to copy
# the secret files, then drops to app): it drops to app too before doing anything.
set -u
if [ "$EUID" = 0 ]; then exec setpriv --reuid=app --regid=app --init-groups "$0" "$@"; fi

if [ "${MODE:-web}" = worker ]; then
  file=/tmp/tenantctl-worker-heartbeat
  max_age="${HEARTBEAT_MAX_AGE_SECONDS:-60}"
  mtime=$(stat -c %Y "$file" 2>/dev/null) || { echo "no heartbeat yet ($file)"; exit 1; }
  printf -v now '%(%s)T' -1
  age=$((now - mtime))
  if [ "$age" -lt "$max_age" ]; then echo "ok (heartbeat ${age} s old)"; exit 0; fi
  echo "heartbeat is stale (${age} s old)"
  exit 1
fi

port="${PORT:-3000}"
if ! exec 3<>"/dev/tcp/127.0.0.1/$port"; then
  echo "cannot connect to 127.0.0.1:$port"
  exit 1
fi 2>/dev/null
printf 'GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
if ! IFS= read -r -t 2 status <&3; then echo "no answer from /api/health within 2 s"; exit 1; fi
status="${status%$'\r'}"
# The body's last line is the JSON answer: show it (it names the failing service, if any).
body=""
line=""
while IFS= read -r -t 2 line <&3; do body="$line"; done
[ -n "$line" ] && body="$line"
exec 3<&-
case "$status" in
  "HTTP/1."?" 200"*) echo "ok ${body:0:200}"; exit 0 ;;
  *) echo "${status:-empty answer} ${body:0:200}"; exit 1 ;;
esac
