import { TenantctlError } from '../common/errors.js';

// The repository is not trusted: anyone with its password can write a snapshot tagged for a tenant,
// and a physical backup (or a PITR base backup) is a whole PostgreSQL data directory that the
// tenant's db container starts as it is. Whatever of it PostgreSQL reads as configuration or runs
// (postgresql.auto.conf's archive_command / ssl_passphrase_command / *_preload_libraries naming a .so
// in the data directory, pg_hba.conf's trust lines, archive_status/*.ready waking the archiver, ssl
// keys, tablespace symlinks) would run as postgres in the new tenant's container, which reads the
// new tenant's secrets. So before the staged directory is swapped in (review C1):
//   - only the names of PostgreSQL 15's data-directory layout stay at its top level (plus tenantctl's
//     own tenantctl-* files, except the image's first-start marker: a restored cluster is set up);
//   - no link, device, fifo or socket anywhere in it, no tablespace, no tablespace_map;
//   - postgresql.conf, postgresql.auto.conf, pg_hba.conf and pg_ident.conf are the live (or freshly
//     provisioned) cluster's own, beside the stage in the same volume; pg_hba.conf starts out with
//     only its `local` lines (the socket), the whole one kept as tenantctl-pg_hba.conf until the
//     restored roles are settled (restored-roles.ts), so no password of the backup's works over TCP;
//   - archive_status and the run-time folders PostgreSQL rebuilds are emptied;
//   - every file is the data directory owner's, without setuid/setgid bits.
// And a file-level backup's label-and-WAL tar brings only backup_label, tablespace_map (empty) and
// WAL segments or timeline history files (its member list checked before anything is extracted).

/** The top-level names of a PostgreSQL 15 data directory (and pg_basebackup's backup_manifest). */
export const pgTopLevelNames: readonly string[] = [
  'base', 'global', 'pg_commit_ts', 'pg_dynshmem', 'pg_logical', 'pg_multixact', 'pg_notify', 'pg_replslot', 'pg_serial',
  'pg_snapshots', 'pg_stat', 'pg_stat_tmp', 'pg_subtrans', 'pg_tblspc', 'pg_twophase', 'PG_VERSION', 'pg_wal', 'pg_xact',
  'postgresql.auto.conf', 'postgresql.conf', 'pg_hba.conf', 'pg_ident.conf', 'backup_label', 'tablespace_map', 'backup_manifest',
];

/** The configuration files taken from the live cluster, never from the backup. */
export const liveConfigFiles: readonly string[] = ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf'];

/** The image's first-start marker (images/postgres/docker-entrypoint.sh): a restored cluster is set up, never "first started". */
export const firstStartMarker = 'tenantctl-first-start';
/** The live pg_hba.conf, kept in the restored data directory until its roles are settled. */
export const heldHbaFile = 'tenantctl-pg_hba.conf';

/** Whether a top-level name of a staged data directory is kept. */
export function keepsTopLevel(name: string): boolean {
  if (name === firstStartMarker) return false;
  return pgTopLevelNames.includes(name) || /^tenantctl-[a-z0-9]/.test(name);
}

/** Folders whose content PostgreSQL rebuilds (pg_basebackup leaves them empty too), and archive_status (a .ready file wakes archive_command). */
export const emptiedFolders: readonly string[] = ['pg_wal/archive_status', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans'];

/** The members a label-and-WAL tar may hold (an optional leading "./"). */
export const walTarMemberPattern = '^(\\./)?(\\.?|backup_label|tablespace_map|pg_wal/?|pg_wal/[0-9A-F]{24}|pg_wal/[0-9A-F]{8}\\.history)$';
export const walTarMemberAllowed = (name: string) => new RegExp(walTarMemberPattern).test(name);

/** The exit of the guard scripts for a refused backup (the caller maps it to the backup being unusable). */
export const refusedExit = 3;

const refuse = (why: string) => `{ echo "${why}" >&2; exit ${refusedExit}; }`;

/**
 * sh in the restore's helper (as root, in the volume's root: the live data directory, the stage at
 * $STAGED). Run once everything is staged, before the swap; may run again.
 */
export function stagedDataGuardScript(): string {
  // case matches the whole name (a newline in it included), unlike a grep of it.
  const keep = pgTopLevelNames.join('|');
  return [
    'S="$STAGED"',
    'owner="$(stat -c %u:%g .)"',
    `bad="$(find "$S" -mindepth 1 ! -type f ! -type d -printf '%P' -quit)"`,
    `[ -z "$bad" ] || ${refuse('the backup holds $bad, which is not a plain file or folder (links, devices, fifos and sockets are refused)')}`,
    `[ -z "$(find "$S/pg_tblspc" -mindepth 1 -print -quit 2>/dev/null)" ] || ${refuse('the backup holds tablespaces (pg_tblspc): a tenant\'s cluster has none')}`,
    `[ ! -s "$S/tablespace_map" ] || ${refuse('the backup has a tablespace_map: a tenant\'s cluster has no tablespaces')}`,
    // Top level: PostgreSQL's layout and tenantctl's own files only (hidden names too).
    'for f in "$S"/* "$S"/.[!.]* "$S"/..?*; do',
    '  [ -e "$f" ] || continue',
    '  name="${f##*/}"',
    `  case "$name" in ${firstStartMarker}) ;; ${keep}|tenantctl-[a-z0-9]*) continue ;; esac`,
    '  rm -rf -- "$f"',
    'done',
    ...emptiedFolders.map((d) => `if [ -d "$S/${d}" ]; then find "$S/${d}" -mindepth 1 -delete; fi`),
    `for f in ${liveConfigFiles.join(' ')}; do`,
    `  [ -f "$f" ] || ${refuse('the live data directory has no $f to give the restored cluster')}`,
    '  cat "$f" > "$S/$f.tenantctl-new" && mv -f "$S/$f.tenantctl-new" "$S/$f"',
    'done',
    // The socket alone until the restored roles are settled; the live file kept to put back then.
    `cat pg_hba.conf > "$S/${heldHbaFile}"`,
    "grep -E '^[[:space:]]*local[[:space:]]' pg_hba.conf > \"$S/pg_hba.conf\" || true",
    'chown -R "$owner" "$S"',
    'chmod -R u+rwX,go-rwx,ug-s "$S"',
  ].join('\n');
}

/**
 * sh in the restore's helper: the label-and-WAL tar at $WAL/label-and-wal.tar (streamed there
 * first), its member list checked (names, then types: plain files and the pg_wal folder only),
 * then extracted into $STAGED. A tablespace_map with content is refused (it makes symlinks).
 */
export function walTarExtractScript(): string {
  return [
    'T="$WAL/label-and-wal.tar"',
    `names="$(tar -tf "$T")" || ${refuse('the label-and-WAL tar does not list')}`,
    `bad="$(printf '%s\\n' "$names" | grep -Evx '${walTarMemberPattern}' | head -n 1 || true)"`,
    `[ -z "$bad" ] || ${refuse('the label-and-WAL tar holds $bad: only backup_label, tablespace_map and pg_wal segments belong there')}`,
    // Types from the verbose listing's first column: "-" a file, "d" a folder (links are "l" and "h").
    `badtype="$(tar -tvf "$T" | cut -c 1 | grep -v '^[-d]$' | head -n 1 || true)"`,
    `[ -z "$badtype" ] || ${refuse('the label-and-WAL tar holds a member that is not a plain file or folder (type $badtype)')}`,
    'X="$WAL/label-and-wal"',
    'rm -rf "$X" && mkdir -p "$X"',
    'tar --numeric-owner --no-same-permissions -C "$X" -xf "$T"',
    `[ -z "$(find "$X" -mindepth 1 ! -type f ! -type d -print -quit)" ] || ${refuse('the label-and-WAL tar made something other than plain files')}`,
    `[ ! -s "$X/tablespace_map" ] || ${refuse('the backup has a tablespace_map: a tenant\'s cluster has no tablespaces')}`,
    'mkdir -p "$STAGED/pg_wal"',
    'for f in backup_label tablespace_map; do if [ -f "$X/$f" ]; then mv -f "$X/$f" "$STAGED/$f"; fi; done',
    'if [ -d "$X/pg_wal" ]; then find "$X/pg_wal" -mindepth 1 -maxdepth 1 -type f -exec mv -f -t "$STAGED/pg_wal" -- {} +; fi',
    'rm -rf "$X" "$T"',
  ].join('\n');
}

/** A guard script's refusal (its exit) as the backup being unusable (exit 2); anything else as it came. */
export function refusalOf(error: unknown, backup: string): unknown {
  if (error instanceof TenantctlError && error.message.includes(`(exit ${refusedExit})`)) {
    const why = error.message.replace(/^.*?failed \(exit \d+\): /, '');
    return new TenantctlError('usage', `backup ${backup} is unusable: ${why}; nothing of it was started`, { cause: error });
  }
  return error;
}
