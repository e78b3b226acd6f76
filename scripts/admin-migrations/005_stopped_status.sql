-- A tenant can be stopped (`tenantctl stop`): its containers stopped, not removed, its data, ports
-- and subnet kept. The status model gains `stopped`; `tenantctl start` makes it `active` again.
-- The first migration declared the status check inline, so PostgreSQL named it; drop whichever
-- check on admin_customers constrains status, and declare the new one by name.
DO $$
DECLARE
  constraint_name text;
BEGIN
  FOR constraint_name IN
    SELECT c.conname FROM pg_constraint c
    WHERE c.conrelid = 'admin_customers'::regclass AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE '%status%'
  LOOP
    EXECUTE format('ALTER TABLE admin_customers DROP CONSTRAINT %I', constraint_name);
  END LOOP;
END $$;

ALTER TABLE admin_customers ADD CONSTRAINT admin_customers_status_check
  CHECK (status IN ('provisioning', 'active', 'stopped', 'failed', 'deprovisioning', 'deprovisioned'));
