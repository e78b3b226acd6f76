-- The front door's gateway faces the internet; it used to connect as the admin database's owner (a
-- superuser for the local one), so a bug in it meant every tenant's keys, every sealed secret and
-- COPY ... TO PROGRAM (review 2026-12-05, item 11). It now connects as tenantctl_gateway: a login
-- role that is not a superuser and may only read the columns the gateway reads (key verdicts, a
-- tenant's status and modules) and write usage rows and keys' last_used_at.
--
-- The role has no password here (no login until one is set): `tenantctl frontdoor init` sets it
-- from <stateDir>/gateway-db.env, as a SCRAM verifier (src/frontdoor/gateway-role.ts).
-- Roles are per cluster: an admin database whose user may not create roles gets no role, and
-- `frontdoor init` says so rather than hand the gateway the owner's login.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_gateway') THEN
    BEGIN
      CREATE ROLE tenantctl_gateway LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 32;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'tenantctl_gateway not created (this user may not create roles)';
      RETURN;
    END;
  END IF;
  -- Key verdicts: the key's id, tenant, hash and revocation; the tenant's status.
  GRANT SELECT (id, customer_id, key_hash, revoked_at) ON admin_api_keys TO tenantctl_gateway;
  GRANT UPDATE (last_used_at) ON admin_api_keys TO tenantctl_gateway;
  GRANT SELECT (id, status) ON admin_customers TO tenantctl_gateway;
  GRANT SELECT (customer_id, module_key, enabled) ON admin_customer_modules TO tenantctl_gateway;
  -- Usage: INSERT ... ON CONFLICT DO UPDATE reads the conflicting row's key columns and count.
  GRANT INSERT (customer_id, api_key_id, endpoint, request_count, period_start, updated_at) ON admin_api_usage TO tenantctl_gateway;
  GRANT SELECT (customer_id, api_key_id, endpoint, period_start, request_count) ON admin_api_usage TO tenantctl_gateway;
  GRANT UPDATE (request_count, updated_at) ON admin_api_usage TO tenantctl_gateway;
  GRANT USAGE ON SEQUENCE admin_api_usage_id_seq TO tenantctl_gateway;
END $$;
