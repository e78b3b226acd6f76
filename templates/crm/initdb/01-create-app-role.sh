#!/bin/sh
# Creates the login role the tenant's app and worker connect as (APP_DB_USER, default tenant_app).
#
# Run once by the postgres entrypoint at first init (both tenantctl/postgres and the official
# postgres image), normally *sourced* by its shell, so: POSIX sh only, `set -eu` may be in force,
# and every name here is prefixed and unset at the end so nothing leaks into the entrypoint.
# It also works when executed directly (official image, executable bit set).
#
# Why a separate role at all: tenant_owner owns the tables (and has BYPASSRLS; 00-create-owner-role.sh),
# and superusers, BYPASSRLS roles and table owners bypass row-level security. The app must therefore use a
# role that is neither, and that lacks BYPASSRLS, or the RLS policies in scripts/init-db.sql
# would silently not apply to it. Table privileges for this role are granted by init-db.sql.
#
# Quoting: names and the password reach the server only as psql variables (:"name" / :'pw'),
# which psql quotes itself, so no value can change the SQL; the heredoc is quoted ('SQL'), so
# the shell expands nothing in it. The password is never echoed. The server stores it as a
# SCRAM-SHA-256 verifier (password_encryption default since PostgreSQL 14).

# The password may be given as APP_DB_PASSWORD or as a file, APP_DB_PASSWORD_FILE (Docker secrets),
# not both.
if [ -n "${APP_DB_PASSWORD_FILE:-}" ]; then
  if [ -n "${APP_DB_PASSWORD:-}" ]; then
    echo "01-create-app-role.sh: both APP_DB_PASSWORD and APP_DB_PASSWORD_FILE are set; set only one" >&2
    exit 1
  fi
  if [ ! -r "$APP_DB_PASSWORD_FILE" ]; then
    echo "01-create-app-role.sh: APP_DB_PASSWORD_FILE=$APP_DB_PASSWORD_FILE is not readable" >&2
    exit 1
  fi
  APP_DB_PASSWORD=$(cat "$APP_DB_PASSWORD_FILE")
fi
if [ -z "${APP_DB_PASSWORD:-}" ]; then
  echo "01-create-app-role.sh: APP_DB_PASSWORD (or APP_DB_PASSWORD_FILE) must be set (and non-empty)" >&2
  exit 1
fi

tenantctl_app_user="${APP_DB_USER:-tenant_app}"
tenantctl_db="${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"

# --username/--dbname are explicit because the official image does not export PGUSER to init
# scripts; the host comes from PGHOST (tenantctl image) or libpq's default socket (official).
# ON_ERROR_STOP makes psql exit non-zero on the first failed statement, which aborts init.
# The password never goes on a command line (`ps` on the host shows every process's argv): it
# reaches psql on its stdin, as a `\set pw '...'` line ahead of the SQL, written by printf, a shell
# builtin (dash, bash), so no process has it as an argument. In psql's single quotes a quote is
# doubled and a backslash escaped; sed reads the value from a pipe. (psql 15's \getenv would do
# too, but this script also runs in official images with an older psql.)
case "$APP_DB_PASSWORD" in
  *'
'*) echo "01-create-app-role.sh: APP_DB_PASSWORD spans several lines" >&2; exit 1 ;;
esac
tenantctl_pw_quoted=$(printf '%s' "$APP_DB_PASSWORD" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")
{
  printf '%s\n' "\\set pw '$tenantctl_pw_quoted'"
  cat <<'SQL'
-- INHERIT is left at its default: the role is granted membership in no other role, so there is
-- nothing to inherit. Everything that lets a role skip RLS or widen its own rights is off.
-- Idempotent (CREATE only if missing, then ALTER), so running the script again is harmless.
SELECT format('CREATE ROLE %I', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
ALTER ROLE :"app_user" WITH LOGIN PASSWORD :'pw'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;

-- Only named roles may connect to the tenant database (superusers are unaffected).
REVOKE CONNECT ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app_user";
SQL
} | psql -v ON_ERROR_STOP=1 -q -X \
  --username "${POSTGRES_USER:-postgres}" --dbname "$tenantctl_db" \
  -v app_user="$tenantctl_app_user" -v db="$tenantctl_db"

echo "01-create-app-role.sh: role $tenantctl_app_user ready in database $tenantctl_db"
unset tenantctl_app_user tenantctl_db tenantctl_pw_quoted
