-- Certificates by themselves (issues 24 and 22): the agent renews the front door's ACME
-- certificates on a schedule ('certificate-renewal', agent.certificateRenewalSchedule), and
-- `domains add` on an ACME door is a journaled verb ('domains-add': reachable, issued, recorded,
-- door written, door reloaded; resumed or undone by the next command on the tenant).
--
-- The checks on admin_schedules.kind and admin_operations.verb gain a value each. As in 019, they
-- are rebuilt from their current definitions (every value they allow now, plus ours), so a
-- migration of another branch that added values of its own keeps them. PostgreSQL prints such a
-- check as `x = ANY (ARRAY['a'::text, 'b'::text])` or, when it was written with an array literal,
-- `x = ANY ('{a,b}'::text[])`: the pattern reads a value after a quote, `{` or `,` in both.
DO $$
DECLARE
  c record;
  allowed text;
BEGIN
  FOR c IN
    SELECT x.conname, x.conrelid::regclass AS tbl, col, extra
    FROM (VALUES ('admin_schedules', 'kind', 'certificate-renewal'), ('admin_operations', 'verb', 'domains-add')) AS w(tbl, col, extra)
    JOIN pg_constraint x ON x.conrelid = w.tbl::regclass AND x.contype = 'c' AND pg_get_constraintdef(x.oid) ~ ('\m' || w.col || '\M')
      AND pg_get_constraintdef(x.oid) !~ 'finished_at'
  LOOP
    SELECT string_agg(quote_literal(v), ', ' ORDER BY v) INTO allowed FROM (
      SELECT m[1] AS v FROM regexp_matches((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = c.conname AND conrelid = c.tbl), '[''{,]([a-z][a-z0-9-]*)(?=[''},])', 'g') AS m
      UNION SELECT c.extra
    ) values_allowed;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IN (%s))', c.tbl, c.conname, c.col, allowed);
  END LOOP;
END $$;

-- What the agent's renewal writes, and nothing more: it reads the records (which certificates it
-- renews, their backoff), records a renewal or a failure (an upsert by hostname: INSERT needs the
-- columns it names, ON CONFLICT DO UPDATE the ones it sets) and a revocation (UPDATE). It never
-- deletes a record and never changes a host name. Its audit rows are covered by 018's grant.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    GRANT SELECT ON admin_certificates TO tenantctl_agent;
    GRANT INSERT (hostname, customer_id, kind, names, not_before, not_after, issuer, serial, issued_at, last_attempt_at, last_error, failures, next_attempt_at, revoked_at)
      ON admin_certificates TO tenantctl_agent;
    GRANT UPDATE (customer_id, kind, names, not_before, not_after, issuer, serial, issued_at, last_attempt_at, last_error, failures, next_attempt_at, revoked_at)
      ON admin_certificates TO tenantctl_agent;
  END IF;
END $$;
