import { TenantctlError } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { dockerQueryTimeoutMs } from '../common/timeouts.js';
import type { DockerHost } from '../engine/docker-host.js';

// The containers of a tenant's stack that backups and restores work in (those of its state pieces),
// and the short commands run in them (psql, redis-cli), through the tenant's DockerHost. Never with a TTY.

export interface StackContainer {
  id: string;
  service: string;
  running: boolean;
  /** The image reference it was created from, and the id of that image. */
  image: string;
  imageId: string;
  /** Named volumes by mount point. */
  volumes: Record<string, string>;
}

export async function stackContainer(host: DockerHost, project: string, service: string, signal?: AbortSignal): Promise<StackContainer | undefined> {
  // A swarm removes a task's container when it scales the service down: one listed may be gone by
  // the time it is inspected. Then the list is asked again (the newest container first).
  for (let attempt = 1; ; attempt++) {
    const ids = (await host.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`], { signal }))
      .split('\n').map((s) => s.trim()).filter(Boolean);
    if (ids.length === 0) return undefined;
    try {
      return described(service, JSON.parse(await host.docker(['inspect', ids[0]!], { signal })) as any[]);
    } catch (error) {
      if (attempt >= 3 || !/no such object|no such container/i.test((error as Error).message)) throw error;
    }
  }
}

function described(service: string, [c]: any[]): StackContainer {
  const volumes: Record<string, string> = {};
  for (const m of c.Mounts ?? []) if (m.Type === 'volume' && m.Name) volumes[m.Destination] = m.Name;
  return { id: String(c.Id).slice(0, 12), service, running: c.State?.Running === true, image: String(c.Config?.Image ?? ''), imageId: String(c.Image ?? ''), volumes };
}

/** The service's running container, or a conflict naming what to do. */
export async function requireRunning(host: DockerHost, project: string, service: string, tenant: string, signal?: AbortSignal): Promise<StackContainer> {
  const c = await stackContainer(host, project, service, signal);
  if (!c) throw new TenantctlError('conflict', `${tenant} has no ${service} container (tenantctl status ${tenant})`);
  if (!c.running) throw new TenantctlError('conflict', `the ${service} container of ${tenant} is not running (tenantctl start ${tenant})`);
  return c;
}

/** `docker exec` of a short command; its stdout, or a docker error with the command's own last error line. */
export async function execIn(
  host: DockerHost, container: string, argv: string[],
  { env = {}, timeoutMs = dockerQueryTimeoutMs, signal, what, user }: { env?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal; what: string; user?: string },
): Promise<string> {
  // Values travel in the docker CLI's environment (`-e NAME`), never on its command line.
  const envArgs = Object.keys(env).flatMap((name) => ['-e', name]);
  const result = await host.run(['docker', 'exec', ...envArgs, ...(user ? ['-u', user] : []), container, ...argv], { env, timeoutMs, signal });
  if (result.cancelled) throw new TenantctlError('interrupted', `${what} was cancelled`);
  if (result.timedOut) throw new TenantctlError('docker', `${what} did not finish within ${Math.round(timeoutMs / 1000)} s`);
  if (result.exitCode !== 0) throw new TenantctlError('docker', `${what} failed (exit ${result.exitCode}): ${lastErrorLine(result.stderrTail) || result.stdout.trim().slice(0, 300)}`);
  return result.stdout;
}

export function redisCliIn(host: DockerHost, container: string, password: string, args: string[], options: { signal?: AbortSignal; timeoutMs?: number; what: string }): Promise<string> {
  return execIn(host, container, ['redis-cli', '--no-auth-warning', ...args], { ...options, env: { REDISCLI_AUTH: password } });
}

const superusers = new Map<string, Promise<string>>();

/**
 * The PostgreSQL server's superuser (the oldest one that can log in: the bootstrap role, unless it
 * was demoted), asked over the local socket as `anyRole` (a role the server has: a piece's owner),
 * which the image trusts. tenantctl's maintenance runs as it (a restore's CREATE, RENAME and DROP
 * DATABASE and closing connections, rotate-secrets' ALTER ROLE): the templates' owner roles are
 * not superusers (a template's initdb/00-create-owner-role.sh keeps `postgres` as the superuser,
 * with no password), while a tenant provisioned before that has its owner as the superuser, or a
 * `postgres` role made when it was demoted by hand (README); asking serves all three. Asked once
 * per container for the process.
 */
export function postgresSuperuser(host: DockerHost, container: string, anyRole: string, signal?: AbortSignal): Promise<string> {
  let asking = superusers.get(container);
  if (!asking) {
    asking = execIn(host, container, ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', anyRole, '-d', 'postgres', '-c', 'SELECT rolname FROM pg_roles WHERE rolsuper AND rolcanlogin ORDER BY oid LIMIT 1'], { signal, what: 'asking PostgreSQL for its superuser' })
      .then((out) => {
        const name = out.trim();
        if (!name) throw new TenantctlError('docker', `the PostgreSQL server in ${container} named no superuser`);
        return name;
      });
    superusers.set(container, asking);
    asking.catch(() => superusers.delete(container));
  }
  return asking;
}
