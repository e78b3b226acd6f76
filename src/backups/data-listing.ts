import { createHash } from 'node:crypto';
import { TenantctlError } from '../common/errors.js';

// What a file-level physical backup proves of its data snapshot without reading its gigabytes
// back: restic's tree of the snapshot (`restic ls --json`, tree blobs only) lists exactly as many
// files and bytes as restic reported reading, the cluster's own files are there, and the listing's
// SHA-256 ("<path> <size>" lines, byte-sorted) is recorded in the manifest. A restore computes the
// same listing of what it staged (listingCheckScript) and refuses to swap anything else in.
// Pure: unit-tested with restic's output.

export interface DataListing {
  files: number;
  bytes: number;
  /** SHA-256 of the sorted "<relative path> <size>\n" lines. */
  sha256: string;
  paths: Set<string>;
}

/** The files under `root` in `restic ls --json` output (one JSON document per line). */
export function listingOf(lsJson: string, root: string): DataListing {
  const prefix = `${root.replace(/\/+$/, '')}/`;
  const lines: string[] = [];
  const paths = new Set<string>();
  let bytes = 0;
  for (const raw of lsJson.split('\n')) {
    const text = raw.trim();
    if (!text.startsWith('{')) continue;
    let node: { struct_type?: string; type?: string; path?: string; size?: number };
    try {
      node = JSON.parse(text);
    } catch {
      throw new TenantctlError('repository', `restic ls printed a line that is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
    }
    if (node.struct_type !== 'node' || node.type !== 'file' || typeof node.path !== 'string' || !node.path.startsWith(prefix)) continue;
    const rel = node.path.slice(prefix.length);
    const size = Number(node.size ?? 0);
    if (/[\n\r]/.test(rel)) throw new TenantctlError('repository', `the data directory holds a file name tenantctl cannot list: ${JSON.stringify(rel)}`);
    lines.push(`${rel} ${size}\n`);
    paths.add(rel);
    bytes += size;
  }
  return { files: lines.length, bytes, sha256: listingSha256(lines), paths };
}

/** The listing's hash: lines sorted by their bytes (as `LC_ALL=C sort` does; the names are ASCII). */
export function listingSha256(lines: string[]): string {
  const sorted = [...lines].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  return createHash('sha256').update(sorted.join('')).digest('hex');
}

/** Why a snapshot's listing is not the backup restic reported (undefined: it is). */
export function listingProblem(listing: DataListing, reported: { files: number; bytes: number }): string | undefined {
  if (listing.files !== reported.files || listing.bytes !== reported.bytes) {
    return `the snapshot lists ${listing.files} files of ${listing.bytes} bytes, and restic reported reading ${reported.files} files of ${reported.bytes} bytes`;
  }
  for (const needed of ['PG_VERSION', 'global/pg_control']) if (!listing.paths.has(needed)) return `the snapshot has no ${needed}: not a PostgreSQL data directory`;
  for (const never of ['postmaster.pid', 'backup_label']) if (listing.paths.has(never)) return `the snapshot holds ${never}, which a backup leaves out`;
  return undefined;
}

/** sh: the staged files' listing (as listingOf makes it) must hash to `sha256`, else exit 3. */
export function listingCheckScript(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new TenantctlError('internal', 'not a SHA-256');
  return [
    'got="$(cd "$STAGED" && find . -type f -printf \'%P %s\\n\' | LC_ALL=C sort | sha256sum | cut -d " " -f 1)"',
    `[ "$got" = "${sha256}" ] || { echo "the files staged from the repository are not the ones the backup listed (listing SHA-256 $got, recorded ${sha256}): restic check tells what is damaged" >&2; exit 3; }`,
  ].join('\n');
}
