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
import { movedIds, movesProblem, reownArgs, reownScript, reversed, type IdMoves } from './service-users.js';
import { numericUser, planVolumes, userDrift, type PlannedVolume, type ServiceNow } from './reown-plan.js';
import { defaultHelperImage, helperImageOf } from '../backups/physical-files.js';

// An upgrade whose services will run as other numbers than their containers do now (tenantctl's
// images moved their users from Debian's low system uids to fixed high ones: README, "Service
// users") hands their volumes to the new numbers before the new containers start, and a rollback
// hands them back:
//   plan     from the numbers, not the images (reown-plan.ts): each service mounting named volumes,
//            its container's Config.User against the new render's `user:` line (a container
//            recreated on a rebuilt image under its old line still runs as the old numbers); a
//            service starting as root falls back to its two images' moves by name. Every service
//            mounting a moved volume is stopped with it. Refused (exit 2) before anything changes:
//            a `user:` line its new image contradicts, a volume holding files of a number it would
//            be given (the rollback could not tell them apart), the helper image missing. Recorded
//            in the upgrade's journal entry before anything changes
//   reown    those services stopped (their containers stay, the rollback's state), then a helper
//            container per volume gives the files of each old number to its new one, and only those
//            (`find -uid OLD -exec chown NEW`): a file of any other owner keeps it; journal step
//            `reowned`, pause point upgrade:reowned
//   back     a rollback (or the next command after a killed run) stops the same services and runs
//            the same helper the other way, then brings the last good state up
// The helper runs from tenantctl's own helper image (helperImageOf: tenantctl/agent-base, Debian
// with sh, find and chown; its id recorded, the same both ways), on the engine holding the volume,
// as root with CHOWN and DAC_READ_SEARCH only, no network; named after the volume, so a helper a
// killed run left is removed before the next one.

/** One volume's change of owners, as the journal keeps it. */
export interface VolumeReown {
  /** The volume's name on the engine holding the containers. */
  volume: string;
  /** The services that mount it: stopped while it changes owners. */
  services: string[];
  /** The image id the helper runs from: tenantctl's helper image (TENANTCTL_PHYSICAL_HELPER_IMAGE, else tenantctl/agent-base), the same both ways (entries from before: the services' old image). */
  image: string;
  moves: IdMoves;
}

/** Both images' /etc/passwd and /etc/group, in one short container without network, as nobody. */
async function accountsOf(host: DockerHost, image: string, signal: AbortSignal): Promise<string> {
  return host.docker(['run', '--rm', '--network', 'none', '--user', '65534:65534', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    ...await tmpfsOverImageVolumes(host, image, signal), '--entrypoint', 'cat', image, '/etc/passwd', '/etc/group'], { signal, timeoutMs: dockerQueryTimeoutMs });
}

/** A container's Config.User ("" when it starts as root). */
async function configUser(host: DockerHost, container: string, signal: AbortSignal): Promise<string> {
  return (await host.docker(['inspect', '--format', '{{.Config.User}}', container], { signal, timeoutMs: dockerQueryTimeoutMs })).trim();
}

/** Both images' accounts, or undefined when one cannot be read (no cat in it): said, not fatal. */
async function accountsOfBoth(ctx: Context, where: { containers: DockerHost; imageSource: DockerHost }, id: string, service: string, from: string, to: string): Promise<[string, string] | undefined> {
  try {
    return [await accountsOf(where.containers, from, ctx.signal), await accountsOf(where.imageSource, to, ctx.signal)];
  } catch (error) {
    if (error instanceof TenantctlError && error.kind === 'interrupted') throw error;
    ctx.reporter.info(`${id}: could not read the users of ${service}'s images (${messageOf(error)})`);
    return undefined;
  }
}

/** The `user:` line of each service of a rendered file. */
function userLines(rendered: string): Record<string, string | undefined> {
  const tree = (parse(rendered, { merge: true, maxAliasCount: -1 }) ?? {}) as { services?: Record<string, { user?: unknown }> };
  return Object.fromEntries(Object.entries(tree.services ?? {}).map(([s, d]) => [s, d && (typeof d.user === 'string' || typeof d.user === 'number') ? String(d.user) : undefined]));
}

/**
 * What the upgrade must re-own (reown-plan.ts): every volume a service of the running stack mounts
 * whose container runs as other numbers than the new render's `user:` line gives it, with every
 * service mounting it. Refused before anything changes (exit 2): a `user:` line its new image
 * contradicts, moves that cannot be one pass, a volume two services would move differently or one
 * would still run as its old owner, files already of a new owner in a volume to move (a rollback
 * could not tell them apart), and the helper image missing.
 */
export async function planReown(
  ctx: Context, where: { containers: DockerHost; imageSource: DockerHost }, id: string, project: string,
  running: Record<string, DeployedImage>, wanted: Record<string, string>, current: string, rendered: string,
  recorded: Record<string, DeployedImage> = {},
): Promise<VolumeReown[]> {
  // Only services the running file gives named volumes are looked at (an app-only upgrade asks nothing more).
  const mounting = new Set(namedVolumeMounts((parse(current, { merge: true, maxAliasCount: -1 }) ?? {}) as Record<string, unknown>).map((m) => m.service));
  const users = userLines(rendered);
  const services: ServiceNow[] = [];
  for (const service of [...mounting].sort()) {
    const container = await stackContainer(where.containers, project, service, ctx.signal);
    const volumes = [...new Set(Object.values(container?.volumes ?? {}))].sort();
    if (!container || volumes.length === 0) continue;
    const runsAs = await configUser(where.containers, container.id, ctx.signal);
    const willRunAs = users[service];
    const from = running[service]?.id;
    const to = wanted[service];
    let byName: IdMoves | undefined;
    if (from && to && from !== to) {
      const accounts = await accountsOfBoth(ctx, where, id, service, from, to);
      if (accounts) {
        const drift = userDrift(service, willRunAs, ...accounts);
        if (drift) throw usageError(`${id}: ${drift}; nothing was changed`);
        byName = movedIds(...accounts);
      }
    }
    // A container recreated on the new image already (a compose up after the tags moved): its
    // recorded state's image (pinned on this engine) still says what the old numbers were.
    const was = recorded[service]?.id;
    if (was && to && was !== to && was !== from && numericUser(willRunAs)) {
      const accounts = await accountsOfBoth(ctx, where, id, service, was, to);
      const drift = accounts && userDrift(service, willRunAs, ...accounts);
      if (drift) throw usageError(`${id}: ${drift}; nothing was changed`);
    }
    services.push({ service, volumes, runsAs, willRunAs, byName });
  }
  let planned: PlannedVolume[];
  try {
    planned = planVolumes(services);
  } catch (error) {
    throw usageError(`${id}: ${messageOf(error)}; nothing was changed`);
  }
  if (planned.length === 0) return [];
  for (const p of planned) {
    const problem = movesProblem(p.moves);
    if (problem) throw usageError(`${id}: volume ${p.volume}'s owners cannot be handed over in one pass: ${problem}; nothing was changed`);
  }
  const image = await helperImageId(ctx, where.containers, id);
  for (const p of planned) await refuseTaken(ctx, where.containers, id, image, p);
  return planned.map((p) => ({ ...p, image }));
}

/** The helper image's id on the engine holding the volumes (the same one both ways), or exit 2. */
async function helperImageId(ctx: Context, host: DockerHost, id: string): Promise<string> {
  const name = helperImageOf(ctx);
  const r = await host.run(['docker', 'image', 'inspect', '--format', '{{.Id}}', name], { timeoutMs: dockerQueryTimeoutMs, signal: ctx.signal });
  if (r.exitCode !== 0) throw usageError(`${id}: its volumes must be handed to new owners by the helper image ${name}, which is not on ${host.id} (scripts/build-images.sh builds ${defaultHelperImage}); nothing was changed`);
  return r.stdout.trim();
}

/**
 * A volume to move must hold no file of a number it is given (else the rollback, which hands
 * every file of the new number back, would take those too): checked before anything changes.
 */
async function refuseTaken(ctx: Context, host: DockerHost, id: string, image: string, p: PlannedVolume): Promise<void> {
  const tests = [...p.moves.users.map((m) => ['-uid', String(m.to)]), ...p.moves.groups.map((m) => ['-gid', String(m.to)])];
  const expr = tests.flatMap((t, i) => (i === 0 ? t : ['-o', ...t]));
  const r = await host.run(['docker', 'run', '--rm', '--network', 'none', '--user', '0', '--cap-drop', 'ALL', '--cap-add', 'DAC_READ_SEARCH',
    '--security-opt', 'no-new-privileges', '--label', `tenantctl.upgrade=${id}`, '-v', `${p.volume}:/v:ro`,
    // The helper image may declare VOLUMEs (TENANTCTL_PHYSICAL_HELPER_IMAGE): tmpfs there, no anonymous volume left.
    ...await tmpfsOverImageVolumes(host, image, ctx.signal, ['/v']),
    '--entrypoint', 'find', image, '/v', '-xdev', '(', ...expr, ')', '-print', '-quit'], { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal });
  if (r.cancelled) throw new TenantctlError('interrupted', `looking into volume ${p.volume} of ${id} was interrupted`);
  if (r.exitCode !== 0) throw new TenantctlError('docker', `looking into volume ${p.volume} of ${id} failed (exit ${r.exitCode}): ${lastErrorLine(r.stderrTail)}`);
  const found = r.stdout.trim().split('\n')[0];
  if (found) throw usageError(`${id}: volume ${p.volume} already has files of a number it would be given (${found.replace(/^\/v/, '') || '/'}): a rollback could not hand them back apart; nothing was changed`);
}

/** What a plan says, for a progress line: "p_db-data (uid 101 -> 70001, gid 103 -> 70001); ...". */
export function describeReown(plan: readonly VolumeReown[], direction: 'forward' | 'back' = 'forward'): string {
  return plan.map((r) => {
    const moves = direction === 'forward' ? r.moves : reversed(r.moves);
    return `${r.volume} (${[...moves.users.map((m) => `uid ${m.from} -> ${m.to}`), ...moves.groups.map((m) => `gid ${m.from} -> ${m.to}`)].join(', ')})`;
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
    // A helper a killed run left may still be moving owners: it goes first (-v: with any anonymous
    // volume it has, as one an older tenantctl ran without the tmpfs has; `rm -f` alone keeps them).
    await host.run(['docker', 'rm', '-fv', name], { timeoutMs: 60_000, signal: c.signal });
    // -v would make an empty volume of a name that is gone: the volume must be there.
    const exists = await host.run(['docker', 'volume', 'inspect', '--format', '{{.Name}}', r.volume], { timeoutMs: dockerQueryTimeoutMs, signal: c.signal });
    if (exists.exitCode !== 0) throw new TenantctlError('docker', `volume ${r.volume} of ${tenant} is not on ${host.id}: ${lastErrorLine(exists.stderrTail)}`);
    const result = await host.run(['docker', 'run', '--rm', '--name', name, '--network', 'none', '--user', '0',
      '--cap-drop', 'ALL', '--cap-add', 'CHOWN', '--cap-add', 'DAC_READ_SEARCH', '--security-opt', 'no-new-privileges',
      '--label', `tenantctl.upgrade=${tenant}`, '-v', `${r.volume}:/v`, ...await tmpfsOverImageVolumes(host, r.image, c.signal, ['/v']),
      '--entrypoint', 'sh', r.image, '-c', reownScript, 'reown', ...reownArgs(moves)], { timeoutMs: dumpRestoreTimeoutMs, signal: c.signal });
    if (result.cancelled) throw new TenantctlError('interrupted', `giving volume ${r.volume} of ${tenant} to its ${direction === 'forward' ? 'new' : 'old'} owners was interrupted`);
    if (result.exitCode !== 0) throw new TenantctlError('docker', `giving volume ${r.volume} of ${tenant} to its ${direction === 'forward' ? 'new' : 'old'} owners failed (exit ${result.exitCode}): ${lastErrorLine(result.stderrTail)}`);
  }
}
