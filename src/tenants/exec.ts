import type { Context } from '../context.js';
import { TenantctlError, usageError } from '../common/errors.js';
import { dockerForeground } from '../stack/day2.js';
import { runtimeFor } from '../runtime/runtime-for.js';
import { managedContainers } from '../engine/docker.js';
import { requireTenantFor, tenantNamedSecretsFor, type Day2Target } from './day2-target.js';
import { loadTenantTemplate, redisCheckOf } from './tenant-template.js';
import { fillBlockText } from '../templates/values.js';
import type { Template } from '../templates/template.js';

// exec, psql, redis-cli: a program run in one of a tenant's containers, in the foreground. With a
// terminal on both ends it gets a pseudo-terminal (`docker exec -it`); otherwise its stdin, stdout
// and stderr are plain pipes (`docker exec -i`), so `echo 'select 1' | tenantctl psql acme` works.
// Passwords go in through the environment of the docker CLI and `-e NAME` (no value on any command
// line, so not in `ps`); the child's exit code is tenantctl's.

export interface ExecResult {
  exitCode: number;
}

/** Whether the session gets a pseudo-terminal: the CLI says (stdin and stdout are terminals). */
export interface Terminal {
  tty: boolean;
}

export async function execInService(ctx: Context, input: { id: unknown; service: string; command: string[] } & Terminal): Promise<ExecResult> {
  if (input.command.length === 0) throw usageError('give the command to run after --, e.g. tenantctl exec acme app -- sh');
  const t = await requireTenantFor(ctx, input.id, 'run commands', ['active']);
  return execIn(ctx, t, input.service, input.command, {}, input.tty);
}

export type PsqlRole = 'owner' | 'app';

/**
 * psql on the tenant database, inside its database's container, over TCP to 127.0.0.1 so that the
 * role's password is checked. The database is the template's migrations target (crm: `tenant` in
 * db), else the first PostgreSQL its readiness logs in to (of a profile that is on): as the owner
 * (the migrations role; crm's `tenant_owner`: tables, migrations, the default) or as the app (the
 * readiness role; crm's `tenant_app`: what the app sees, row-level security applied).
 */
export async function psql(ctx: Context, input: { id: unknown; as?: string; args: string[] } & Terminal): Promise<ExecResult> {
  const role = (input.as ?? 'owner') as PsqlRole;
  if (role !== 'owner' && role !== 'app') throw usageError(`--as must be owner or app, not ${JSON.stringify(input.as)}`);
  const t = await requireTenantFor(ctx, input.id, 'open a database session', ['active']);
  const template = await loadTenantTemplate(ctx, t.record);
  const login = databaseLogin(template, t.record.profiles, role);
  if (!login) {
    throw usageError(`${t.record.id} cannot open a database session${role === 'app' ? ' as the app' : ''}: its template ${template.name} has no ${role === 'app' ? 'postgres readiness for its database' : 'database (x-tenantctl.migrations, or a postgres readiness of a running service)'}`);
  }
  const secrets = await tenantNamedSecretsFor(ctx, await ctx.adminDb(), t, [login.passwordSecret]);
  const database = fillBlockText(login.database, { tenant_id: t.record.id, tenant_id_underscored: t.record.id.replaceAll('-', '_') });
  const port = String(template.block.ports[login.port]?.container ?? 5432);
  return execIn(ctx, t, login.service, ['psql', '-h', '127.0.0.1', '-p', port, '-U', login.user, '-d', database, ...input.args], { PGPASSWORD: secrets[login.passwordSecret]! }, input.tty);
}

type Login = { service: string; port: string; user: string; passwordSecret: string; database: string };

function databaseLogin(template: Template, profiles: readonly string[], role: PsqlRole): Login | undefined {
  const running = (service: string) => Object.entries(template.block.profiles).every(([name, p]) => !p.services.includes(service) || profiles.includes(name));
  const checks = Object.entries(template.block.readiness).flatMap(([service, check]) => ('postgres' in check && running(service) ? [{ service, ...check.postgres }] : []));
  const owner = template.block.migrations ?? checks[0];
  if (!owner) return undefined;
  return role === 'owner' ? owner : checks.find((c) => c.service === owner.service);
}

/** redis-cli on the tenant's Redis (the service its readiness pings), inside its container; the password through REDISCLI_AUTH. */
export async function redisCli(ctx: Context, input: { id: unknown; args: string[] } & Terminal): Promise<ExecResult> {
  const t = await requireTenantFor(ctx, input.id, 'open a Redis session', ['active']);
  const template = await loadTenantTemplate(ctx, t.record);
  const redis = redisCheckOf(template);
  if (!redis) throw usageError(`${t.record.id} cannot open a Redis session: its template ${template.name} has no service with redis readiness`);
  const secrets = await tenantNamedSecretsFor(ctx, await ctx.adminDb(), t, [redis.passwordSecret]);
  const port = String(template.block.ports[redis.port]?.container ?? 6379);
  return execIn(ctx, t, redis.service, ['redis-cli', '-p', port, ...input.args], { REDISCLI_AUTH: secrets[redis.passwordSecret]! }, input.tty);
}

async function execIn(ctx: Context, t: Day2Target, service: string, command: string[], secretEnv: Record<string, string>, tty: boolean): Promise<ExecResult> {
  // Where the containers are: the host, or a swarm tenant's node.
  const host = (await runtimeFor(ctx.dockerHost, t.target, ctx.signal)).containers;
  const containers = await managedContainers(host, { project: t.record.composeProject, signal: ctx.signal });
  const mine = containers.filter((c) => c.service === service);
  if (mine.length === 0) {
    const services = [...new Set(containers.map((c) => c.service))].sort();
    if (services.length === 0) throw new TenantctlError('conflict', `${t.record.id} has no containers (removed outside tenantctl?); see tenantctl status ${t.record.id}`);
    throw usageError(`${t.record.id} has no service ${JSON.stringify(service)}; its services are ${services.join(', ')}`);
  }
  const running = mine.find((c) => c.state === 'running');
  if (!running) {
    throw new TenantctlError('conflict', `${service} of ${t.record.id} is not running (${mine[0]!.state}); start it with tenantctl start ${t.record.id}`);
  }
  // `-e NAME` without a value: docker takes the value from its own environment, where it is put below.
  const args = ['exec', tty ? '-it' : '-i', ...Object.keys(secretEnv).flatMap((name) => ['-e', name]), running.id, ...command];
  const run = await dockerForeground(host, args, { env: secretEnv });
  return { exitCode: run.exitCode };
}
