-- Point-in-time recovery (issue 23, src/pitr/):
--
-- 1. The WAL batches a shipper has in flight (ship.ts, ship-in-flight.ts), each {file, names,
--    startedAt, reshipped?}, written before restic starts and taken off once the batch's files left
--    the archive volume. A batch a killed shipper left here is settled by the next shipment (its
--    possibly cut-off snapshot forgotten, audited with the cause) instead of blocking every later
--    to-time restore. The agent ships (023 gave it UPDATE on the table).
ALTER TABLE admin_wal_shipping
  ADD COLUMN batches_in_flight jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(batches_in_flight) = 'array');

-- 2. Retention of base backups and WAL (retention.ts), journaled as verb 'pitr-prune'. The check on
--    admin_operations.verb gains it, rebuilt from its current definition (every value it allows
--    now, plus ours), as 019, 025 and 030 do, so another branch's values stay. PostgreSQL prints such
--    a check as `x = ANY (ARRAY['a'::text, 'b'::text])` or, written with an array literal (024),
--    `x = ANY ('{a,b}'::text[])`: the pattern reads a value after a quote, `{` or `,` in both. The
--    check tying verb to finished_at is not this one (left alone, as in 025). Should the pattern read
--    nothing known ('restore' is a verb since 024), the migration stops rather than narrowing the
--    check to a few values.
DO $$
DECLARE
  c record;
  found text[];
  allowed text;
BEGIN
  FOR c IN
    SELECT x.conname, x.conrelid::regclass AS tbl, col, extra
    FROM (VALUES ('admin_operations', 'verb', 'pitr-prune')) AS w(tbl, col, extra)
    JOIN pg_constraint x ON x.conrelid = w.tbl::regclass AND x.contype = 'c' AND pg_get_constraintdef(x.oid) ~ ('\m' || w.col || '\M')
      AND pg_get_constraintdef(x.oid) !~ 'finished_at'
  LOOP
    SELECT array_agg(DISTINCT m[1]) INTO found
      FROM regexp_matches((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = c.conname AND conrelid = c.tbl), '[''{,]([a-z][a-z0-9-]*)(?=[''},])', 'g') AS m;
    IF found IS NULL OR NOT 'restore' = ANY (found) THEN
      RAISE EXCEPTION 'migration 028: the check % on %.% reads as % (no ''restore''): not rebuilt', c.conname, c.tbl, c.col, coalesce(found::text, 'nothing');
    END IF;
    SELECT string_agg(quote_literal(v), ', ' ORDER BY v) INTO allowed FROM (
      SELECT unnest(found) AS v
      UNION SELECT c.extra
    ) values_allowed;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IN (%s))', c.tbl, c.conname, c.col, allowed);
  END LOOP;
END $$;

-- The agent's scheduled backups take base backups and so apply the retention after them: it drops
-- the rows of the bases it forgets (and nothing else of the table).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    GRANT DELETE ON admin_pitr_base_backups TO tenantctl_agent;
  END IF;
END $$;
