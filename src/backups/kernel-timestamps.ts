// Whether restic's "unchanged" test (size, mtime, ctime, inode as in the parent snapshot) is safe for a
// live PostgreSQL data directory on this kernel. Before Linux 6.13 file timestamps are coarse (the
// jiffy, ~4 ms): a write landing after restic stat'ed a file, in the same tick, leaves its mtime and
// ctime unchanged, so the NEXT backup would reuse the stale content while the WAL that repairs it is
// older than that backup's checkpoint and never replayed: a silent loss. 6.13 brought multigrain
// timestamps (a file whose timestamp was read gets a fine-grained one at its next change).

/** The first kernel with multigrain timestamps. */
export const multigrainKernel: readonly [number, number] = [6, 13];

/** Why a kernel (`uname -r`, docker info's KernelVersion) is unsafe for file-level backups, or undefined when it is safe. */
export function coarseTimestampKernel(version: string): string | undefined {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) return `the Docker engine's kernel version ${JSON.stringify(version.trim().slice(0, 60))} is unknown (file-level backups need Linux 6.13 or later: multigrain timestamps)`;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major > multigrainKernel[0] || (major === multigrainKernel[0] && minor >= multigrainKernel[1])) return undefined;
  return `the Docker engine's kernel ${major}.${minor} has coarse file timestamps (before 6.13), so restic could take a file changed during the backup as unchanged at the next one`;
}
