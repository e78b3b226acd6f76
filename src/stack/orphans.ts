import { TenantctlError } from '../common/errors.js';
import { reapOrphanedChildren } from '../common/orphan-reaper.js';
import { killGraceMs, killWaitMs, orphanEndWaitMs } from '../common/timeouts.js';
import type { DockerHost } from '../engine/docker-host.js';

/**
 * Waits for, or stops, the compose children of `project` that a tenantctl left running when it was
 * killed (they were started in their own process groups and recorded: see common/grouped-child.ts
 * and common/orphan-reaper.ts), so that nothing of theirs is still creating the stack while it is
 * removed or brought up again. Called before both. Cheap when there is nothing to stop: one
 * readdir. Compose runs on this machine whatever the engine (local, tcp, ssh), so its children are
 * always local processes.
 */
export async function reapOrphans(host: DockerHost, project: string, onProgress?: (line: string) => void): Promise<void> {
  const recordsDir = host.childRecordsDir;
  if (!recordsDir) return;
  const { ended, stopped, stillRunning } = await reapOrphanedChildren(recordsDir, project, { endByItselfMs: orphanEndWaitMs, graceMs: killGraceMs, killWaitMs });
  const left = (child: (typeof ended)[number]) => `\`${child.argv.join(' ')}\` (pid ${child.pid}, started ${child.startedAt}) left running by tenantctl pid ${child.owner.pid}, which has ended`;
  for (const child of ended) onProgress?.(`waited for ${left(child)}`);
  for (const child of stopped) onProgress?.(`stopped ${left(child)}`);
  if (stillRunning.length > 0) {
    const which = stillRunning.map((child) => `pid ${child.pid}`).join(', ');
    throw new TenantctlError('docker', `compose for ${project} left running by an ended tenantctl (${which}) did not stop after SIGKILL within ${killWaitMs / 1000} s; stop it and try again`);
  }
}
