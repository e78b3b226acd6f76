import type { Context } from '../context.js';
import { TenantctlError, usageError } from '../common/errors.js';
import { dockerForeground, managedContainers } from '../stack/day2.js';
import { requireTenantFor, tenantSecretsFor, type Day2Target } from './day2-target.js';

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
 * psql on the tenant database, inside its db container, over TCP to 127.0.0.1 so that the role's
 * password is checked: as `tenant_owner` (owner, the default: tables, migrations) or `tenant_app`
 * (app: what the app sees, row-level security applied).
 */
export async function psql(ctx: Context, input: { id: unknown; as?: string; args: string[] } & Terminal): Promise<ExecResult> {
  const role = (input.as ?? 'owner') as PsqlRole;
  if (role !== 'owner' && role !== 'app') throw usageError(`--as must be owner or app, not ${JSON.stringify(input.as)}`);
  const t = await requireTenantFor(ctx, input.id, 'open a database session', ['active']);
  const secrets = await tenantSecretsFor(ctx, await ctx.adminDb(), t);
  const [user, password] = role === 'owner' ? ['tenant_owner', secrets.DB_PASSWORD] : ['tenant_app', secrets.APP_DB_PASSWORD];
  return execIn(ctx, t, 'db', ['psql', '-h', '127.0.0.1', '-U', user, '-d', 'tenant', ...input.args], { PGPASSWORD: password }, input.tty);
}

/** redis-cli on the tenant's Redis, inside its container; the password through REDISCLI_AUTH. */
export async function redisCli(ctx: Context, input: { id: unknown; args: string[] } & Terminal): Promise<ExecResult> {
  const t = await requireTenantFor(ctx, input.id, 'open a Redis session', ['active']);
  const secrets = await tenantSecretsFor(ctx, await ctx.adminDb(), t);
  return execIn(ctx, t, 'redis', ['redis-cli', ...input.args], { REDISCLI_AUTH: secrets.REDIS_PASSWORD }, input.tty);
}

async function execIn(ctx: Context, t: Day2Target, service: string, command: string[], secretEnv: Record<string, string>, tty: boolean): Promise<ExecResult> {
  const containers = await managedContainers(ctx.dockerHost, { project: t.record.composeProject, signal: ctx.signal });
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
  const run = await dockerForeground(ctx.dockerHost, args, { env: secretEnv });
  return { exitCode: run.exitCode };
}
