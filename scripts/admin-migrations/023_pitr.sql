-- Point-in-time recovery (issue 23, src/pitr/): a PITR tenant's PostgreSQL archives WAL into its
-- archive volume, tenantctl ships the segments into the backup repository and `backup` takes a
-- physical base backup there; `restore <id> --to-time` replays to a moment (journaled: verb
-- 'pitr-restore').
--
-- The check on admin_operations.verb gains 'pitr-restore', rebuilt from its current definition
-- (every value it allows now, plus ours), as 019 does, so another branch's values stay.
DO $$
DECLARE
  c record;
  allowed text;
BEGIN
  FOR c IN
    SELECT x.conname, x.conrelid::regclass AS tbl, col, extra
    FROM (VALUES ('admin_operations', 'verb', 'pitr-restore')) AS w(tbl, col, extra)
    JOIN pg_constraint x ON x.conrelid = w.tbl::regclass AND x.contype = 'c' AND pg_get_constraintdef(x.oid) ~ ('\m' || w.col || '\M')
  LOOP
    SELECT string_agg(quote_literal(v), ', ' ORDER BY v) INTO allowed FROM (
      SELECT m[1] AS v FROM regexp_matches((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = c.conname AND conrelid = c.tbl), '''([a-z-]+)''', 'g') AS m
      UNION SELECT c.extra
    ) values_allowed;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IN (%s))', c.tbl, c.conname, c.col, allowed);
  END LOOP;
END $$;

-- Physical base backups in the repository: a to-time restore starts from the newest one completed
-- before its target (recovery cannot stop before a base backup's end). completed_at is taken after
-- pg_basebackup returned, so it is never earlier than the backup's real end.
CREATE TABLE admin_pitr_base_backups (
  snapshot_id   text PRIMARY KEY,
  customer_id   text NOT NULL REFERENCES admin_customers (id),
  repository    text NOT NULL,
  started_at    timestamptz NOT NULL,
  completed_at  timestamptz NOT NULL,
  bytes         bigint NOT NULL
);
CREATE INDEX admin_pitr_base_backups_customer ON admin_pitr_base_backups (customer_id, completed_at DESC);

-- Shipping state per tenant, for `status` (archive lag) and metrics: the newest segment in the
-- repository and when PostgreSQL archived it, when the last shipment ran, and how many archived
-- segments were waiting in the volume after it.
CREATE TABLE admin_wal_shipping (
  customer_id          text PRIMARY KEY REFERENCES admin_customers (id),
  newest_segment       text,
  newest_archived_at   timestamptz,
  shipped_at           timestamptz,
  segments_shipped     bigint NOT NULL DEFAULT 0,
  waiting              integer NOT NULL DEFAULT 0,
  last_error           text,
  checked_at           timestamptz NOT NULL DEFAULT now()
);

-- The agent ships WAL on its loop (it writes the shipping state) and takes the base backups of its
-- scheduled backups (it records them; it never changes or removes one). A to-time restore is an
-- operator's verb: the agent needs nothing else of this migration's.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    GRANT SELECT, INSERT, UPDATE ON admin_wal_shipping TO tenantctl_agent;
    GRANT SELECT, INSERT ON admin_pitr_base_backups TO tenantctl_agent;
  END IF;
END $$;
