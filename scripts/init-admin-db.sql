-- tenantctl control plane: the admin database's first migration.
-- Applied by tenantctl via node-postgres inside one transaction and recorded with its checksum in
-- admin_schema_migrations, so it runs once; later changes go into new migration files, never here.

CREATE TABLE admin_customers (
  id               text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,39}$'),
  name             text NOT NULL,
  plan             text NOT NULL DEFAULT 'standard',
  status           text NOT NULL CHECK (status IN ('provisioning', 'active', 'failed', 'deprovisioning', 'deprovisioned')),
  status_reason    text,
  host             text NOT NULL,
  compose_project  text NOT NULL,
  app_port         integer,
  db_port          integer,
  redis_port       integer,
  subnet           cidr,
  app_url          text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  provisioned_at   timestamptz,
  deprovisioned_at timestamptz
);
CREATE INDEX admin_customers_status_idx ON admin_customers (status);

-- Host resources handed to tenants. The primary key is what makes two concurrent provisions unable
-- to hold the same port or subnet on one host, whatever they planned.
CREATE TABLE admin_allocations (
  host        text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('port', 'subnet')),
  value       text NOT NULL,
  customer_id text NOT NULL REFERENCES admin_customers (id) ON DELETE CASCADE,
  purpose     text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host, kind, value)
);
CREATE INDEX admin_allocations_customer_idx ON admin_allocations (customer_id);

-- Every state change: who, what, old and new values, when. Rows outlive their customer on purpose.
CREATE TABLE admin_audit_logs (
  id          bigserial PRIMARY KEY,
  customer_id text,
  action      text NOT NULL,
  actor       text NOT NULL,
  old_values  jsonb,
  new_values  jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_audit_logs_customer_idx ON admin_audit_logs (customer_id, created_at);
