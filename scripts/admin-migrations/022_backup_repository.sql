-- Backups into a restic repository (src/repository/, backups.repository): a backup's pieces and
-- files are snapshots there, not files in backupsDir. `repository` names which repository holds
-- it (a hash of its URL: src/repository/password.ts repositoryKey; NULL for a folder backup),
-- `repository_display` is its location with credentials redacted, `snapshots` maps each file of
-- the backup (piece files, tenant.json, manifest.json) to its restic snapshot id, written as each
-- snapshot is taken (so a killed backup's snapshots are known and forgotten by the next one).
-- The repository's password is sealed in admin_settings (key backup_repository_password:<key>),
-- which the agent already reads (017).
ALTER TABLE admin_backups
  ADD COLUMN repository         text CHECK (repository ~ '^[0-9a-f]{16}$'),
  ADD COLUMN repository_display text,
  ADD COLUMN snapshots          jsonb NOT NULL DEFAULT '{}'::jsonb;
