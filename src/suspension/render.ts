import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { SuspendResult } from './suspend.js';
import type { ResumeResult } from './resume.js';
import type { SuspendedResult } from './suspended.js';

// Human renderings of suspend, resume and suspended; --json prints the same data as JSON.

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function renderSuspend(r: SuspendResult): string {
  const why = `"${r.suspension.reason}" (since ${r.suspension.at}, by ${r.suspension.by})`;
  const page = r.door === 'none' ? 'no front door here' : r.suspension.publicMessage ? `its page says "${r.suspension.publicMessage}"` : 'its page is the generic one';
  return r.outcome === 'already-suspended'
    ? `${chalk.green('✓')} ${r.id} was already suspended: ${why}; its stack is stopped; ${page}`
    : `${chalk.green('✓')} ${r.id} suspended: ${why}; stack stopped, data, keys and allocations kept; ${page} (tenantctl resume ${r.id})  (${seconds(r.durationMs)})`;
}

export function renderResume(r: ResumeResult): string {
  return r.outcome === 'already-active'
    ? `${chalk.green('✓')} ${r.id} is not suspended (active): nothing to do`
    : `${chalk.green('✓')} ${r.id} resumed: ready and served again${r.url ? `: ${chalk.bold(r.url)}` : ''}  (${seconds(r.durationMs)})`;
}

export function renderSuspended(r: SuspendedResult): string {
  const policy = r.deprovisionAfterDays === null
    ? 'policy: off (suspension.deprovisionAfterDays is not set): nothing is deprovisioned automatically'
    : `policy: deprovisioned (keeping data) after ${r.deprovisionAfterDays} days suspended; due now: ${r.due.join(', ') || 'none'}; due within a day: ${r.warn.join(', ') || 'none'}`;
  if (r.tenants.length === 0) return `No suspended tenants${r.due.length === 0 ? '' : ' shown'}.\n${policy}`;
  const when = (t: SuspendedResult['tenants'][number]) => (t.deprovisionAt === null ? '-' : t.due ? chalk.red(`due (${t.deprovisionAt.slice(0, 16).replace('T', ' ')})`) : t.dueWithinADay ? chalk.yellow(t.deprovisionAt.slice(0, 16).replace('T', ' ')) : t.deprovisionAt.slice(0, 16).replace('T', ' '));
  return `${table(['ID', 'NAME', 'HOST', 'DAYS', 'SINCE', 'BY', 'REASON', 'DEPROVISION'], r.tenants.map((t) => [
    t.id, t.name, t.host, String(t.daysSuspended), t.suspension.at.slice(0, 16).replace('T', ' '), t.suspension.by, t.suspension.reason, when(t),
  ]))}\n\n${policy}`;
}
