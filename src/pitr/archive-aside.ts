import type { Context } from '../context.js';
import { asideFolder } from './archive.js';
import { inDataVolume, type VolumeWhere } from './volume-steps.js';

// A to-time (or physical) restore swaps one cluster for another in the same archive volume: the
// live one keeps archiving until it stops, and the restored one (on a new timeline, or, undone, put
// back) archives after. The next shipment tags what it finds in the volume's root with the running
// cluster's incarnation, and an earlier cluster's segments can bear the same names as its own: tagged
// with its id they would overwrite its own in a later restore's WAL folder. So what a stopped cluster
// left is moved aside, into a folder named after its incarnation (archive.ts asideFolder), which
// shipWal ships under that id. Run only while the tenant's database service is stopped (nothing
// archives), in a helper with the archive volume at /v; from any point it was stopped at it may run again.

/** The volume root's files (what the stopped cluster archived) into its aside folder; a copy in progress (.part) is dropped: its cluster archives it again if it runs again. */
export function setAsideScript(incarnation: string): string {
  const folder = asideFolder(incarnation);
  return [
    'rm -f ./*.part',
    'if [ -n "$(find . -mindepth 1 -maxdepth 1 -type f)" ]; then',
    `  mkdir -p ${folder}`,
    `  chown "$(stat -c %u:%g .)" ${folder}`,
    `  chmod 0700 ${folder}`,
    `  find . -mindepth 1 -maxdepth 1 -type f -exec mv -f -t ${folder} -- {} +`,
    'fi',
  ].join('\n');
}

export async function setAsideArchive(ctx: Context, where: VolumeWhere, archiveVolume: string, incarnation: string): Promise<void> {
  ctx.reporter.step(`setting aside the WAL incarnation ${incarnation.slice(0, 8)} of ${where.tenant} archived, to ship under its own id`);
  await inDataVolume(ctx, { ...where, volume: archiveVolume }, setAsideScript(incarnation), `setting aside the WAL of incarnation ${incarnation.slice(0, 8)}`);
}
