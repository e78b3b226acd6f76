-- Point-in-time recovery (issue 23, src/pitr/cluster.ts): a base backup records the PostgreSQL
-- cluster it copies, its system identifier (pg_control_system(), a uint64 fixed at initdb and kept
-- by every physical copy), as text (it does not fit a signed bigint in general). WAL batches carry
-- it as a restic tag (system=<id>) and in their in-flight entries (028's jsonb). A to-time restore
-- replays only WAL of its base's cluster, and refuses when another cluster of the tenant (its
-- database made anew by a recover or a restore) was written before the target. NULL: a row recorded
-- before this migration; such a base takes every batch as before, unless the batches since it
-- come from two clusters (then it is refused). The agent inserts rows (023's table-wide INSERT
-- covers the new column): no grant needed.
ALTER TABLE admin_pitr_base_backups
  ADD COLUMN system_identifier text CHECK (system_identifier ~ '^[0-9]{1,20}$');
