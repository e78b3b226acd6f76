-- Point-in-time recovery (issue 23, src/pitr/incarnation.ts): a base backup records the incarnation
-- of the PostgreSQL cluster it copies, a random id tenantctl keeps in the cluster's data directory
-- (`tenantctl-incarnation`, made at its first shipment or base backup; a physical copy keeps it, a
-- database made anew has none and gets a new one). WAL batches carry it as a restic tag
-- (incarnation=<id>) and in their in-flight entries (028's jsonb). A to-time restore replays only WAL
-- of its base's incarnation and refuses a target in another one. PostgreSQL's system identifier
-- cannot serve: tenantctl/postgres runs initdb when it is built, so every tenant shares one (the
-- reason migration 034 was dropped). NULL: a row recorded before this migration (its base takes the
-- batches as before: see wal-for-base.ts). The agent inserts rows (023's table-wide INSERT covers the
-- new column): no grant needed.
ALTER TABLE admin_pitr_base_backups
  ADD COLUMN incarnation text CHECK (incarnation ~ '^[0-9a-f]{32}$');
