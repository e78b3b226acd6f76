import { table } from '../common/text-table.js';
import type { AlertEndpoint } from './endpoints.js';
import type { AddedEndpoint, TestResult } from './commands.js';
import type { DeliveryRow } from './deliveries.js';

// Human rendering of `alerts`; --json prints the data.

const when = (at: string | null) => (at ? at.slice(0, 19).replace('T', ' ') : '-');

export function renderAdded(e: AddedEndpoint): string {
  return [
    `added alert endpoint ${e.id}: ${e.url}`,
    `events: ${e.events.length ? e.events.join(', ') : 'all'}`,
    `signing secret written to ${e.secretFile} (mode 0600; shown nowhere else): give it to the receiver, which checks`,
    '  X-Tenantctl-Signature: sha256=HMAC-SHA256(secret, "<X-Tenantctl-Timestamp>.<body>")',
  ].join('\n');
}

export function renderEndpoints(list: AlertEndpoint[]): string {
  if (list.length === 0) return 'No alert endpoints. Add one with: tenantctl alerts add <url>';
  return table(['ID', 'URL', 'EVENTS', 'ADDED', 'BY'], list.map((e) => [e.id, e.url, e.events.length ? e.events.join(',') : 'all', when(e.createdAt), e.createdBy]));
}

export function renderRemoved(r: { id: string; deliveriesRemoved: number }): string {
  return `removed alert endpoint ${r.id} (and its ${r.deliveriesRemoved} deliveries)`;
}

export function renderTest(r: TestResult): string {
  return r.deliveries
    .map((d) => `${d.endpoint}: ${d.state === 'delivered' ? `delivered, HTTP ${d.status}` : `failed: ${d.error ?? `HTTP ${d.status}`}`} (delivery ${d.delivery})`)
    .join('\n');
}

export function renderDeliveries(rows: DeliveryRow[]): string {
  if (rows.length === 0) return 'No deliveries match.';
  return table(
    ['ID', 'ENDPOINT', 'EVENT', 'STATE', 'ATTEMPTS', 'NEXT ATTEMPT', 'DELIVERED', 'LAST ERROR'],
    rows.map((d) => [d.id, d.endpoint, d.event, d.state, String(d.attempts), when(d.nextAttemptAt), when(d.deliveredAt), (d.lastError ?? '-').slice(0, 60)]),
  );
}
