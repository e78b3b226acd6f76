#!/bin/sh
# Rendered from templates/_shared/initdb/00-create-owner-role.sh by scripts/render-shared-template-files.mjs: edit that file, then run it.
# Creates the role that owns the tenant's database (OWNER_DB_USER: crm's tenant_owner, frontbase's
# frontbase), which is NOT a superuser, and takes the superuser's password away.
#
# Run once by the postgres entrypoint at first init, before the other init scripts (00-), as the
# image's superuser (POSTGRES_USER: postgres), normally *sourced* by its shell, so: POSIX sh only,
# `set -eu` may be in force, every name here is prefixed and unset at the end.
#
# Why: the image's POSTGRES_USER is a superuser by construction, and a superuser can do anything
# to the container (COPY ... TO PROGRAM runs commands, pg_read_file reads files, ALTER SYSTEM).
# The tenant's owner needs none of that: it owns the database and what it creates there.
# OWNER_DB_BYPASSRLS=1 gives it BYPASSRLS, for a stack whose tables FORCE row-level security and
# whose owner must still see every row (migrations, pg_dump, `tenantctl psql`): crm's tables do, so
# crm sets it; frontbase has no such tables and leaves it off.
# The superuser stays for tenantctl's maintenance, over the local socket only (docker exec; the
# image trusts local connections): crm's first tenant migration on the fresh database (as the owner
# with SET ROLE, but for its ALTER ROLE tenant_app SET search_path, which needs more than an owner
# has), a restore's database swap, rotate-secrets' ALTER ROLE. With no password it cannot log in
# over TCP.
#
# The owner's password is POSTGRES_PASSWORD (the entrypoint has read POSTGRES_PASSWORD_FILE, the
# DB_PASSWORD secret, into it): the secret that was the superuser's becomes the owner's. It reaches
# psql on its stdin as a `\set` line written by printf (a shell builtin), never on a command line.

tenantctl_owner="${OWNER_DB_USER:-}"
tenantctl_super="${POSTGRES_USER:-postgres}"
if [ -z "$tenantctl_owner" ] && [ "${OWNER_DB_SUPERUSER:-0}" != 1 ]; then
  # Fail closed: a compose file that lost the variable would otherwise leave the superuser the
  # database's owner. tenantctl's templates set it; OWNER_DB_SUPERUSER=1 asks for the old shape.
  echo "00-create-owner-role.sh: OWNER_DB_USER is not set (the database's owner, no superuser); set it, or OWNER_DB_SUPERUSER=1 to keep $tenantctl_super the owner" >&2
  exit 1
elif [ -z "$tenantctl_owner" ]; then
  echo "00-create-owner-role.sh: OWNER_DB_SUPERUSER=1: $tenantctl_super stays the database's owner"
else
  if [ "$tenantctl_owner" = "$tenantctl_super" ]; then
    echo "00-create-owner-role.sh: OWNER_DB_USER ($tenantctl_owner) must differ from POSTGRES_USER, the superuser" >&2
    exit 1
  fi
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "00-create-owner-role.sh: POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) must be set" >&2
    exit 1
  fi
  case "$POSTGRES_PASSWORD" in
    *'
'*) echo "00-create-owner-role.sh: the password spans several lines" >&2; exit 1 ;;
  esac
  tenantctl_db="${POSTGRES_DB:-$tenantctl_super}"
  tenantctl_bypassrls=NOBYPASSRLS
  if [ "${OWNER_DB_BYPASSRLS:-0}" = 1 ]; then tenantctl_bypassrls=BYPASSRLS; fi
  tenantctl_pw_quoted=$(printf '%s' "$POSTGRES_PASSWORD" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")
  {
    printf '%s\n' "\\set pw '$tenantctl_pw_quoted'"
    printf '%s\n' "\\set bypassrls $tenantctl_bypassrls"
    cat <<'SQL'
SELECT format('CREATE ROLE %I', :'owner')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
ALTER ROLE :"owner" WITH LOGIN PASSWORD :'pw'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION :bypassrls;
-- Its database (and so, PostgreSQL 15, the public schema, owned by pg_database_owner).
ALTER DATABASE :"db" OWNER TO :"owner";
-- The superuser logs in over the local socket only.
ALTER ROLE CURRENT_USER WITH PASSWORD NULL;
SQL
  } | psql -v ON_ERROR_STOP=1 -q -X \
    --username "$tenantctl_super" --dbname "$tenantctl_db" \
    -v owner="$tenantctl_owner" -v db="$tenantctl_db"

  echo "00-create-owner-role.sh: role $tenantctl_owner owns database $tenantctl_db (not a superuser)"
fi
unset tenantctl_owner tenantctl_super tenantctl_db tenantctl_bypassrls tenantctl_pw_quoted
