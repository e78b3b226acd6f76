import type { Context } from '../context.js';
import { composeStartTimeoutMs, composeUpGraceMs } from '../common/timeouts.js';
import { composeVerb } from '../stack/day2.js';
import { onContainers, runtimeFor } from '../runtime/runtime-for.js';
import type { Day2Target } from '../tenants/day2-target.js';

// Where a rotation happens, as rotate.ts needs it: the same journaled steps for a compose project
// and for a swarm stack; what differs is here.
//
// - compose: the secret files are bind-mounted (or shipped, on a remote engine) into the
//   containers; the services that read a changed one are recreated (`up --force-recreate`).
// - swarm: a secret object is immutable, so a new value is a new object, <project>_<KEY>_v<N>
//   (stack-versions.ts), made by `docker stack deploy` from the files beside the compose file and
//   named by the stack file; swarm replaces the task of every service that reads one (a PostgreSQL
//   server too: its data directory keeps the passwords ALTER ROLE set) and tenantctl waits until each
//   runs its new spec. The versions both ways are in the journal (SwarmSecretVersions): an undo
//   deploys the old names again (their objects hold the old values, which the files get back). The
//   objects no service reads any more are removed once the tenant is proven on the others.

/** The swarm secret objects of the rotated keys: the ones read before, and the new versions. */
export interface SwarmSecretVersions {
  from: Record<string, string>;
  to: Record<string, string>;
}

export interface RotationSite {
  kind: 'compose' | 'swarm';
  /** The context on the engine holding the containers (a swarm tenant's node): ALTER ROLE, CONFIG SET, logins. */
  containers: Context;
  /** The services that read the secret files again: `names` is which versions a swarm stack names. */
  reload(c: Context, recreate: readonly string[], names: 'from' | 'to'): Promise<void>;
  /** Every service running (an undo needs its servers up to take the old values back). */
  startAll(c: Context): Promise<void>;
  /** Once one side is proven: the secret objects no service reads any more removed; what was removed. */
  prune(c: Context): Promise<string[]>;
}

export async function rotationSite(ctx: Context, t: Day2Target, versions: SwarmSecretVersions | undefined): Promise<RotationSite> {
  const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
  const containers = onContainers(ctx, runtime);
  const startAll = (c: Context) => runtime.start(undefined, { timeoutMs: composeStartTimeoutMs, signal: c.signal, onProgress: c.reporter.detail });
  if (runtime.kind === 'compose') {
    return {
      kind: 'compose', containers, startAll,
      reload: async (c, recreate) => {
        if (recreate.length === 0) return;
        c.reporter.step(`recreating ${recreate.join(', ')} with them`);
        await composeVerb(c.dockerHost, t.target, ['up', '-d', '--no-deps', '--force-recreate', ...recreate], {
          timeoutMs: c.config.healthDeadlineSeconds * 1000 + composeUpGraceMs, signal: c.signal, onProgress: c.reporter.detail,
        });
      },
      prune: async () => [],
    };
  }
  const project = t.record.composeProject;
  const { liveSecretNames, namedPins, pruneSecrets } = await import('../swarm/stack-versions.js');
  const { deploySwarmTenant, imagesOf, secretKeysOf, serviceImagesOf } = await import('../swarm/swarm-stack.js');
  const { stackSnapshot, waitForStackConverged } = await import('../swarm/stack-converge.js');
  const { readFile } = await import('node:fs/promises');
  return {
    kind: 'swarm', containers, startAll,
    reload: async (c, _recreate, names) => {
      if (!versions) throw new Error('a swarm rotation without its secret versions in the journal');
      const rendered = await readFile(t.paths.composeFile, 'utf8');
      // The secrets not rotated keep the objects the services read now.
      const secretNames = { ...(await liveSecretNames(c.dockerHost, project, secretKeysOf(rendered), c.signal)), ...versions[names] };
      // Each service stays on the image its spec names now (its pin): a rotation changes no image,
      // even when this machine's tag has been moved since the last deploy.
      const pins = await namedPins(c.dockerHost, project, c.signal);
      const pinned = Object.fromEntries(Object.entries(serviceImagesOf(rendered)).filter(([service]) => pins[service]).map(([service, ref]) => [ref, pins[service]!]));
      const before = await stackSnapshot(c.dockerHost, project, c.signal);
      c.reporter.step(`deploying ${project} again naming ${Object.values(versions[names]).join(', ')}`);
      await deploySwarmTenant(c.dockerHost, { project, composeFile: t.paths.composeFile, images: imagesOf(rendered), pinned, secretNames, signal: c.signal });
      c.reporter.step('waiting until every service runs a task of its new spec');
      await waitForStackConverged(c.dockerHost, project, { clock: c.clock, deadlineMs: c.config.healthDeadlineSeconds * 1000, signal: c.signal, before });
    },
    prune: (c) => pruneSecrets(c.dockerHost, project, c.signal),
  };
}

/** A swarm tenant's secret versions for a rotation of `keys`: the objects read now, and the next versions' names. */
export async function swarmSecretVersions(ctx: Context, project: string, keys: readonly string[]): Promise<SwarmSecretVersions> {
  const { liveSecretNames, nextSecretNames } = await import('../swarm/stack-versions.js');
  const live = await liveSecretNames(ctx.dockerHost, project, keys, ctx.signal);
  return {
    from: Object.fromEntries(keys.map((key) => [key, live[key] ?? `${project}_${key}`])),
    to: await nextSecretNames(ctx.dockerHost, project, keys, ctx.signal),
  };
}
