import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { dumpRestoreTimeoutMs } from '../common/timeouts.js';
import { dockerFromFile, type StreamSource } from '../engine/docker-stream.js';
import { tmpfsAt, tmpfsOverImageVolumes } from '../engine/docker.js';
import type { Piece } from './pieces.js';

// The state kept as files in a named volume (redis, sqlite, volume pieces): a restore writes the
// backup's files beside the live ones (INCOMING), then, with the service stopped, sets the live
// ones aside (ASIDE, marked .complete once they all are) and moves the new ones into place; an undo
// puts the live ones back from whatever is there; once the restored tenant is proven, what was set
// aside goes. Every step runs in a short-lived container of the service's own image, on the volume
// (--network none), named after the operation and the piece: a step first removes a container of
// that name a killed run may have left working, so two never run at once. Every step looks at what
// is there first and may run again from any point it was stopped at. Names are handled as data
// (find -exec, `mv --`): a file named with spaces, newlines or a leading "-" moves like any other.
// The folders are named after the operation and the piece; validation keeps two pieces off one
// volume where one of them is the whole volume.

export interface FileNames {
  aside: string;
  incoming: string;
  /** Where an undo keeps the restored files instead of dropping them (the restored stack has run). */
  kept: string;
}

export const fileNames = (suffix: string, piece: Pick<Piece, 'name'>): FileNames => ({
  aside: `.tenantctl-replaced-${suffix}-${piece.name}`,
  incoming: `.tenantctl-restore-${suffix}-${piece.name}`,
  kept: `.tenantctl-restored-${suffix}-${piece.name}`,
});

/** Inside $ASIDE once every live entry is in it: from then on what is live is the backup's. */
const completeMarker = '.tenantctl-complete';

/**
 * Runs `action` (sh, double quotes only) for each of the piece's entries present in `dir`, with
 * $p its path and $f its name relative to `dir`: the named entries of a redis or sqlite piece
 * (template names, checked by the schema), or every top-level entry of a whole-volume piece but
 * tenantctl's own folders (find -exec: any name at all).
 */
function forEachEntry(piece: Piece, dir: string, action: string, { skip = [] }: { skip?: string[] } = {}): string {
  if (action.includes("'")) throw new Error('an entry action may not hold single quotes');
  if (piece.entries === '*') {
    const excluded = ["! -name '.tenantctl-*'", ...skip.map((name) => `! -name '${name}'`)].join(' ');
    return `find ${dir} -mindepth 1 -maxdepth 1 ${excluded} -exec sh -c 'set -eu; for p; do f=\${p##*/}; ${action}; done' sh {} +`;
  }
  const names = (piece.entries ?? []).map((name) => `'${name}'`).join(' ');
  return `for f in ${names}; do p=${dir}/$f; if [ -e "$p" ] || [ -L "$p" ]; then ${action}; fi; done`;
}

/** The container a step of this operation runs in: one name, so a step killed half-way is removed before the next runs. */
const helperName = (where: { tenant: string }, names: FileNames) => `tenantctl-restore-${where.tenant}-${names.incoming.replace(/^\.tenantctl-restore-/, '')}`;

/**
 * Runs `script` (sh, set -eu, in the volume's root, with $ASIDE, $INCOMING and $KEPT set) in a
 * container of `image` with the piece's volume; `input`, if given, is its stdin. Returns stdout.
 */
export async function inPieceVolume(
  ctx: Context, piece: Piece, where: { volume: string; image: string; tenant: string }, names: FileNames, script: string, what: string, input?: StreamSource,
): Promise<string> {
  const name = helperName(where, names);
  // A helper a killed run left behind may still be moving files: it goes first, with any anonymous
  // volume it has (-v; `rm -f` alone keeps them).
  await ctx.dockerHost.run(['docker', 'rm', '-fv', name], { timeoutMs: 60_000, signal: ctx.signal });
  const argv = ['run', '--rm', '-i', '--name', name, '--network', 'none', '--user', '0', '--label', `tenantctl.restore=${where.tenant}`,
    '-e', `ASIDE=${names.aside}`, '-e', `INCOMING=${names.incoming}`, '-e', `KEPT=${names.kept}`,
    // A tmpfs where the service mounts the volume (its image's VOLUME, as a rule): else the helper got
    // an anonymous volume there, a copy of the image's files, which --rm does not always remove
    // (pitr/volume-steps.ts says when); and over any other VOLUME the image declares.
    '-v', `${where.volume}:/v`, ...(piece.mount && piece.mount !== '/v' ? tmpfsAt(piece.mount, `state piece ${piece.name}'s mount`) : []),
    ...await tmpfsOverImageVolumes(ctx.dockerHost, where.image, ctx.signal, ['/v', ...(piece.mount ? [piece.mount] : [])]), '--entrypoint', 'sh', where.image, '-c', `set -eu\ncd /v\n${script}`];
  const result = input === undefined
    ? await ctx.dockerHost.run(['docker', ...argv], { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal })
    : await dockerFromFile(ctx.dockerHost, argv, input, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal });
  if (result.exitCode !== 0) throw new TenantctlError('docker', `${what} (state piece ${piece.name}, volume ${where.volume}) failed (exit ${result.exitCode}): ${lastErrorLine(result.stderrTail)}`);
  return result.stdout;
}

/**
 * Writes the backup's files of the piece into $INCOMING, beside the live ones (the service may
 * run). A redis piece's files are owned like the volume; a SQLite file like the live one (owner
 * and mode), else like the volume; an archive keeps the owners and modes it was made with, but for
 * its root's owner's files, which take the volume root's owner now (archiveOwnerMoveScript).
 */
export function stageScript(piece: Piece): string {
  const fresh = 'rm -rf "$INCOMING" && mkdir -p "$INCOMING" && chown "$(stat -c %u:%g .)" "$INCOMING"';
  if (piece.kind === 'redis') {
    // As the append-only file's base (Redis runs with appendonly yes) and as dump.rdb.
    return [
      fresh, 'mkdir -p "$INCOMING/appendonlydir"',
      'cat > "$INCOMING/appendonlydir/appendonly.aof.1.base.rdb"',
      ': > "$INCOMING/appendonlydir/appendonly.aof.1.incr.aof"',
      'printf "file appendonly.aof.1.base.rdb seq 1 type b\\nfile appendonly.aof.1.incr.aof seq 1 type i\\n" > "$INCOMING/appendonlydir/appendonly.aof.manifest"',
      'cp "$INCOMING/appendonlydir/appendonly.aof.1.base.rdb" "$INCOMING/dump.rdb"',
      'chown -R "$(stat -c %u:%g .)" "$INCOMING"',
    ].join('\n');
  }
  if (piece.kind === 'sqlite') {
    const file = (piece.entries as string[])[0]!;
    return [
      fresh, `mkdir -p "$INCOMING/$(dirname -- '${file}')"`, `cat > "$INCOMING/${file}"`,
      `like='${file}'; [ -e "$like" ] || like=.`,
      `chown "$(stat -c %u:%g "$like")" "$INCOMING/${file}"`,
      `if [ -f "$like" ]; then chmod "$(stat -c %a "$like")" "$INCOMING/${file}"; else chmod 600 "$INCOMING/${file}"; fi`,
    ].join('\n');
  }
  return [fresh, 'tar --numeric-owner -C "$INCOMING" -xpf -', archiveOwnerMoveScript].join('\n');
}

/**
 * After an archive is extracted: the files of the owner its root had when it was made (its "./"
 * entry, now $INCOMING's) given to the volume root's owner now, and only those; a file of any other
 * owner keeps it. A backup from before the tenant's upgrade to tenantctl's high service uids
 * (README, "Service users") holds the old uid's files, which the service could not read. Never
 * root's files, nor any given to root.
 */
export const archiveOwnerMoveScript = [
  'was_u=$(stat -c %u "$INCOMING"); was_g=$(stat -c %g "$INCOMING"); now_u=$(stat -c %u .); now_g=$(stat -c %g .)',
  'if [ "$was_u" != "$now_u" ] && [ "$was_u" != 0 ] && [ "$now_u" != 0 ]; then find "$INCOMING" -xdev -uid "$was_u" -exec chown -h "$now_u" {} +; fi',
  'if [ "$was_g" != "$now_g" ] && [ "$was_g" != 0 ] && [ "$now_g" != 0 ]; then find "$INCOMING" -xdev -gid "$was_g" -exec chgrp -h "$now_g" {} +; fi',
].join('\n');

/**
 * With the service stopped: the live entries into $ASIDE (then marked complete), the staged ones
 * into place. Run again after a kill it goes on from where it was: once $ASIDE is complete, what is
 * live is the backup's and is never set aside again; with nothing left staged, it is done. A staged
 * entry that could not be moved in fails the step (never dropped).
 */
export function swapScript(piece: Piece): string {
  return [
    `if [ ! -e "$ASIDE/${completeMarker}" ]; then`,
    '  [ -d "$INCOMING" ] || { echo "nothing staged in $INCOMING" >&2; exit 3; }',
    '  mkdir -p "$ASIDE"',
    `  ${forEachEntry(piece, '.', 'mkdir -p "$ASIDE/$(dirname -- "$f")" && mv -- "$p" "$ASIDE/$f"')}`,
    `  touch "$ASIDE/${completeMarker}"`,
    'fi',
    'if [ -d "$INCOMING" ]; then',
    `  ${forEachEntry(piece, '"$INCOMING"', 'mkdir -p "$(dirname -- "$f")" && mv -- "$p" "./$f"')}`,
    '  find "$INCOMING" -depth -mindepth 1 -type d -empty -delete',
    '  rmdir "$INCOMING" || { echo "$INCOMING still holds files that were not moved in" >&2; exit 4; }',
    'fi',
  ].join('\n');
}

/**
 * The live entries back from $ASIDE. What is in their place is the restore's (the backup's files,
 * or written since by the restored stack): dropped, or kept in $KEPT (`keep`). Before $ASIDE was
 * complete nothing of the backup had moved in, so the live entries left in place are the tenant's
 * own and stay. The marker goes as soon as the restore's entries are gone, before anything comes
 * back: a run stopped half-way and run again never takes the tenant's entries it already put back
 * for the restore's. Prints "kept" when $KEPT holds something (owned like the volume's root).
 */
export function putBackScript(piece: Piece, keep: boolean): string {
  const drop = keep ? 'mkdir -p "$KEPT/$(dirname -- "$f")" && mv -- "$p" "$KEPT/$f"' : 'rm -rf -- "$p"';
  return [
    'if [ -d "$ASIDE" ]; then',
    `  if [ -e "$ASIDE/${completeMarker}" ]; then`,
    `    ${forEachEntry(piece, '.', drop)}`,
    `    rm -f "$ASIDE/${completeMarker}"`,
    '  fi',
    `  ${forEachEntry(piece, '"$ASIDE"', 'mkdir -p "$(dirname -- "$f")" && mv -- "$p" "./$f"', { skip: [completeMarker] })}`,
    '  find "$ASIDE" -depth -mindepth 1 -type d -empty -delete',
    '  rmdir "$ASIDE" || { echo "$ASIDE still holds files that were not put back" >&2; exit 4; }',
    'fi',
    'rm -rf "$INCOMING"',
    // Kept for the operator to look at and remove: owned like the volume, so the service's own user
    // (a service that runs as its user from the start has no capability to remove root's files) can.
    'if [ -d "$KEPT" ]; then chown -R "$(stat -c %u:%g .)" "$KEPT"; echo kept; fi',
  ].join('\n');
}

/** Whether anything of the restore is in the volume (staged, set aside, kept): prints staged/aside/kept. */
export const lookScript = 'if [ -e "$INCOMING" ]; then echo staged; fi; if [ -e "$ASIDE" ]; then echo aside; fi; if [ -d "$KEPT" ]; then echo kept; fi';

/** Once the restored tenant is proven: what was set aside and anything staged go. */
export const dropScript = 'rm -rf "$ASIDE" "$INCOMING"';
