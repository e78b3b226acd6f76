import { randomBytes } from 'node:crypto';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { execIn } from '../backups/containers.js';
import { superuserSql } from './archive.js';
import type { SnapshotSummary } from './repo.js';

// Which life of a tenant's PostgreSQL cluster a WAL batch or base backup belongs to: its
// incarnation, a random id kept in the data directory (`tenantctl-incarnation`). A tenant whose
// database is made anew (recover, a restore or provision on new volumes, move by dump) starts its WAL
// segment names over (000000010000000000000001...), and the system identifier cannot tell the two
// apart (tenantctl/postgres runs initdb at build: every tenant shares one). The file lives in the
// data directory, so whatever copies the cluster physically copies it (pg_basebackup, so a base
// backup and a to-time restore in place of it: the same history, on a new timeline), and a cluster
// made anew has none. tenantctl writes it, not the image's entrypoint: any image a template names
// gets one, no image rebuild is needed, and a cluster made before incarnations existed gets one at
// its next shipment (or base backup), without a restart. Written under the tenant's shipping lock
// (every shipper, base backup and to-time restore holds it), so no two writers race.

export const incarnationFile = 'tenantctl-incarnation';
const idPattern = /^[0-9a-f]{32}$/;

export const incarnationTag = (id: string) => `incarnation=${id}`;

/** The incarnation a snapshot is tagged with, or undefined (shipped or taken before incarnations). */
export function incarnationOf(snapshot: Pick<SnapshotSummary, 'tags'>): string | undefined {
  const tag = (snapshot.tags ?? []).find((t) => t.startsWith('incarnation='))?.slice('incarnation='.length);
  return tag && idPattern.test(tag) ? tag : undefined;
}

/**
 * Reads (or, when none is there, makes) the cluster's incarnation: written beside PGDATA's files as
 * a temporary file, synced, given the data directory's owner, renamed into place and the directory
 * synced, so a crash leaves the old state or the whole file. A file that does not hold an id (a torn
 * write of an older tenantctl, something else's) is replaced: nothing was tagged with it. The data
 * directory is the container's $PGDATA (the official image's and tenantctl's, where a PG_VERSION is),
 * so shipping needs no answer from the server; else PostgreSQL is asked for it.
 */
export async function ensureIncarnation(ctx: Context, container: string, anyRole: string): Promise<string> {
  const run = (dataDir: string) => execIn(ctx.dockerHost, container, ['sh', '-c', incarnationScript, 'incarnation', dataDir, incarnationFile, randomBytes(16).toString('hex')], { signal: ctx.signal, what: `reading the cluster's incarnation (${dataDir || '$PGDATA'}/${incarnationFile})` });
  let out = (await run('')).trim();
  if (out === noPgdata) {
    const dataDir = await superuserSql(ctx, container, anyRole, 'SHOW data_directory', 'asking PostgreSQL for its data directory');
    if (!dataDir.startsWith('/')) throw new TenantctlError('docker', `PostgreSQL named ${JSON.stringify(dataDir.slice(0, 80))} as its data directory`);
    out = (await run(dataDir)).trim();
  }
  if (!idPattern.test(out)) throw new TenantctlError('docker', `the cluster's ${incarnationFile} holds ${JSON.stringify(out.slice(0, 80))}, not an incarnation id`);
  return out;
}

export const noPgdata = 'no-pgdata';

/** $1: the data directory ('': $PGDATA, if it holds a cluster), $2: the file's name, $3: a new id. */
export const incarnationScript = [
  'd="${1:-${PGDATA:-}}"',
  `if [ -z "$d" ] || [ ! -s "$d/PG_VERSION" ]; then echo ${noPgdata}; exit 0; fi`,
  'f="$d/$2"',
  'if ! grep -qxE "[0-9a-f]{32}" "$f" 2>/dev/null; then',
  '  t="$f.new"',
  '  printf "%s\\n" "$3" > "$t"',
  '  chown "$(stat -c %u:%g "$d")" "$t" 2>/dev/null || true',
  '  chmod 0600 "$t"',
  '  sync "$t"',
  '  mv -f "$t" "$f"',
  '  sync "$d"',
  'fi',
  'cat "$f"',
].join('\n');

/**
 * Staged data that must not carry its source's incarnation: a to-time restore --as a new tenant (its
 * history starts there, and the source's would otherwise be shared), a physical backup started on
 * its own timeline (it would write again the segment names its cluster shipped after the backup).
 * The new cluster gets its own at its first shipment.
 */
export const dropStagedIncarnation = `rm -f "$STAGED/${incarnationFile}" "$STAGED/${incarnationFile}.new"`;
