import type { Context } from '../context.js';
import { TenantctlError, usageError } from '../common/errors.js';
import { composeLogsTimeoutMs } from '../common/timeouts.js';
import { runtimeFor } from '../runtime/runtime-for.js';
import { composeOn } from '../stack/compose.js';
import { requireComposeFile, requireTenantFor, servicesOf } from './day2-target.js';

// `tenantctl logs`: compose's own logs, streamed straight to stdout (the child writes to tenantctl's
// stdout itself: nothing is buffered, a followed stream is never held in memory).

export interface LogsInput {
  id: unknown;
  services?: string[];
  follow?: boolean;
  since?: string;
  tail?: string;
  timestamps?: boolean;
}

export interface LogsResult {
  /** How the stream ended: compose finished, or Ctrl-C / SIGTERM ended it (exit 0 either way). */
  ended: 'finished' | 'interrupted';
}

/**
 * --since: a duration back from now (30s, 10m, 2h, 7d, 1w; compose takes Go durations, so days and
 * weeks become hours) or an ISO date or date-time, which compose takes as is.
 */
export function composeSince(value: string): string {
  const duration = /^(\d+)([smhdw])$/.exec(value);
  if (duration) {
    const [, n, unit] = duration;
    if (unit === 'd') return `${Number(n) * 24}h`;
    if (unit === 'w') return `${Number(n) * 24 * 7}h`;
    return value;
  }
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(value) && !Number.isNaN(Date.parse(value))) return value;
  throw usageError(`--since ${JSON.stringify(value)}: expected a duration (30s, 10m, 2h, 7d, 1w) or an ISO date or date-time (2025-01-31, 2025-01-31T09:00Z)`);
}

export function composeTail(value: string): string {
  if (value === 'all' || /^\d{1,9}$/.test(value)) return value;
  throw usageError(`--tail ${JSON.stringify(value)}: expected a number of lines (0 or more) or "all"`);
}

export async function logs(ctx: Context, input: LogsInput): Promise<LogsResult> {
  const since = input.since === undefined ? undefined : composeSince(input.since);
  const tail = input.tail === undefined ? undefined : composeTail(input.tail);
  // Logs of a stopped (or still provisioning) tenant are what tells why it stopped.
  const t = await requireTenantFor(ctx, input.id, 'show logs', ['active', 'stopped', 'suspended', 'provisioning', 'deprovisioning', 'failed']);
  const rendered = await requireComposeFile(t);
  const known = servicesOf(rendered);
  const services = input.services ?? [];
  const unknown = services.filter((s) => !known.includes(s));
  if (unknown.length > 0) throw usageError(`${t.record.id} has no service ${unknown.join(', ')}; its services are ${known.join(', ')}`);
  const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
  if (since !== undefined && runtime.kind === 'compose' && (await composeOn(ctx.dockerHost)).flavour === 'v1') {
    throw usageError('--since needs compose v2 (docker-compose 1.x has no --since); install the compose plugin or leave --since out');
  }
  // The logs are the output: to stdout as compose (or, on a swarm, docker service logs) writes them,
  // colours only where it sees a terminal. A followed stream runs until Ctrl-C (the signal reaches
  // the child, which ends; tenantctl then exits 0); a bounded one has a timeout.
  const what = runtime.kind === 'swarm' ? 'docker service logs' : 'compose logs';
  const run = await runtime.logs(services, { follow: input.follow, timestamps: input.timestamps, since, tail, timeoutMs: input.follow ? undefined : composeLogsTimeoutMs });
  if (run.forwarded.length > 0) return { ended: 'interrupted' };
  if (run.timedOut) throw new TenantctlError('docker', `${what} for ${t.record.composeProject} did not finish within ${composeLogsTimeoutMs / 1000} s`);
  if (run.exitCode !== 0) throw new TenantctlError('docker', `${what} for ${t.record.composeProject} failed (exit ${run.exitCode}; its message is above)`);
  return { ended: 'finished' };
}
