import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { dumpRestoreTimeoutMs } from '../common/timeouts.js';
import { tmpfsAt, tmpfsOverImageVolumes } from '../engine/docker.js';
import { dockerPipe, type DockerPipe } from './docker-pipe.js';

// The data volume's side of a to-time restore. Everything happens inside the tenant's own
// PostgreSQL data volume, in a short-lived container of its own image (--network none, as root,
// named after the operation: a step first removes the container a killed run left), so the swap is
// renames on one filesystem, never a copy:
//   .tenantctl-pitr-<n>-data      the base backup, extracted while the tenant still runs
//   .tenantctl-pitr-<n>-wal       the WAL from the repository, read by restore_command
//   .tenantctl-pitr-<n>-replaced  the live data, set aside by the swap (marked .complete once all is)
//   .tenantctl-pitr-<n>-restored  what an undo keeps of a restored server that had started
// Every script looks at what is there and may run again from any point it was stopped at.

export interface VolumeWhere {
  tenant: string;
  volume: string;
  image: string;
  suffix: string;
  /** The data directory's path in the PostgreSQL container (the volume's mount point). */
  dataDir: string;
}

export const pitrNames = (suffix: string) => ({
  staged: `.tenantctl-pitr-${suffix}-data`,
  wal: `.tenantctl-pitr-${suffix}-wal`,
  replaced: `.tenantctl-pitr-${suffix}-replaced`,
  restored: `.tenantctl-pitr-${suffix}-restored`,
});

/** The one helper container of a restore's data-volume steps at a time (a step first removes the one a killed run left). */
export const restoreHelperName = (tenant: string, suffix: string) => `tenantctl-pitr-${tenant}-${suffix}`;
const helperName = (w: VolumeWhere) => restoreHelperName(w.tenant, w.suffix);

async function helperArgs(ctx: Context, w: VolumeWhere, script: string, interactive: boolean): Promise<string[]> {
  const n = pitrNames(w.suffix);
  // The image declares its data directory a VOLUME: without a mount there, each helper got an
  // anonymous volume holding a copy of the image's initialised data directory, which --rm does not
  // always remove (two helpers ending at once leaked one on Docker 20.10, observed in CI). A tmpfs
  // there (the helper works in /v) makes none; so does one over any other VOLUME the image declares.
  const others = await tmpfsOverImageVolumes(ctx.dockerHost, w.image, ctx.signal, ['/v', w.dataDir]);
  return ['run', '--rm', ...(interactive ? ['-i'] : []), '--name', helperName(w), '--network', 'none', '--user', '0', '--label', `tenantctl.restore=${w.tenant}`,
    '-e', `STAGED=${n.staged}`, '-e', `WAL=${n.wal}`, '-e', `REPLACED=${n.replaced}`, '-e', `RESTORED=${n.restored}`,
    '-v', `${w.volume}:/v`, ...tmpfsAt(w.dataDir, 'the data directory'), ...others, '--entrypoint', 'sh', w.image, '-c', `set -eu\ncd /v\n${script}`];
}

/**
 * The helper a killed run left, removed with its anonymous volumes (-v): one an older tenantctl made
 * without the tmpfs has one, which `rm -f` alone keeps.
 */
async function removeLeftHelper(ctx: Context, w: VolumeWhere): Promise<void> {
  await ctx.dockerHost.run(['docker', 'rm', '-fv', helperName(w)], { timeoutMs: 60_000, signal: ctx.signal });
}

/** Runs `script` (sh, in the volume's root) to its end. */
export async function inDataVolume(ctx: Context, w: VolumeWhere, script: string, what: string): Promise<string> {
  await removeLeftHelper(ctx, w);
  const result = await ctx.dockerHost.run(['docker', ...await helperArgs(ctx, w, script, false)], { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal });
  if (result.cancelled) throw new TenantctlError('interrupted', `${what} was interrupted`);
  if (result.exitCode !== 0) throw new TenantctlError('docker', `${what} (volume ${w.volume}) failed (exit ${result.exitCode}): ${lastErrorLine(result.stderrTail)}`);
  return result.stdout;
}

/**
 * A helper reading a tar on its stdin into `dir` (relative to the volume's root), keeping owners and
 * modes; or, with `saveAs`, saving it there as that file unread (its members checked before any is
 * extracted: staged-data-guard.ts).
 */
export async function untarInto(ctx: Context, w: VolumeWhere, dir: 'staged' | 'wal', what: string, strip = 0, saveAs?: 'label-and-wal.tar'): Promise<DockerPipe> {
  await removeLeftHelper(ctx, w);
  const target = dir === 'staged' ? '"$STAGED"' : '"$WAL"';
  const stripArg = Number.isInteger(strip) && strip > 0 ? ` --strip-components=${strip}` : '';
  const script = saveAs ? `mkdir -p ${target}\ncat > ${target}/${saveAs}` : `mkdir -p ${target}\ntar --numeric-owner${stripArg} -C ${target} -xpf -`;
  return dockerPipe(ctx.dockerHost, await helperArgs(ctx, w, script, true), { in: true }, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal, what });
}

/** The free space of the data volume's filesystem: POSIX df's line for the volume root (KiB). */
export const freeSpaceScript = 'df -Pk . | tail -n 1';

/** The bytes available from `df -Pk` output's last line (its 4th column, KiB). */
export function parseDfAvailable(out: string): number {
  const fields = out.trim().split('\n').at(-1)?.trim().split(/\s+/) ?? [];
  const kib = Number(fields[3]);
  if (fields.length < 6 || !Number.isFinite(kib) || kib < 0) throw new TenantctlError('docker', `could not read the data volume's free space from df: ${JSON.stringify(out.trim().slice(0, 200))}`);
  return kib * 1024;
}

/**
 * The room staging needs beside the live data: the base backup and the WAL, plus a margin (a tenth,
 * at least 256 MiB) so the live PostgreSQL, which keeps writing into the same filesystem, never
 * meets a full disk (it PANICs then). Returns the shortfall in bytes, 0 when it fits.
 */
export function stagingShortfall(freeBytes: number, baseBytes: number, walBytes: number): number {
  const need = baseBytes + walBytes;
  const margin = Math.max(256 * 1024 * 1024, Math.ceil(need / 10));
  return Math.max(0, need + margin - freeBytes);
}

/**
 * Everything staged given to the volume root's owner (the data directory's: the server's user now).
 * A base backup or WAL tar keeps the numbers it was made with, and a backup from before the
 * tenant's upgrade to tenantctl's high service uids (README, "Service users") holds files of the
 * old one, which the server, running as the new one, could not read. Every file of a PostgreSQL
 * data directory is its server's, so one owner for all is what it would have made itself.
 */
export const ownStagedScript = 'owner=$(stat -c %u:%g .)\nfind "$STAGED" "$WAL" \\( ! -uid "${owner%:*}" -o ! -gid "${owner#*:}" \\) -exec chown -h "$owner" {} +';

/** Starts the stage afresh: nothing of an earlier try of this operation is kept. */
export const clearStageScript = 'rm -rf "$STAGED" "$WAL"\nmkdir -p "$STAGED" "$WAL"\nchown "$(stat -c %u:%g .)" "$STAGED" "$WAL"\nchmod 0700 "$STAGED" "$WAL"';

/**
 * The staged base backup told to recover: recovery.signal, and the recovery settings appended to its
 * postgresql.auto.conf (read last, so they win; reset with ALTER SYSTEM once promoted).
 */
export function recoverySettingsScript(w: VolumeWhere, targetTime: string): string {
  const walDir = `${w.dataDir}/${pitrNames(w.suffix).wal}`;
  // PostgreSQL's own timestamptz text: its setting refuses ISO 8601's "T" and "Z".
  targetTime = new Date(targetTime).toISOString().replace('T', ' ').replace('Z', '+00');
  if (/['"\\$`]/.test(walDir + targetTime)) throw new TenantctlError('internal', 'unexpected characters in a recovery setting');
  return [
    '[ -s "$STAGED/PG_VERSION" ] || { echo "the base backup was not extracted (no PG_VERSION)" >&2; exit 3; }',
    'rm -f "$STAGED/postmaster.pid" "$STAGED/standby.signal"',
    `printf "%s\\n" "# tenantctl restore --to-time" "restore_command = 'cp ${walDir}/%f %p'" "recovery_target_time = '${targetTime}'" "recovery_target_action = 'promote'" "recovery_target_timeline = 'current'" >> "$STAGED/postgresql.auto.conf"`,
    'touch "$STAGED/recovery.signal"',
    ownStagedScript,
  ].join('\n');
}

/** With the server stopped: the live data aside (then marked), the staged data into the root. */
export const swapScript = [
  'if [ ! -e "$REPLACED/.complete" ]; then',
  '  [ -d "$STAGED" ] || { echo "nothing staged in $STAGED" >&2; exit 3; }',
  '  mkdir -p "$REPLACED"',
  "  find . -mindepth 1 -maxdepth 1 ! -name '.tenantctl-*' -exec mv -t \"$REPLACED\" -- {} +",
  '  touch "$REPLACED/.complete"',
  'fi',
  'if [ -d "$STAGED" ]; then',
  '  find "$STAGED" -mindepth 1 -maxdepth 1 -exec mv -t . -- {} +',
  '  rmdir "$STAGED"',
  'fi',
].join('\n');

/**
 * The live data back. What is in its place is the restore's: dropped, or (the restored server had
 * started and may hold writes) kept in $RESTORED. Prints "kept" when something was kept.
 */
export function putBackScript(keep: boolean): string {
  const drop = keep
    ? "mkdir -p \"$RESTORED\" && find . -mindepth 1 -maxdepth 1 ! -name '.tenantctl-*' -exec mv -t \"$RESTORED\" -- {} +"
    : "find . -mindepth 1 -maxdepth 1 ! -name '.tenantctl-*' -exec rm -rf -- {} +";
  return [
    'if [ -d "$REPLACED" ]; then',
    '  if [ -e "$REPLACED/.complete" ]; then',
    `    ${drop}`,
    '    rm -f "$REPLACED/.complete"',
    '  fi',
    '  find "$REPLACED" -mindepth 1 -maxdepth 1 -exec mv -t . -- {} +',
    '  rmdir "$REPLACED"',
    'fi',
    'rm -rf "$STAGED" "$WAL"',
    'if [ -d "$RESTORED" ]; then echo kept; fi',
  ].join('\n');
}

/** Once the restored server is proven: what was set aside and the WAL copies go. */
export const dropScript = 'rm -rf "$REPLACED" "$STAGED" "$WAL"';
