import { table } from '../common/text-table.js';
import type { TenantEvent } from './events.js';
import type { PassResult } from './pass.js';
import type { WatchRun } from './run.js';

// Human rendering of `events` and `watch`; --json prints the data.

const when = (at: string) => at.slice(0, 19).replace('T', ' ');

export function renderEvents(list: TenantEvent[]): string {
  if (list.length === 0) return 'No events match.';
  return table(['TIME', 'TENANT', 'HOST', 'EVENT', 'CHANGE', 'DETAIL'], list.map((e) => [
    when(e.at), e.tenant ?? '-', e.host, e.kind, e.from || e.to ? `${e.from ?? '-'} -> ${e.to ?? '-'}` : '-', describe(e.detail),
  ]));
}

function describe(detail: Record<string, unknown>): string {
  const reasons = Array.isArray(detail.reasons) ? (detail.reasons as string[]).join('; ') : '';
  const error = typeof detail.error === 'string' ? detail.error : '';
  // pitr.lagging / pitr.caught-up (agent/pitr-lag.ts) say theirs in one reason.
  const reason = typeof detail.reason === 'string' ? detail.reason : '';
  const text = [reasons, reason, error].filter(Boolean).join(' ') || '-';
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

export function renderPass(p: PassResult): string {
  if (!p.reachable) return `${p.host}: the Docker engine did not answer (${p.error}); ${p.tenants} tenants keep their last state`;
  const lines = [`${p.host}: ${p.tenants} active tenants: ${p.states.ready} ready, ${p.states.degraded} degraded, ${p.states.down} down${p.busy.length ? `, ${p.busy.length} being changed (${p.busy.join(', ')})` : ''} (${p.durationMs} ms)`];
  for (const c of p.changes) lines.push(`  ${c.tenant}: ${c.from ?? 'new'} -> ${c.to}${c.event ? ` (${c.event})` : ''}${c.reasons.length ? `: ${c.reasons.join('; ')}` : ''}`);
  for (const r of p.restarts) lines.push(`  ${r.tenant}: automatic restart ${r.outcome}${r.error ? `: ${r.error}` : ''}`);
  return lines.join('\n');
}

export function renderWatchRun(r: WatchRun): string {
  return [
    r.passes.length === 1 ? renderPass(r.passes[0]!) : `${r.passes.length} watch passes, ${r.passes.reduce((n, p) => n + p.changes.length, 0)} changes`,
    `deliveries: ${r.deliveries.delivered} delivered, ${r.deliveries.retrying} to retry, ${r.deliveries.failed} failed`,
  ].join('\n');
}
