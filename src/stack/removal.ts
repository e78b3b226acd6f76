import { existsSync } from 'node:fs';
import type { KeptVolumes } from '../swarm/swarm-stack.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { composeDownTimeoutMs, leftoverRemovalMs } from '../common/timeouts.js';
import { systemClock } from '../common/clock.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import type { DockerHost } from '../engine/docker-host.js';
import type { ComposeTarget } from './compose-argv.js';
import { composeOn } from './compose.js';
import { objectsByLabel, removeObjects, type LabelledObjects } from '../engine/docker.js';
import { reapOrphans } from './orphans.js';
import { anonymousVolumesOf, removeAnonymousVolumes } from './anonymous-volumes.js';
import { removePins } from './rollback-pins.js';

export interface RemovalReport {
  containers: number;
  networks: number;
  volumes: number;
  keptVolumes: string[];
  /** On a swarm: the kept volumes per node (recorded with the tenant; not part of the command's output). */
  keptOn?: KeptVolumes[];
}

export const projectLabel = (project: string) => `com.docker.compose.project=${project}`;

/**
 * Removes a compose project's stack and proves it is gone: a compose a killed tenantctl left
 * running on the project is waited for (or stopped) first, as it would go on creating what is
 * being removed (orphans.ts); then compose down (the orderly way, when its files are still there);
 * then whatever still carries the project's label is removed directly (a crashed run can leave
 * objects compose no longer knows about), until Docker shows nothing left. Runs without the
 * command's abort signal: a rollback must finish even after Ctrl-C.
 */
export async function removeStack(
  host: DockerHost,
  target: ComposeTarget,
  { keepData, onProgress, onComposeFailure }: { keepData: boolean; onProgress?: (line: string) => void; onComposeFailure?: (message: string) => void },
): Promise<RemovalReport> {
  await reapOrphans(host, target.project, onProgress);
  if (host.kind === 'swarm') {
    // A stack: removed through the manager, its containers and volumes on every node.
    // Kept data stays on its node's volumes; the next deploy of the stack goes to that node.
    const { removeSwarmTenant } = await import('../swarm/swarm-stack.js');
    const removed = await removeSwarmTenant(host, target.project, { clock: systemClock, deadlineMs: composeDownTimeoutMs, keepVolumes: keepData });
    return { containers: removed.services, networks: 1, volumes: Object.values(removed.volumes).reduce((a, b) => a + b, 0), keptVolumes: removed.kept, keptOn: removed.keptOn };
  }
  const label = projectLabel(target.project);
  const before = await objectsByLabel(host, label);
  // Listed while the containers still hold them: they carry no label of the project (anonymous-volumes.ts).
  const anonymous = keepData ? [] : await anonymousVolumesOf(host, before.containers, target.file);
  if (existsSync(target.file) && (!target.envFile || existsSync(target.envFile))) {
    const compose = await composeOn(host);
    await compose
      .down(target, { removeVolumes: !keepData, timeoutMs: composeDownTimeoutMs, onProgress })
      .catch((error) => onComposeFailure?.(`compose down reported: ${(error as Error).message}; removing by label instead`));
  }
  // Removed by label, and again while Docker still shows something: the last requests of a killed
  // run's compose can still land meanwhile (an engine carries out a create it has received even
  // when its client is gone), as an object that was not there a moment ago or "volume is in use".
  const after = await retryUntilDeadline(async () => {
    const left = await objectsByLabel(host, label);
    if (!describeLeftovers(left, keepData)) return done(left);
    try {
      await removeObjects(host, left, { volumes: !keepData });
    } catch (error) {
      return notYet(messageOf(error));
    }
    const now = await objectsByLabel(host, label);
    const still = describeLeftovers(now, keepData);
    return still ? notYet(`${still} still present`) : done(now);
  }, {
    what: `removing what is left of ${target.project}`,
    deadlineMs: leftoverRemovalMs,
    onDeadline: (why) => new TenantctlError('docker', `could not remove everything of ${target.project}: ${why}`),
  });
  // No container of the project is left: the anonymous volumes it had go too (compose down -v
  // misses those a recreated container inherited). --keep-data keeps them, as compose does.
  const anonymousRemoved = await removeAnonymousVolumes(host, anonymous, onProgress);
  // The stack is gone: the tags that kept its last good images for a rollback go too.
  await removePins(host, target.project);
  return {
    containers: before.containers.length,
    networks: before.networks.length,
    volumes: keepData ? 0 : before.volumes.length + anonymousRemoved,
    keptVolumes: keepData ? after.volumes : [],
  };
}

function describeLeftovers(objects: LabelledObjects, keepData: boolean): string {
  const parts: string[] = [];
  if (objects.containers.length) parts.push(`containers ${objects.containers.join(' ')}`);
  if (objects.networks.length) parts.push(`networks ${objects.networks.join(' ')}`);
  if (!keepData && objects.volumes.length) parts.push(`volumes ${objects.volumes.join(' ')}`);
  return parts.join(', ');
}
