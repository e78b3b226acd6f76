import { parse } from 'yaml';
import type { Context } from '../context.js';
import type { DockerHost } from '../engine/docker-host.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { dockerQueryTimeoutMs, dumpRestoreTimeoutMs } from '../common/timeouts.js';
import { tmpfsOverImageVolumes } from '../engine/docker.js';
import { stackContainer } from '../backups/containers.js';
import { namedVolumeMounts } from '../templates/volume-mounts.js';
import type { DeployedImage } from '../tenants/deployments.js';
import { movedIds, movesProblem, noMoves, reownArgs, reownScript, reversed, sameMoves, type IdMoves } from './service-users.js';

// An upgrade whose new image runs its service as other numbers (tenantctl's images moved their users
// from Debian's low system uids to fixed high ones: README, "Service users") hands the service's
// volumes to the new numbers before the new containers start, and a rollback hands them back:
//   plan     for each service whose image changes and that mounts named volumes, the users and
//            groups the two images have under different numbers (service-users.ts); recorded in
//            the upgrade's journal entry before anything changes
//   reown    those services stopped (their containers stay, the rollback's state), then a helper
//            container per volume gives the files of each old number to its new one, and only those
//            (`find -uid OLD -exec chown NEW`): a file of any other owner keeps it; journal step
//            `reowned`, pause point upgrade:reowned
//   back     a rollback (or the next command after a killed run) stops the same services and runs
//            the same helper the other way, then brings the last good state up
// The helper runs from the image the service ran before (it is on the engine holding the volume, a
// swarm node too, kept there by the rollback pins), as root with CHOWN and DAC_READ_SEARCH only, no
// network; named after the volume, so a helper a killed run left is removed before the next one.

/** One volume's change of owners, as the journal keeps it. */
export interface VolumeReown {
  /** The volume's name on the engine holding the containers. */
  volume: string;
  /** The services that mount it: stopped while it changes owners. */
  services: string[];
  /** The image id the helper runs from: the one the services ran before the upgrade. */
  image: string;
  moves: IdMoves;
}

/** Both images' /etc/passwd and /etc/group, in one short container without network, as nobody. */
async function accountsOf(host: DockerHost, image: string, signal: AbortSignal): Promise<string> {
  return host.docker(['run', '--rm', '--network', 'none', '--user', '65534:65534', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    ...await tmpfsOverImageVolumes(host, image, signal), '--entrypoint', 'cat', image, '/etc/passwd', '/etc/group'], { signal, timeoutMs: dockerQueryTimeoutMs });
}

/**
 * What the upgrade must re-own: for every service whose image id changes and whose container mounts
 * named volumes, the moves between the two images' users. An image whose accounts cannot be read
 * (no cat in it) is said and left out: its volumes keep their owners, as before this step existed.
 * Refused before anything changes (exit 2): moves that cannot be one pass, and a volume two
 * services would move differently.
 */
export async function planReown(
  ctx: Context, where: { containers: DockerHost; imageSource: DockerHost }, id: string, project: string,
  running: Record<string, DeployedImage>, wanted: Record<string, string>, current: string,
): Promise<VolumeReown[]> {
  // Only services the running file gives named volumes are looked at (an app-only upgrade asks nothing more).
  const mounting = new Set(namedVolumeMounts((parse(current, { merge: true, maxAliasCount: -1 }) ?? {}) as Record<string, unknown>).map((m) => m.service));
  const byVolume = new Map<string, VolumeReown>();
  for (const service of Object.keys(running).sort()) {
    const from = running[service]?.id;
    const to = wanted[service];
    if (!from || !to || from === to || !mounting.has(service)) continue;
    const container = await stackContainer(where.containers, project, service, ctx.signal);
    const volumes = Object.values(container?.volumes ?? {});
    if (volumes.length === 0) continue;
    let moves: IdMoves;
    try {
      moves = movedIds(await accountsOf(where.containers, from, ctx.signal), await accountsOf(where.imageSource, to, ctx.signal));
    } catch (error) {
      if (error instanceof TenantctlError && error.kind === 'interrupted') throw error;
      ctx.reporter.info(`${id}: could not read the users of ${service}'s images (${messageOf(error)}); its volumes keep their owners`);
      continue;
    }
    if (noMoves(moves)) continue;
    const problem = movesProblem(moves);
    if (problem) throw usageError(`${id}: ${service}'s new image moves its users so that its volumes cannot be handed over in one pass: ${problem}; nothing was changed`);
    for (const volume of [...new Set(volumes)].sort()) {
      const seen = byVolume.get(volume);
      if (!seen) {
        byVolume.set(volume, { volume, services: [service], image: from, moves });
      } else if (sameMoves(seen.moves, moves)) {
        seen.services.push(service);
      } else {
        throw usageError(`${id}: volume ${volume} is mounted by ${seen.services.join(', ')} and ${service}, whose new images move its owners differently; nothing was changed`);
      }
    }
  }
  return [...byVolume.values()];
}

/** What a plan says, for a progress line: "p_db-data (uid postgres 101 -> 70001, gid postgres 103 -> 70001); ...". */
export function describeReown(plan: readonly VolumeReown[], direction: 'forward' | 'back' = 'forward'): string {
  return plan.map((r) => {
    const moves = direction === 'forward' ? r.moves : reversed(r.moves);
    return `${r.volume} (${[...moves.users.map((m) => `uid ${m.name} ${m.from} -> ${m.to}`), ...moves.groups.map((m) => `gid ${m.name} ${m.from} -> ${m.to}`)].join(', ')})`;
  }).join('; ');
}

/**
 * The plan's volumes given to their new owners (`back`: to their old ones), with the services that
 * mount them stopped first (`stop`, the runtime's). Each helper may run again from any point.
 */
export async function reownVolumes(
  c: Context, host: DockerHost, tenant: string, plan: readonly VolumeReown[], direction: 'forward' | 'back',
  stop: (services: string[]) => Promise<void>,
): Promise<void> {
  if (plan.length === 0) return;
  await stop([...new Set(plan.flatMap((r) => r.services))].sort());
  for (const r of plan) {
    const moves = direction === 'forward' ? r.moves : reversed(r.moves);
    const name = `tenantctl-reown-${r.volume}`;
    // A helper a killed run left may still be moving owners: it goes first.
    await host.run(['docker', 'rm', '-f', name], { timeoutMs: 60_000, signal: c.signal });
    // -v would make an empty volume of a name that is gone: the volume must be there.
    const exists = await host.run(['docker', 'volume', 'inspect', '--format', '{{.Name}}', r.volume], { timeoutMs: dockerQueryTimeoutMs, signal: c.signal });
    if (exists.exitCode !== 0) throw new TenantctlError('docker', `volume ${r.volume} of ${tenant} is not on ${host.id}: ${lastErrorLine(exists.stderrTail)}`);
    const result = await host.run(['docker', 'run', '--rm', '--name', name, '--network', 'none', '--user', '0',
      '--cap-drop', 'ALL', '--cap-add', 'CHOWN', '--cap-add', 'DAC_READ_SEARCH', '--security-opt', 'no-new-privileges',
      '--label', `tenantctl.upgrade=${tenant}`, '-v', `${r.volume}:/v`, ...await tmpfsOverImageVolumes(host, r.image, c.signal),
      '--entrypoint', 'sh', r.image, '-c', reownScript, 'reown', ...reownArgs(moves)], { timeoutMs: dumpRestoreTimeoutMs, signal: c.signal });
    if (result.cancelled) throw new TenantctlError('interrupted', `giving volume ${r.volume} of ${tenant} to its ${direction === 'forward' ? 'new' : 'old'} owners was interrupted`);
    if (result.exitCode !== 0) throw new TenantctlError('docker', `giving volume ${r.volume} of ${tenant} to its ${direction === 'forward' ? 'new' : 'old'} owners failed (exit ${result.exitCode}): ${lastErrorLine(result.stderrTail)}`);
  }
}
