import type { Context } from '../context.js';
import { ScheduleStore, type Schedule } from './store.js';

// `tenantctl schedules list`: every schedule on record (or one host's), with its next due time and
// its last run: when, outcome, error, and the run's one-line account.

export interface SchedulesResult {
  host: string | null;
  schedules: Array<Schedule & { running: boolean }>;
}

export async function schedulesList(ctx: Context, { host }: { host?: string } = {}): Promise<SchedulesResult> {
  const rows = await new ScheduleStore(await ctx.adminDb()).list(host);
  return { host: host ?? null, schedules: rows.map((s) => ({ ...s, running: s.runningRun !== null })) };
}
