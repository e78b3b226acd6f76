#!/bin/sh
# Entrypoint of the tenant app image (/app/entrypoint.sh), run by tini: secrets from files, then the
# app as user app.
#
# PGPASSWORD_FILE, REDIS_PASSWORD_FILE and JWT_SECRET_FILE name files holding the secrets (compose
# secrets in tenantctl's template: read-only bind mounts of the operator's files, mode 0600 and
# owned by the operator on the host, so only root can read them here). Started as root, this copies
# each into /run/tenantctl (a tmpfs in tenantctl's template; 0700), owned by app with mode 0400,
# points the variable at the copy and drops to app (setpriv). The app reads the files itself
# (env.ts, loadFileVariables): no secret is in any process's environment or command line.
# Started as another user (docker run --user), it runs the command as it is.
set -eu

secret_dir=/run/tenantctl

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$secret_dir"
  chown app:app "$secret_dir"
  chmod 0700 "$secret_dir"
  for var in PGPASSWORD REDIS_PASSWORD JWT_SECRET; do
    eval "file=\${${var}_FILE:-}"
    [ -n "$file" ] || continue
    if [ ! -r "$file" ]; then
      echo "entrypoint: ${var}_FILE=$file is not readable" >&2
      exit 1
    fi
    install -o app -g app -m 0400 "$file" "$secret_dir/$var"
    export "${var}_FILE=$secret_dir/$var"
  done
  unset var file
  exec setpriv --reuid=app --regid=app --init-groups "$@"
fi
exec "$@"
