#!/bin/sh
# Entrypoint of tenantctl/redis: the password from a file, never from the command line or the
# server's environment.
#
#   REDIS_PASSWORD_FILE  a file holding the password (a trailing newline is ignored), e.g. a compose
#                        secret: a read-only bind mount of the operator's file, mode 0600 and owned
#                        by the operator on the host, so only root can read it here. Started as
#                        root, the entrypoint copies it into /run/tenantctl (a tmpfs in tenantctl's
#                        template; 0700), owned by redis with mode 0400, and drops to redis.
#   REDIS_PASSWORD       the password itself (for quick local use; it then shows in docker inspect).
#
# As redis, for `redis-server ...` (or arguments starting with "-"), it writes
# /run/tenantctl/redis.conf (mode 0600) with `requirepass` and starts
# `redis-server /run/tenantctl/redis.conf <arguments>`: the command line and the server's
# environment hold paths, not the password. Any other command runs as given, as redis.
# A health check can authenticate without the password on a command line or in an environment:
#   redis-cli --askpass ping <"$REDIS_PASSWORD_FILE"
set -eu

secret_dir=/run/tenantctl

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$secret_dir"
  chown redis:redis "$secret_dir"
  chmod 0700 "$secret_dir"
  rm -f "$secret_dir/redis.conf"
  if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
    if [ ! -r "$REDIS_PASSWORD_FILE" ]; then
      echo "docker-entrypoint: REDIS_PASSWORD_FILE=$REDIS_PASSWORD_FILE is not readable" >&2
      exit 1
    fi
    install -o redis -g redis -m 0400 "$REDIS_PASSWORD_FILE" "$secret_dir/REDIS_PASSWORD"
    export REDIS_PASSWORD_FILE="$secret_dir/REDIS_PASSWORD"
  fi
  # A volume Docker filled from the image is owned by redis already.
  if [ -d /data ] && [ "$(stat -c %U /data)" != redis ]; then chown -R redis:redis /data; fi
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

case "${1:-}" in -*) set -- redis-server "$@" ;; esac

if [ "${1:-}" = redis-server ] && { [ -n "${REDIS_PASSWORD_FILE:-}" ] || [ -n "${REDIS_PASSWORD:-}" ]; }; then
  if [ -n "${REDIS_PASSWORD_FILE:-}" ] && [ -n "${REDIS_PASSWORD:-}" ]; then
    echo "docker-entrypoint: both REDIS_PASSWORD and REDIS_PASSWORD_FILE are set; set only one" >&2
    exit 1
  fi
  if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
    if [ ! -r "$REDIS_PASSWORD_FILE" ]; then
      echo "docker-entrypoint: REDIS_PASSWORD_FILE=$REDIS_PASSWORD_FILE is not readable" >&2
      exit 1
    fi
    password=$(cat "$REDIS_PASSWORD_FILE")
  else
    password=$REDIS_PASSWORD
  fi
  case "$password" in
    '') echo "docker-entrypoint: the Redis password is empty" >&2; exit 1 ;;
    *'
'*) echo "docker-entrypoint: the Redis password spans several lines" >&2; exit 1 ;;
  esac
  if [ ! -w "$secret_dir" ]; then
    echo "docker-entrypoint: $secret_dir is not writable by $(id -un): start the container as root or give it a writable $secret_dir" >&2
    exit 1
  fi
  # In redis.conf's double quotes, backslash and double quote are escaped; printf is a shell
  # builtin, so the password appears on no command line.
  escaped=$(printf '%s' "$password" | sed 's/[\\"]/\\&/g')
  (umask 077; printf 'requirepass "%s"\n' "$escaped" >"$secret_dir/redis.conf")
  unset password escaped REDIS_PASSWORD
  shift
  set -- redis-server "$secret_dir/redis.conf" "$@"
fi
exec "$@"
