#!/bin/sh
# Entrypoint of the frontbase images (run by tini): secrets from files, then the command as the
# image's service user ($RUN_AS, set by each Dockerfile).
#
# Every variable NAME_FILE that names a file (compose secrets in tenantctl's template: read-only bind
# mounts of the operator's files, mode 0600 and owned by the operator on the host, so only root can
# read them here) is copied into /run/tenantctl (a tmpfs in the template; 0700), owned by $RUN_AS
# with mode 0400, and NAME_FILE is pointed at the copy. Then the command runs as $RUN_AS (setpriv).
# Services read the files themselves: no secret is in any process's environment or command line.
# Started as another user (docker run --user), it runs the command as it is.
set -eu

secret_dir=/run/tenantctl

if [ "$(id -u)" = 0 ]; then
  : "${RUN_AS:?the image must set RUN_AS}"
  mkdir -p "$secret_dir"
  chown "$RUN_AS:$RUN_AS" "$secret_dir"
  chmod 0700 "$secret_dir"
  # Names only (no values) of the *_FILE variables; POSIX sh has no other way to list them.
  for var in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1/p'); do
    eval "file=\${${var}_FILE}"
    [ -n "$file" ] || continue
    if [ ! -r "$file" ]; then
      echo "entrypoint: ${var}_FILE=$file is not readable" >&2
      exit 1
    fi
    install -o "$RUN_AS" -g "$RUN_AS" -m 0400 "$file" "$secret_dir/$var"
    export "${var}_FILE=$secret_dir/$var"
  done
  unset var file
  # A volume Docker filled from the image is owned by the service user already.
  if [ -n "${DATA_DIR:-}" ] && [ -d "$DATA_DIR" ] && [ "$(stat -c %U "$DATA_DIR")" != "$RUN_AS" ]; then
    chown -R "$RUN_AS:$RUN_AS" "$DATA_DIR"
  fi
  # The container's stdout and stderr are pipes owned by root (mode 0600): a service that opens
  # /dev/stderr by path (webdis's logfile) could not, once it runs as $RUN_AS. They are this
  # container's own pipes, so handing them to the service user widens nothing.
  # Through copies (8, 9): dash applies chown's 2>/dev/null in the shell itself, where fd 2 would
  # then name /dev/null.
  exec 8>&1 9>&2
  chown "$RUN_AS" "/proc/$$/fd/8" "/proc/$$/fd/9" 2>/dev/null || true
  exec 8>&- 9>&-
  exec setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --init-groups "$@"
fi
exec "$@"
