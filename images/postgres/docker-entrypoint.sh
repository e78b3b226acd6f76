#!/bin/sh
# Entrypoint of tenantctl/postgres: the official postgres entrypoint's contract, on a data
# directory that the image initialised at build time (see Dockerfile).
#
#   POSTGRES_USER (default postgres), POSTGRES_PASSWORD (required), POSTGRES_DB (default the
#   user's name); each may instead be given as a file: POSTGRES_USER_FILE, POSTGRES_PASSWORD_FILE,
#   POSTGRES_DB_FILE (for Docker secrets). /docker-entrypoint-initdb.d/*.sh (sourced) and *.sql
#   run once, on the first start, with PGHOST/PGUSER set for psql.
#
# Secret files: a compose secret (or any bind mount) is the operator's file as it is on the host,
# e.g. mode 0600 owned by the operator, which the postgres user cannot read. Started as root, the
# entrypoint copies each file named by a *_FILE variable below into /run/tenantctl (a tmpfs in
# tenantctl's template; 0700), owned by postgres with mode 0400, points the variable at the copy and
# only then drops to postgres. Values are never exported to the server: the postgres process's
# environment holds paths, not passwords.
#
# First start: the data directory holds the marker file tenantctl-first-start ("pending" as
# shipped). The entrypoint writes "running" into it, renames the bootstrap superuser to
# POSTGRES_USER, sets its password, creates POSTGRES_DB, runs the init scripts, stops the server
# and only then removes the marker. It does this on a temporary server that listens on the unix
# socket only, so nothing outside the container (and no TCP health check) sees the server before
# the real one is up. A marker that says "running" means a previous first start was interrupted
# (container killed midway): the directory is reset from the image's pristine copy and the first
# start runs again, so the init scripts run exactly once on the data that is kept.
# A data directory without the marker (set up already, or made by an older image that ran initdb
# at first start) is started as it is.
set -eu

pristine=/usr/local/share/tenantctl/pgdata.tar.gz
marker_name=tenantctl-first-start
tuning_include="include_if_exists = '/etc/postgresql/tenantctl.conf'"

log() { echo "docker-entrypoint: $*"; }

# file_env VAR: VAR may be given directly or as VAR_FILE (a path whose content is the value).
file_env() {
  fe_var="$1"
  eval "fe_val=\${$fe_var:-}; fe_file=\${${fe_var}_FILE:-}"
  if [ -n "$fe_val" ] && [ -n "$fe_file" ]; then
    echo "docker-entrypoint: both $fe_var and ${fe_var}_FILE are set; set only one" >&2
    exit 1
  fi
  if [ -n "$fe_file" ]; then
    if [ ! -r "$fe_file" ]; then
      echo "docker-entrypoint: ${fe_var}_FILE=$fe_file is not readable" >&2
      exit 1
    fi
    fe_val=$(cat "$fe_file")
    export "$fe_var=$fe_val"
  fi
  unset "${fe_var}_FILE" || true
  unset fe_var fe_val fe_file
}

secret_dir=/run/tenantctl
secret_file_vars="POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB APP_DB_PASSWORD"

# stage_secret VAR: if VAR_FILE is set, copy that file to $secret_dir/VAR, readable by postgres only,
# and point VAR_FILE at the copy (as root: the original may be readable by root only).
stage_secret() {
  eval "ss_file=\${${1}_FILE:-}"
  if [ -z "$ss_file" ]; then return 0; fi
  if [ ! -r "$ss_file" ]; then
    echo "docker-entrypoint: ${1}_FILE=$ss_file is not readable" >&2
    exit 1
  fi
  install -o postgres -g postgres -m 0400 "$ss_file" "$secret_dir/$1"
  export "${1}_FILE=$secret_dir/$1"
  unset ss_file
}

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /run/postgresql "$secret_dir"
  chown postgres:postgres "$secret_dir"
  chmod 0700 "$secret_dir"
  for v in $secret_file_vars; do stage_secret "$v"; done
  # A volume Docker filled from the image is already owned by postgres: skip the recursive chown.
  if [ "$(stat -c %U "$PGDATA")" != postgres ]; then chown -R postgres:postgres "$PGDATA"; fi
  chown postgres:postgres /run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

# Restores the data directory to the image's pristine, initialised state.
restore_pristine() {
  find "$PGDATA" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  tar -C "$PGDATA" -xzf "$pristine"
}

first_start() {
  file_env POSTGRES_USER
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_DB
  : "${POSTGRES_USER:=postgres}"
  : "${POSTGRES_DB:=$POSTGRES_USER}"
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "docker-entrypoint: POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) must be set" >&2
    exit 1
  fi
  if [ "$POSTGRES_USER" = tenantctl_init ]; then
    echo "docker-entrypoint: POSTGRES_USER may not be tenantctl_init (used during first start)" >&2
    exit 1
  fi

  # An interrupted first start leaves "running": start over from a clean copy.
  if [ "$(cat "$PGDATA/$marker_name")" != pending ]; then
    log "a previous first start did not finish; resetting the data directory"
    restore_pristine
  fi
  echo running >"$PGDATA/$marker_name"

  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/run/postgresql" -w start >/dev/null
  export PGHOST=/run/postgresql

  # The bootstrap superuser (oid 10, "postgres" in the image) becomes POSTGRES_USER, as if initdb
  # had run with --username. A role cannot rename itself, so a helper superuser does it and is
  # dropped again in the next session. Values reach SQL only as psql variables (quoted by psql).
  if [ "$POSTGRES_USER" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -q -X -U postgres -d postgres <<'SQL'
CREATE ROLE tenantctl_init WITH SUPERUSER LOGIN;
SQL
    psql -v ON_ERROR_STOP=1 -q -X -U tenantctl_init -d postgres -v user="$POSTGRES_USER" <<'SQL'
ALTER ROLE postgres RENAME TO :"user";
SQL
  fi
  # The password never goes on psql's command line (`ps` on the host shows every process's argv):
  # psql reads it from its own environment (\getenv, psql 15+; file_env exported it), and names
  # and the database are not secret.
  psql -v ON_ERROR_STOP=1 -q -X -U "$POSTGRES_USER" -d postgres \
    -v user="$POSTGRES_USER" -v db="$POSTGRES_DB" <<'SQL'
\getenv pw POSTGRES_PASSWORD
DROP ROLE IF EXISTS tenantctl_init;
ALTER ROLE :"user" WITH PASSWORD :'pw';
SELECT format('CREATE DATABASE %I', :'db') WHERE :'db' <> 'postgres' \gexec
SQL

  export PGUSER="$POSTGRES_USER"
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh) log "running $f"; . "$f" ;;
      *.sql) log "running $f"; psql -v ON_ERROR_STOP=1 -q -X -d "$POSTGRES_DB" -f "$f" ;;
      *) log "ignoring $f" ;;
    esac
  done
  unset PGHOST PGUSER

  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  # Only now is the first start done; the marker's removal is the commit point.
  rm -f "$PGDATA/$marker_name"
  log "first start complete: role $POSTGRES_USER, database $POSTGRES_DB"
}

# A data directory of another owner (a volume not handed to this image's uid: README, "Service
# users"), or whose PG_VERSION this user cannot read, is never taken for an empty one: the copy
# below would wipe it. Stop with one line instead.
if [ -d "$PGDATA" ] && [ "$(stat -c %u "$PGDATA")" != "$(id -u)" ]; then
  echo "docker-entrypoint: $PGDATA is owned by uid $(stat -c %u "$PGDATA"), this server runs as uid $(id -u): not starting (nothing was changed)" >&2
  exit 1
fi
if [ -e "$PGDATA/PG_VERSION" ] && [ ! -r "$PGDATA/PG_VERSION" ]; then
  echo "docker-entrypoint: $PGDATA/PG_VERSION cannot be read by uid $(id -u): not starting (nothing was changed)" >&2
  exit 1
fi
# An empty data directory (a bind mount, or a volume Docker did not fill): use the image's copy.
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  log "empty data directory; copying the image's initialised one"
  restore_pristine
fi
if [ -e "$PGDATA/$marker_name" ]; then
  first_start
elif ! grep -qF "$tuning_include" "$PGDATA/postgresql.conf"; then
  # A data directory made by an older image: give it the same tuning (once).
  printf '\n# tenantctl: tuning for small idle tenants\n%s\n' "$tuning_include" >>"$PGDATA/postgresql.conf"
fi

# The server needs no password in its environment (given directly or read from a file above).
unset POSTGRES_PASSWORD APP_DB_PASSWORD
if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql "$@"
fi
exec "$@"
