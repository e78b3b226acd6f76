-- Changing a live tenant safely (backups, restores, upgrades with rollback, secret rotation).

-- What each tenant runs: one row per good state, written when a provision (or an upgrade, or a
-- rollback) has made the tenant active and ready. The newest row of a tenant is its last good
-- state, the one an upgrade that does not become ready goes back to: the rendered compose file
-- itself and the image ids its containers ran (so a rollback is that file with those images, not a
-- re-render or a rebuild). Older rows stay as history.
CREATE TABLE admin_tenant_deployments (
  id                bigserial PRIMARY KEY,
  customer_id       text NOT NULL REFERENCES admin_customers (id) ON DELETE CASCADE,
  -- provision | upgrade | rollback | restore
  reason            text NOT NULL,
  template_name     text NOT NULL,
  template_checksum text NOT NULL CHECK (template_checksum ~ '^[0-9a-f]{64}$'),
  plan              text NOT NULL,
  -- {"app": {"tag": "tenantctl/app:latest", "id": "sha256:..."}, "db": {...}, ...} by service
  images            jsonb NOT NULL,
  compose_file      text NOT NULL,
  compose_checksum  text NOT NULL CHECK (compose_checksum ~ '^[0-9a-f]{64}$'),
  recorded_by       text NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_tenant_deployments_customer_idx ON admin_tenant_deployments (customer_id, id DESC);

-- Backups: one row per `tenantctl backup` of one tenant, with its job state. A running backup
-- beats (heartbeat_at) while it works, so one whose process died is told apart from one that is
-- slow. Succeeded means: the dump is non-trivial, pg_restore --list reads it, and every file is in
-- the manifest with its size and SHA-256 (manifest_sha256 is the manifest file's own hash).
CREATE TABLE admin_backups (
  id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,80}$'),
  customer_id     text NOT NULL REFERENCES admin_customers (id) ON DELETE CASCADE,
  host            text NOT NULL,
  directory       text NOT NULL,
  state           text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'pruned')),
  reason          text,
  size_bytes      bigint,
  manifest_sha256 text CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
  manifest        jsonb,
  created_by      text NOT NULL,
  started_at      timestamptz NOT NULL DEFAULT now(),
  heartbeat_at    timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX admin_backups_customer_idx ON admin_backups (customer_id, started_at DESC);
