-- `tenantctl migrate` converting an old tenant's owner role that is still a superuser
-- (src/tenants/owner-role.ts) is a journaled verb, 'owner-conversion': its intent is on record
-- before the first effect (the helper superuser), each step after its effect (helper-made,
-- separated or demoted), and the next command on the tenant finishes a killed run.
--
-- The check on admin_operations.verb gains that value. As in 019 and 025 it is rebuilt from its
-- current definition (every value it allows now, plus ours), so a migration of another branch that
-- added values of its own keeps them. PostgreSQL prints such a check as
-- `x = ANY (ARRAY['a'::text, 'b'::text])` or `x = ANY ('{a,b}'::text[])`: the pattern reads a
-- value after a quote, `{` or `,` in both.
DO $$
DECLARE
  c record;
  allowed text;
BEGIN
  FOR c IN
    SELECT x.conname, x.conrelid::regclass AS tbl, col, extra
    FROM (VALUES ('admin_operations', 'verb', 'owner-conversion')) AS w(tbl, col, extra)
    JOIN pg_constraint x ON x.conrelid = w.tbl::regclass AND x.contype = 'c' AND pg_get_constraintdef(x.oid) ~ ('\m' || w.col || '\M')
  LOOP
    SELECT string_agg(quote_literal(v), ', ' ORDER BY v) INTO allowed FROM (
      SELECT m[1] AS v FROM regexp_matches((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = c.conname AND conrelid = c.tbl), '[''{,]([a-z][a-z0-9-]*)(?=[''},])', 'g') AS m
      UNION SELECT c.extra
    ) values_allowed;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IN (%s))', c.tbl, c.conname, c.col, allowed);
  END LOOP;
END $$;
