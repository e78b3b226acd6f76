-- restic prune once per repository per interval (issue 23, src/repository/prune-interval.ts):
-- `restic prune` reads the whole repository's index and repacks; run after every forget of every
-- tenant's retention it is the expensive part of a fleet on one repository. A forget now records
-- that a prune is owed (owed_since) before it runs, under the repository's exclusive hold; the
-- prune runs when the last one is older than backups.pruneIntervalMinutes, and records when it ran.
-- One row per repository, keyed like the sealed password (repositoryKey: a hash of its URL);
-- `repository` is its display form (credentials masked), for `repository status`.
CREATE TABLE admin_repository_prunes (
  repository_key  text PRIMARY KEY,
  repository      text NOT NULL,
  -- forgets happened since the last prune (their data is still stored): a prune is owed
  owed_since      timestamptz,
  pruned_at       timestamptz,
  -- how long the last prune took, for `repository status`
  prune_ms        integer CHECK (prune_ms IS NULL OR prune_ms >= 0)
);

-- The agent applies backup retention and PITR retention (their forgets and prunes): it reads and
-- writes this bookkeeping, and nothing else of this migration's.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    GRANT SELECT, INSERT, UPDATE ON admin_repository_prunes TO tenantctl_agent;
  END IF;
END $$;
