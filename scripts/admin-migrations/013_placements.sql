-- Placement across processes (issue 20). A new tenant's row is written only when its provision
-- reserves ports, seconds after the placement chose its host; two tenantctl processes placing at
-- the same moment both read loads without the other's tenant and picked the same host, past its
-- capacity. A placement is now recorded here in the transaction that chose it, under an advisory
-- lock, and counted by every later placement until the tenant's own row counts instead (or the
-- placement is 15 minutes old: its provision died before reserving anything).
CREATE TABLE admin_placements (
  customer_id text PRIMARY KEY,
  host text NOT NULL,
  memory_bytes bigint NOT NULL CHECK (memory_bytes >= 0),
  placed_at timestamptz NOT NULL DEFAULT now()
);
