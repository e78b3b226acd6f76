-- Issue 23, part 3: the admin database backed up into the backup repository, and `tenantctl recover`.
--
-- A schedule kind 'admin-backup' (agent.adminBackupSchedule): the agent of the host where the admin
-- database runs dumps it into the repository. And an operation verb 'recover': one journal row per
-- tenant that `tenantctl recover` brings back (its intent, then each step), so that a recover killed
-- half-way and run again finishes every tenant once, and never makes one twice.
--
-- Other migrations of this round also widen these two CHECK lists. Each list is widened here from the
-- constraint as it stands (never re-listed by hand), so the order migrations run in loses no value.
DO $$
DECLARE
  current text;
  wanted text[];
BEGIN
  SELECT pg_get_constraintdef(oid) INTO current FROM pg_constraint WHERE conname = 'admin_operations_verb_check';
  SELECT array_agg(DISTINCT m[1]) INTO wanted FROM regexp_matches(current, '''([a-z-]+)''', 'g') AS m;
  wanted := array(SELECT DISTINCT unnest(wanted || ARRAY['recover']) ORDER BY 1);
  ALTER TABLE admin_operations DROP CONSTRAINT admin_operations_verb_check;
  EXECUTE format('ALTER TABLE admin_operations ADD CONSTRAINT admin_operations_verb_check CHECK (verb = ANY (%L::text[]))', wanted);

  SELECT pg_get_constraintdef(oid) INTO current FROM pg_constraint WHERE conname = 'admin_schedules_kind_check';
  SELECT array_agg(DISTINCT m[1]) INTO wanted FROM regexp_matches(current, '''([a-z-]+)''', 'g') AS m;
  wanted := array(SELECT DISTINCT unnest(wanted || ARRAY['admin-backup']) ORDER BY 1);
  ALTER TABLE admin_schedules DROP CONSTRAINT admin_schedules_kind_check;
  EXECUTE format('ALTER TABLE admin_schedules ADD CONSTRAINT admin_schedules_kind_check CHECK (kind = ANY (%L::text[]))', wanted);
END $$;
