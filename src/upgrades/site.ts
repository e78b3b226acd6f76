import { writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { Context } from '../context.js';
import type { DockerHost } from '../engine/docker-host.js';
import { composeStopTimeoutMs, composeUpGraceMs } from '../common/timeouts.js';
import { composeOn } from '../stack/compose.js';
import { pinTag } from '../stack/rollback-pins.js';
import { onContainers, runtimeFor } from '../runtime/runtime-for.js';
import type { Day2Target } from '../tenants/day2-target.js';
import type { DeployedImage, Deployment } from '../tenants/deployments.js';
import { serviceImagesOf } from '../swarm/swarm-stack.js';
import type { StackSnapshot } from '../swarm/stack-converge.js';

// Where an upgrade happens, as upgrade.ts needs it: the same journaled flow for a compose project
// and for a swarm stack; what differs is here.
//
// - compose: the last good state's images are kept by per-service rollback tags on the engine
//   (tenantctl-rollback:<project>-<service>); a rollback brings up the recorded compose file with
//   each service on its tag.
// - swarm: every deploy already pins the image ids it runs on the tenant's node
//   (tenantctl-pin/<project>:<id>, swarm-stack.ts); the last good state's pins are tagged again from
//   their ids before anything changes (an id the node lost is refused then, not found missing
//   during a rollback), a rollback deploys the recorded compose file naming those pins, and after
//   each deploy tenantctl waits until every service runs a task of its new spec (stack-converge.ts)
//   before its probes are trusted. Once a state is proven (or rolled back to), the pins the stack
//   no longer names are removed from the node: the last good state's are kept.

export interface UpgradeSite {
  kind: 'compose' | 'swarm';
  /** The context on the engine holding the tenant's containers (its swarm node): images running, readiness. */
  containers: Context;
  /** Where the images a render names are resolved: the engine itself, or this machine for a swarm (deploys copy them to the node). */
  imageSource: DockerHost;
  /** Keeps the last good state's images reachable whatever happens to their tags. */
  keep(project: string, images: Record<string, DeployedImage>): Promise<void>;
  /** The tenant's compose file (already written) brought up, and for a swarm its tasks converged. */
  bringUp(c: Context, t: Day2Target): Promise<void>;
  /** The last good state brought up on its own image ids; returns the compose file now on disk (what is recorded). */
  restore(c: Context, t: Day2Target, good: Deployment): Promise<string>;
  /** After a state is proven or rolled back to: the new one kept (compose), the older pins pruned (swarm); a note for the caller. */
  settle(c: Context, project: string, images: Record<string, DeployedImage>): Promise<string | undefined>;
  /** The running container of each service (to say which were recreated). */
  containerIds(project: string): Promise<Record<string, string>>;
  /** Stops the services (their containers stay on compose; a swarm scales them to 0): nothing writes to their volumes then. */
  stop(c: Context, services: string[]): Promise<void>;
}

export async function upgradeSite(ctx: Context, t: Day2Target): Promise<UpgradeSite> {
  const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
  const containers = onContainers(ctx, runtime);
  const node = runtime.containers;
  const project = t.record.composeProject;
  const stop = (c: Context, services: string[]) => runtime.stop(services, { timeoutMs: composeStopTimeoutMs, signal: c.signal, onProgress: c.reporter.detail });
  const containerIds = async (all: boolean) => {
    const out = await node.docker(['ps', ...(all ? ['-a'] : []), '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.ID}}\t{{.Label "com.docker.compose.service"}}'], { signal: ctx.signal });
    return Object.fromEntries(out.split('\n').filter(Boolean).map((line) => line.split('\t')).map(([cid, service]) => [service!, cid!]));
  };
  if (runtime.kind === 'compose') {
    return {
      kind: 'compose', containers, imageSource: ctx.dockerHost,
      keep: (p, images) => tagRollbackPins(ctx.dockerHost, p, images, ctx.signal),
      bringUp: (c, target) => composeUp(c, target),
      restore: async (c, target, good) => {
        const pinned = pinnedComposeFile(good.composeFile, project, good.images);
        await writeFile(target.paths.composeFile, pinned, { mode: 0o644 });
        await composeUp(c, target);
        return pinned;
      },
      settle: async (c, p, images) => {
        await tagRollbackPins(c.dockerHost, p, images, c.signal);
        return undefined;
      },
      containerIds: () => containerIds(true),
      stop,
    };
  }
  const { keepPins, pinOf, prunePins } = await import('../swarm/stack-versions.js');
  const { stackSnapshot, waitForStackConverged } = await import('../swarm/stack-converge.js');
  const converge = (c: Context, before: StackSnapshot) => waitForStackConverged(c.dockerHost, project, { clock: c.clock, deadlineMs: c.config.healthDeadlineSeconds * 1000, signal: c.signal, before });
  return {
    kind: 'swarm', containers, imageSource: ctx.dockerHost.thisMachine(),
    keep: async (p, images) => {
      await keepPins(node, p, Object.values(images).map((i) => i.id).filter(Boolean), ctx.signal);
    },
    bringUp: async (c, target) => {
      const before = await stackSnapshot(c.dockerHost, project, c.signal);
      await composeUp(c, target); // docker stack deploy (stack/compose.ts), the new images shipped and pinned
      c.reporter.step('waiting until every service runs a task of its new spec');
      await converge(c, before);
    },
    restore: async (c, target, good) => {
      await keepPins(node, project, Object.values(good.images).map((i) => i.id).filter(Boolean), c.signal);
      // The recorded file as it was (its images by their shared tags), deployed with each service's
      // tag on the pin of the image id that service ran then.
      const references = serviceImagesOf(good.composeFile);
      const pinned = Object.fromEntries(Object.entries(good.images).filter(([service, i]) => i.id && references[service]).map(([service, i]) => [references[service]!, pinOf(project, i.id)]));
      const before = await stackSnapshot(c.dockerHost, project, c.signal);
      await writeFile(target.paths.composeFile, good.composeFile, { mode: 0o644 });
      const { deploySwarmTenant, imagesOf } = await import('../swarm/swarm-stack.js');
      await deploySwarmTenant(c.dockerHost, { project, composeFile: target.paths.composeFile, images: imagesOf(good.composeFile), pinned, signal: c.signal });
      c.reporter.step('waiting until every service runs a task of its last good spec');
      await converge(c, before);
      return good.composeFile;
    },
    settle: async (c, p) => {
      const removed = await prunePins(c.dockerHost, node, p, c.signal);
      return removed.length > 0 ? `removed the pins no longer run on node ${node.id}: ${removed.join(', ')}` : undefined;
    },
    containerIds: () => containerIds(false),
    stop,
  };
}

/**
 * The images a deployment records by service: a swarm task's container reports the pin its stack
 * named (tenantctl-pin/...), so the tag recorded is the compose file's reference; the id is the
 * container's either way.
 */
export function asRecorded(images: Record<string, DeployedImage>, composeFile: string): Record<string, DeployedImage> {
  const references = serviceImagesOf(composeFile);
  return Object.fromEntries(Object.entries(images).map(([service, i]) => [service, i.tag.startsWith('tenantctl-pin/') && references[service] ? { ...i, tag: references[service]! } : i]));
}

async function tagRollbackPins(host: DockerHost, project: string, images: Record<string, DeployedImage>, signal?: AbortSignal): Promise<void> {
  for (const [service, image] of Object.entries(images)) {
    if (image.id) await host.docker(['tag', image.id, pinTag(project, service)], { signal });
  }
}

/** The recorded compose file with each service's image replaced by its pin tag (the image id it ran). */
export function pinnedComposeFile(composeFile: string, project: string, images: Record<string, DeployedImage>): string {
  const document = parseDocument(composeFile, { merge: true });
  for (const [service, image] of Object.entries(images)) {
    if (image.id && document.hasIn(['services', service, 'image'])) document.setIn(['services', service, 'image'], pinTag(project, service));
  }
  return document.toString({ lineWidth: 0 });
}

async function composeUp(ctx: Context, t: Day2Target): Promise<void> {
  const compose = await composeOn(ctx.dockerHost);
  await compose.up(t.target, { signal: ctx.signal, timeoutMs: ctx.config.healthDeadlineSeconds * 1000 + composeUpGraceMs, onProgress: ctx.reporter.detail });
}
