-- Suspension (issue 22): a tenant can be suspended (`tenantctl suspend <id> --reason`), distinct from
-- deletion: its stack is stopped, its data, keys, secrets and allocations are kept, and the front
-- door answers a page (browsers) or a 401 naming the suspension (keyed API calls) instead of
-- proxying. `tenantctl resume` starts it, waits until it is ready, and makes it active again.
--
-- The checks on admin_customers.status and admin_operations.verb gain a value each. They are
-- rebuilt from their current definitions (every value they allow now, plus ours), so a migration of
-- another branch that added values of its own before this one keeps them.
DO $$
DECLARE
  c record;
  allowed text;
BEGIN
  FOR c IN
    SELECT x.conname, x.conrelid::regclass AS tbl, col, extra
    FROM (VALUES ('admin_customers', 'status', 'suspended'), ('admin_operations', 'verb', 'suspend'), ('admin_operations', 'verb', 'resume')) AS w(tbl, col, extra)
    JOIN pg_constraint x ON x.conrelid = w.tbl::regclass AND x.contype = 'c' AND pg_get_constraintdef(x.oid) ~ ('\m' || w.col || '\M')
      AND pg_get_constraintdef(x.oid) !~ 'finished_at'
  LOOP
    SELECT string_agg(quote_literal(v), ', ' ORDER BY v) INTO allowed FROM (
      SELECT m[1] AS v FROM regexp_matches((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = c.conname AND conrelid = c.tbl), '''([a-z-]+)''', 'g') AS m
      UNION SELECT c.extra
    ) values_allowed;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IN (%s))', c.tbl, c.conname, c.col, allowed);
  END LOOP;
END $$;

-- Why (internal: operators and the tenant's own API keys), what the page tells visitors (null: a
-- generic page), since when and by whom; set while the tenant is suspended, cleared by resume (the
-- audit log keeps every suspension). deprovision_warned_at: when the agent raised the policy's
-- warning a day before deprovisioning; a tenant never warned is never due (src/suspension/policy.ts).
ALTER TABLE admin_customers
  ADD COLUMN suspension_reason text CHECK (char_length(suspension_reason) <= 200),
  ADD COLUMN suspension_public_message text CHECK (char_length(suspension_public_message) <= 200),
  ADD COLUMN suspended_at timestamptz,
  ADD COLUMN suspended_by text,
  ADD COLUMN deprovision_warned_at timestamptz;

-- The gateway names the suspension in its 401 to a keyed API call: it reads the reason, and nothing
-- else that is new (migration 014 lists what it reads already: id, status).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_gateway') THEN
    GRANT SELECT (suspension_reason) ON admin_customers TO tenantctl_gateway;
  END IF;
END $$;

-- The agent's policy loop raises 'suspension.deprovision-soon' and then records it
-- (markDeprovisionWarned, UPDATE ... WHERE id = $1 AND status = 'suspended'): it may write that
-- column alone, and read what the policy and that WHERE need. The role is another migration's: on a
-- database without it (yet) nothing is granted here, and that migration grants it.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    GRANT SELECT (id, status, suspended_at, deprovision_warned_at), UPDATE (deprovision_warned_at) ON admin_customers TO tenantctl_agent;
  END IF;
END $$;
