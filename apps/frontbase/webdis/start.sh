#!/bin/sh
# Starts Debian's webdis (Redis over HTTP) for one tenant, run as user webdis by the entrypoint,
# which has copied the secret files into /run/tenantctl for it.
#
#   REDIS_PASSWORD_FILE  the tenant Redis's password (webdis authenticates with it: redis_auth)
#   WEBDIS_TOKEN_FILE    the token clients must send as the HTTP basic-auth password
#   WEBDIS_USER          the basic-auth user name that goes with it (default tenantctl: the name
#                        tenantctl's redisHttp readiness probe sends)
#   REDIS_HOST / REDIS_PORT (default redis / 6379), PORT (default 7379)
#
# webdis reads its settings, passwords included, from one JSON file only: it is written to the
# tmpfs (/run/tenantctl, mode 0600), never to the image or a volume, and no value is on a command
# line. ACL: a request without the token may run no command at all; with it, every command.
set -eu

read_secret() {
  eval "rs_file=\${${1}_FILE:?${1}_FILE must name the secret file}"
  rs_value=$(cat "$rs_file")
  case "$rs_value" in
    '') echo "start: ${1}_FILE names an empty file" >&2; exit 1 ;;
    *'
'*) echo "start: ${1}_FILE spans several lines" >&2; exit 1 ;;
  esac
  # A JSON string's content: backslash and double quote escaped (tenantctl's alphabets have neither).
  printf '%s' "$rs_value" | sed 's/[\\"]/\\&/g'
  unset rs_file rs_value
}

# The user name goes into the JSON and the "user:token" pair unescaped: letters, digits, "_", "-".
case "${WEBDIS_USER:-tenantctl}" in
  *[!A-Za-z0-9_-]*) echo "start: WEBDIS_USER may hold only letters, digits, _ and -" >&2; exit 1 ;;
esac

config=/run/tenantctl/webdis.json
(
  umask 077
  cat >"$config" <<JSON
{
  "redis_host": "${REDIS_HOST:-redis}",
  "redis_port": ${REDIS_PORT:-6379},
  "redis_auth": "$(read_secret REDIS_PASSWORD)",
  "http_host": "0.0.0.0",
  "http_port": ${PORT:-7379},
  "threads": 1,
  "pool_size": 2,
  "daemonize": false,
  "database": 0,
  "acl": [
    { "disabled": ["*"] },
    { "http_basic_auth": "${WEBDIS_USER:-tenantctl}:$(read_secret WEBDIS_TOKEN)", "enabled": ["*"] }
  ],
  "verbosity": 3,
  "logfile": "/dev/stderr"
}
JSON
)
exec webdis "$config"
