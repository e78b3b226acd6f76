import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { redisCopyTimeoutMs } from '../common/timeouts.js';
import { dockerFromFile } from '../engine/docker-stream.js';
import type { Piece } from './pieces.js';

// The state kept as files in a named volume (redis, sqlite, volume pieces): a restore writes the
// backup's files beside the live ones (INCOMING), then, with the service stopped, sets the live
// ones aside (ASIDE, marked .complete once they all are) and moves the new ones into place; an undo
// puts the live ones back from whatever is there; once the restored tenant is proven, what was set
// aside goes. Every step runs in a short-lived container of the service's own image, on the volume
// (--network none), and looks at what is there first, so it may run more than once. The folders
// are named after the operation and the piece, so two pieces on one volume never meet.

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

/**
 * The piece's entries as a shell word list (names are checked by the template schema: letters,
 * digits, ".", "_", "-", "/"), or the live top level of the volume for a whole-volume piece.
 */
function entriesScript(piece: Piece, dir = '.'): string {
  if (piece.entries === '*') return `$(cd ${dir} && find . -mindepth 1 -maxdepth 1 ! -name '.tenantctl-*' | sed 's|^\\./||')`;
  return (piece.entries ?? []).join(' ');
}

/**
 * Runs `script` (sh, set -eu, in the volume's root, with $ASIDE, $INCOMING and $KEPT set) in a
 * container of `image` with the piece's volume; `input`, if given, is its stdin. Returns stdout.
 */
export async function inPieceVolume(
  ctx: Context, piece: Piece, where: { volume: string; image: string; tenant: string }, names: FileNames, script: string, what: string, input?: string,
): Promise<string> {
  const argv = ['run', '--rm', '-i', '--network', 'none', '--user', '0', '--label', `tenantctl.restore=${where.tenant}`,
    '-e', `ASIDE=${names.aside}`, '-e', `INCOMING=${names.incoming}`, '-e', `KEPT=${names.kept}`,
    '-v', `${where.volume}:/v`, '--entrypoint', 'sh', where.image, '-c', `set -eu\ncd /v\n${script}`];
  const result = input === undefined
    ? await ctx.dockerHost.run(['docker', ...argv], { timeoutMs: redisCopyTimeoutMs, signal: ctx.signal })
    : await dockerFromFile(ctx.dockerHost, argv, input, { timeoutMs: redisCopyTimeoutMs, signal: ctx.signal });
  if (result.exitCode !== 0) throw new TenantctlError('docker', `${what} (state piece ${piece.name}, volume ${where.volume}) failed (exit ${result.exitCode}): ${lastErrorLine(result.stderrTail)}`);
  return result.stdout;
}

/** Writes the backup's files of the piece into $INCOMING, beside the live ones (the service may run), owned like the volume. */
export function stageScript(piece: Piece): string {
  const own = 'chown -R "$(stat -c %u:%g .)" "$INCOMING"';
  const fresh = 'rm -rf "$INCOMING" && mkdir -p "$INCOMING"';
  if (piece.kind === 'redis') {
    // As the append-only file's base (Redis runs with appendonly yes) and as dump.rdb.
    return [
      fresh, 'mkdir -p "$INCOMING/appendonlydir"',
      'cat > "$INCOMING/appendonlydir/appendonly.aof.1.base.rdb"',
      ': > "$INCOMING/appendonlydir/appendonly.aof.1.incr.aof"',
      'printf "file appendonly.aof.1.base.rdb seq 1 type b\\nfile appendonly.aof.1.incr.aof seq 1 type i\\n" > "$INCOMING/appendonlydir/appendonly.aof.manifest"',
      'cp "$INCOMING/appendonlydir/appendonly.aof.1.base.rdb" "$INCOMING/dump.rdb"',
      own,
    ].join('\n');
  }
  if (piece.kind === 'sqlite') {
    const file = (piece.entries as string[])[0]!;
    return [fresh, `mkdir -p "$INCOMING/$(dirname ${file})"`, `cat > "$INCOMING/${file}"`, own].join('\n');
  }
  return [fresh, 'tar -C "$INCOMING" -xf -', own].join('\n');
}

/**
 * With the service stopped: the live entries into $ASIDE (then .complete), the staged ones into
 * place. Run again after a kill it goes on from where it was: once $ASIDE is complete, what is live
 * is the backup's and is never set aside again; with nothing left staged, it is done.
 */
export function swapScript(piece: Piece): string {
  return [
    'if [ ! -e "$ASIDE/.complete" ]; then',
    '  [ -d "$INCOMING" ] || { echo "nothing staged in $INCOMING" >&2; exit 3; }',
    '  mkdir -p "$ASIDE"',
    `  for f in ${entriesScript(piece)}; do if [ -e "$f" ]; then mkdir -p "$ASIDE/$(dirname "$f")" && mv "$f" "$ASIDE/$f"; fi; done`,
    '  touch "$ASIDE/.complete"',
    'fi',
    'if [ -d "$INCOMING" ]; then',
    `  for f in ${entriesScript(piece, '"$INCOMING"')}; do if [ -e "$INCOMING/$f" ]; then mkdir -p "$(dirname "$f")" && mv "$INCOMING/$f" "$f"; fi; done`,
    '  rm -rf "$INCOMING"',
    'fi',
  ].join('\n');
}

/**
 * The live entries back from $ASIDE. What is in their place is the restore's (the backup's files,
 * or written since by the restored stack): dropped, or kept in $KEPT (`keep`). Before $ASIDE was
 * complete nothing of the backup had moved in, so the live entries left in place are the tenant's
 * own and stay. Prints "kept" when $KEPT holds something.
 */
export function putBackScript(piece: Piece, keep: boolean): string {
  const drop = keep ? 'mkdir -p "$KEPT/$(dirname "$f")" && mv "$f" "$KEPT/$f"' : 'rm -rf "$f"';
  const asideEntries = piece.entries === '*' ? '$(cd "$ASIDE" && find . -mindepth 1 -maxdepth 1 ! -name .complete | sed \'s|^\\./||\')' : (piece.entries ?? []).join(' ');
  return [
    'if [ -d "$ASIDE" ]; then',
    '  if [ -e "$ASIDE/.complete" ]; then',
    `    for f in ${entriesScript(piece)}; do if [ -e "$f" ]; then ${drop}; fi; done`,
    '  fi',
    `  for f in ${asideEntries}; do if [ -e "$ASIDE/$f" ]; then mkdir -p "$(dirname "$f")" && mv "$ASIDE/$f" "$f"; fi; done`,
    '  rm -rf "$ASIDE"',
    'fi',
    'rm -rf "$INCOMING"',
    'if [ -d "$KEPT" ]; then echo kept; fi',
  ].join('\n');
}

/** Whether anything of the restore is in the volume (staged, set aside, kept): prints staged/aside/kept. */
export const lookScript = 'if [ -e "$INCOMING" ]; then echo staged; fi; if [ -e "$ASIDE" ]; then echo aside; fi; if [ -d "$KEPT" ]; then echo kept; fi';

/** Once the restored tenant is proven: what was set aside and anything staged go. */
export const dropScript = 'rm -rf "$ASIDE" "$INCOMING"';
