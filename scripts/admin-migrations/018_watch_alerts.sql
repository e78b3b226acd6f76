-- Watching, alerts and metrics (issue 22): what each tenant's stack was last seen as, the events
-- of its changes, webhook endpoints and their deliveries, and the least-privileged role the
-- long-running agent that runs them connects as.

-- The last state the watch recorded per tenant (ready | degraded | down), the state it saw since
-- and how many passes in a row (a change is recorded only after watch.confirmPasses agree), and the
-- auto-restart backoff. `services`: what the pass saw running (informational; the expected
-- services come from the tenant's rendered compose file).
CREATE TABLE admin_tenant_health (
  customer_id      text PRIMARY KEY REFERENCES admin_customers (id) ON DELETE CASCADE,
  state            text NOT NULL CHECK (state IN ('ready', 'degraded', 'down')),
  since            timestamptz NOT NULL DEFAULT now(),
  checked_at       timestamptz NOT NULL DEFAULT now(),
  services         text[] NOT NULL DEFAULT '{}',
  detail           jsonb NOT NULL DEFAULT '{}',
  pending_state    text CHECK (pending_state IN ('ready', 'degraded', 'down')),
  pending_passes   integer NOT NULL DEFAULT 0 CHECK (pending_passes >= 0),
  restart_attempts integer NOT NULL DEFAULT 0 CHECK (restart_attempts >= 0),
  next_restart_at  timestamptz
);

-- Whether each host's engine answered the last probe (host unreachable / reachable events).
CREATE TABLE admin_host_health (
  host       text PRIMARY KEY,
  reachable  boolean NOT NULL,
  -- Passes in a row that saw the other answer (recorded after watch.confirmPasses).
  pending_passes integer NOT NULL DEFAULT 0 CHECK (pending_passes >= 0),
  since      timestamptz NOT NULL DEFAULT now(),
  checked_at timestamptz NOT NULL DEFAULT now(),
  last_error text
);

-- Every transition the watch saw, and what it did (auto-restarts). Rows outlive their tenant, as
-- audit rows do: the history of a deprovisioned tenant is still worth reading.
CREATE TABLE admin_tenant_events (
  id          bigserial PRIMARY KEY,
  customer_id text,
  host        text NOT NULL,
  kind        text NOT NULL CHECK (kind ~ '^[a-z]+\.[a-z-]+$'),
  from_state  text,
  to_state    text,
  detail      jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_tenant_events_customer_idx ON admin_tenant_events (customer_id, created_at);
CREATE INDEX admin_tenant_events_created_idx ON admin_tenant_events (created_at);

-- Webhook endpoints: the URL, the per-endpoint signing secret sealed with the master key (purpose
-- alert-endpoint:<id>), and the event kinds it wants (empty: all). allow_private: added with
-- --allow-private (a loopback/private target); without it the send-time address check refuses one.
CREATE TABLE admin_alert_endpoints (
  id                text PRIMARY KEY CHECK (id ~ '^ep-[a-z0-9]{8}$'),
  url               text NOT NULL CHECK (url ~ '^https?://'),
  secret_ciphertext text NOT NULL CHECK (secret_ciphertext ~ '^v[0-9]+:'),
  events            text[] NOT NULL DEFAULT '{}',
  allow_private     boolean NOT NULL DEFAULT false,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);

-- One row per event per endpoint: the JSON body is fixed when the event is raised, so a retry sends
-- the same bytes (re-signed with a new timestamp). claim_token: set by the sender that claimed the
-- row (its lease is next_attempt_at); every outcome is written only by the holder of that token.
CREATE TABLE admin_alert_deliveries (
  id              bigserial PRIMARY KEY,
  endpoint_id     text NOT NULL REFERENCES admin_alert_endpoints (id) ON DELETE CASCADE,
  event           text NOT NULL,
  payload         jsonb NOT NULL,
  state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz,
  delivered_at    timestamptz,
  last_status     integer,
  last_error      text,
  claim_token     uuid,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_alert_deliveries_created_idx ON admin_alert_deliveries (created_at) WHERE state <> 'pending';
CREATE INDEX admin_alert_deliveries_due_idx ON admin_alert_deliveries (next_attempt_at) WHERE state = 'pending';

-- The agent's own login: no superuser, no role or database creation, only what watch, alerts and
-- metrics use. No password here (no login until the agent's setup sets one, as a SCRAM verifier,
-- like the gateway's). Auto-restart runs the restart verb, which reads the tenant's row (sealed
-- secrets included: readiness logs in as the app role), locks it and writes an audit row.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    BEGIN
      CREATE ROLE tenantctl_agent LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 16;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'tenantctl_agent not created (this user may not create roles)';
      RETURN;
    END;
  END IF;
  -- Its own tables.
  GRANT SELECT, INSERT, UPDATE, DELETE ON admin_tenant_health TO tenantctl_agent;
  GRANT SELECT, INSERT, UPDATE ON admin_host_health TO tenantctl_agent;
  -- DELETE: the retention loop removes events older than watch.retentionDays.
  GRANT SELECT, INSERT, DELETE ON admin_tenant_events TO tenantctl_agent;
  GRANT USAGE ON SEQUENCE admin_tenant_events_id_seq TO tenantctl_agent;
  GRANT SELECT (id, url, secret_ciphertext, events, allow_private) ON admin_alert_endpoints TO tenantctl_agent;
  GRANT SELECT, INSERT, DELETE ON admin_alert_deliveries TO tenantctl_agent;
  GRANT UPDATE (state, attempts, next_attempt_at, delivered_at, last_status, last_error, claim_token) ON admin_alert_deliveries TO tenantctl_agent;
  GRANT USAGE ON SEQUENCE admin_alert_deliveries_id_seq TO tenantctl_agent;
  -- Read elsewhere: the registry (which tenants, their plan and host), unfinished operations (a
  -- tenant being changed is not judged), the master key's check, metrics' sources.
  GRANT SELECT ON admin_customers TO tenantctl_agent;
  GRANT SELECT ON admin_operations TO tenantctl_agent;
  GRANT SELECT (key, value) ON admin_settings TO tenantctl_agent;
  -- Opening the admin database checks that every migration is applied (one SELECT when it is).
  GRANT SELECT (name, checksum) ON admin_schema_migrations TO tenantctl_agent;
  GRANT SELECT (customer_id, request_count) ON admin_api_usage TO tenantctl_agent;
  GRANT SELECT (customer_id, state, started_at, finished_at) ON admin_backups TO tenantctl_agent;
  GRANT SELECT (host, kind, value, customer_id, purpose) ON admin_allocations TO tenantctl_agent;
  -- The restart verb (auto-restart): SELECT ... FOR UPDATE of the tenant's row needs an UPDATE
  -- right on the table; updated_at is the one column it may touch. Its audit row.
  GRANT UPDATE (updated_at) ON admin_customers TO tenantctl_agent;
  GRANT INSERT (customer_id, action, actor, old_values, new_values) ON admin_audit_logs TO tenantctl_agent;
  GRANT USAGE ON SEQUENCE admin_audit_logs_id_seq TO tenantctl_agent;
END $$;
