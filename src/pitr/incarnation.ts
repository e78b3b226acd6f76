import { randomBytes } from 'node:crypto';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { dockerQueryTimeoutMs } from '../common/timeouts.js';
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

/**
 * The extra tag of a WAL batch shipped from an aside folder (archive-aside.ts): WAL of a cluster that
 * had STOPPED when it was shipped (a restore's replaced or undone cluster), so its shipment time says
 * nothing about which database ran then (wal-for-base.ts reads it so).
 */
export const asideTag = 'aside=1';

/** Whether a WAL batch was shipped from an aside folder (asideTag). */
export const shippedAside = (snapshot: Pick<SnapshotSummary, 'tags'>): boolean => (snapshot.tags ?? []).includes(asideTag);

/** The incarnation a snapshot is tagged with, or undefined (shipped or taken before incarnations). */
export function incarnationOf(snapshot: Pick<SnapshotSummary, 'tags'>): string | undefined {
  const tag = (snapshot.tags ?? []).find((t) => t.startsWith('incarnation='))?.slice('incarnation='.length);
  return tag && idPattern.test(tag) ? tag : undefined;
}

/**
 * The id scripts read a few bytes of small local files, but each is a `docker exec`: on a busy host
 * (a swarm being torn down beside it) the daemon alone can take many seconds to start one. As long as
 * any other short docker query (common/timeouts.ts); a container that does not answer in this long
 * fails the shipment, not the agent's whole round.
 */
export const incarnationTimeoutMs = dockerQueryTimeoutMs;

/**
 * Reads (or, only when there is none, makes) the cluster's incarnation. The data directory is the
 * container's $PGDATA (the official image's and tenantctl's, where a PG_VERSION is), so shipping needs
 * no answer from the server; else PostgreSQL is asked for it. The file is read and made as the data
 * directory's owner, never as root: the tenant's superuser owns PGDATA and could plant a symbolic
 * link there. A new one is written beside PGDATA's files as a temporary file (mktemp), synced, renamed
 * into place and the directory synced, so a crash leaves no file or the whole file. A file that is
 * there and does not hold exactly one id (nothing else), or is not a regular file, fails the shipment
 * (its alert follows) and is never replaced: batches may be tagged with what it held, and a new id
 * would cut the database's history in two.
 */
export async function ensureIncarnation(ctx: Context, container: string, anyRole: string): Promise<string> {
  const exec = (argv: string[], what: string, user?: string) => execIn(ctx.dockerHost, container, argv, { signal: ctx.signal, what, user, timeoutMs: incarnationTimeoutMs });
  let found = (await exec(['sh', '-c', dataDirScript, 'incarnation', ''], 'finding the data directory ($PGDATA)')).trim();
  if (found === noPgdata) {
    const dataDir = await superuserSql(ctx, container, anyRole, 'SHOW data_directory', 'asking PostgreSQL for its data directory');
    if (!dataDir.startsWith('/')) throw new TenantctlError('docker', `PostgreSQL named ${JSON.stringify(dataDir.slice(0, 80))} as its data directory`);
    found = (await exec(['sh', '-c', dataDirScript, 'incarnation', dataDir], `finding the data directory ${dataDir}`)).trim();
  }
  const m = /^(\d+:\d+) (\/.*)$/.exec(found);
  if (!m) throw new TenantctlError('docker', `could not find the cluster's data directory and its owner: ${JSON.stringify(found.slice(0, 80))}`);
  const [, owner, dataDir] = m;
  if (owner === '0:0') throw new TenantctlError('docker', `the data directory ${dataDir} is owned by root: tenantctl reads its ${incarnationFile} only as the data directory's owner`);
  const out = await exec(['sh', '-c', incarnationScript, 'incarnation', dataDir!, incarnationFile, randomBytes(16).toString('hex')], `reading the cluster's incarnation (${dataDir}/${incarnationFile})`, owner);
  if (idInFile(out) === undefined) throw new TenantctlError('docker', `the cluster's ${dataDir}/${incarnationFile} holds ${JSON.stringify(out.slice(0, 80))}, not exactly one incarnation id: shipping stops until it is put right (its id is in the tags of the tenant's latest WAL batches: restic snapshots --tag tenant=<id>; a file removed is made anew, which starts a new history)`);
  return idInFile(out)!;
}

/** The id a file's first bytes hold when they are exactly one id (and its newline), else undefined. */
export const idInFile = (head: string): string | undefined => (/^[0-9a-f]{32}\n?$/.test(head) ? head.slice(0, 32) : undefined);

export const noPgdata = 'no-pgdata';

/** $1: the data directory ('': $PGDATA): prints "<uid>:<gid> <dir>" when it holds a cluster, else no-pgdata. */
export const dataDirScript = [
  'd="${1:-${PGDATA:-}}"',
  `if [ -z "$d" ] || [ ! -s "$d/PG_VERSION" ]; then echo ${noPgdata}; exit 0; fi`,
  'printf "%s %s\\n" "$(stat -c %u:%g "$d")" "$d"',
].join('\n');

/**
 * Run as the data directory's owner. $1: the data directory, $2: the file's name, $3: a new id.
 * Prints the file's first 64 bytes (ensureIncarnation checks they are one id); exit 3: not a regular file.
 */
export const incarnationScript = [
  'f="$1/$2"',
  'if [ -L "$f" ]; then echo "$f is a symbolic link" >&2; exit 3; fi',
  'if [ ! -e "$f" ]; then',
  '  rm -f "$f.new" "$f".new.*',
  '  t="$(mktemp "$f.new.XXXXXX")" || exit 1',
  '  printf "%s\\n" "$3" > "$t"',
  '  chmod 0600 "$t"',
  '  sync "$t"',
  '  mv -f "$t" "$f"',
  '  sync "$1"',
  'fi',
  'if [ -L "$f" ] || [ ! -f "$f" ]; then echo "$f is not a regular file" >&2; exit 3; fi',
  'head -c 64 "$f"',
].join('\n');

/**
 * A to-time or physical restore's staged cluster given its incarnation, printed (run in the data
 * volume as root, $STAGED the stage): with `keep`, the base's own when it holds one (an in-place
 * to-time restore continues the base's history, on a new timeline), else `id`, new: a restore --as a
 * new tenant (its history starts there), a physical backup started on its own timeline (it writes
 * again the segment names its cluster went on to write). Known before the restored server starts, so
 * what it archives can be set aside under its own id if the restore is undone.
 */
export function stagedIncarnationScript(id: string, keep: boolean): string {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new TenantctlError('internal', 'not an incarnation id');
  const f = `"$STAGED/${incarnationFile}"`;
  return [
    ...(keep ? [`if [ -f ${f} ] && [ ! -L ${f} ] && [ "$(wc -c < ${f})" -le 33 ] && head -c 32 ${f} | grep -qxE "[0-9a-f]{32}"; then head -c 32 ${f}; echo; exit 0; fi`] : []),
    `rm -f ${f} ${f}.new.*`,
    `printf "%s\\n" ${id} > ${f}`,
    `chown "$(stat -c %u:%g .)" ${f}`,
    `chmod 0600 ${f}`,
    `echo ${id}`,
  ].join('\n');
}
