-- `tenantctl move <id> --to <host>`: one row per move, written before the tenant's row leaves its
-- source host, so a move killed half-way is finished or undone by the next run (src/hosts/move.ts).
-- saved_row is the tenant's admin_customers row as it was on the source (its ports, subnet, sealed
-- secrets), saved_allocations its admin_allocations rows there, saved_keys the API keys it had:
-- what puts it back on the source, working, if the target does not become ready.
CREATE TABLE admin_tenant_moves (
  id                bigserial PRIMARY KEY,
  customer_id       text NOT NULL REFERENCES admin_customers (id) ON DELETE CASCADE,
  source_host       text NOT NULL REFERENCES admin_hosts (name),
  target_host       text NOT NULL REFERENCES admin_hosts (name),
  backup_id         text NOT NULL,
  -- where the source's customers/<id>/ waits while the target is made (the source's compose file)
  source_dir        text NOT NULL,
  saved_row         jsonb NOT NULL,
  saved_allocations jsonb NOT NULL,
  saved_keys        jsonb NOT NULL,
  state             text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'rolled-back')),
  reason            text,
  started_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz
);
-- At most one unfinished move per tenant.
CREATE UNIQUE INDEX admin_tenant_moves_running_idx ON admin_tenant_moves (customer_id) WHERE state = 'running';
