import type { AuditEntry } from './read.js';
import { table } from '../common/text-table.js';

// Human rendering of `audit`; --json prints the data.

const when = (at: string | null) => (at ? at.slice(0, 19).replace('T', ' ') : '-');

export function renderAudit(entries: AuditEntry[]): string {
  if (entries.length === 0) return 'No audit entries match.';
  return table(
    ['TIME', 'TENANT', 'ACTION', 'ACTOR', 'CHANGE'],
    entries.map((e) => [when(e.createdAt), e.customerId ?? '-', e.action, e.actor, describeChange(e.oldValues, e.newValues)]),
  );
}

const maxChangeLength = 100;
// Shown even when unchanged, so a line says what it is about (the module, the key).
const identifying = new Set(['module', 'name', 'prefix']);
const show = (value: unknown) => (value === undefined ? '-' : JSON.stringify(value));

/**
 * One line for an audit row's old and new values: `field: old → new` for what differs, or the new
 * values when there were none before. Cut at 100 characters: the whole row is in --json.
 */
export function describeChange(oldValues: unknown, newValues: unknown): string {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  let text: string;
  if (isObject(oldValues) && isObject(newValues)) {
    const fields = [...new Set([...Object.keys(oldValues), ...Object.keys(newValues)])];
    const changed = fields.filter((f) => show(oldValues[f]) !== show(newValues[f]));
    const same = fields.filter((f) => !changed.includes(f) && f in newValues && identifying.has(f));
    text = [...same.map((f) => `${f}=${show(newValues[f])}`), ...changed.map((f) => `${f}: ${show(oldValues[f])} → ${show(newValues[f])}`)].join(', ');
  } else if (isObject(newValues)) {
    text = Object.entries(newValues).map(([f, v]) => `${f}=${show(v)}`).join(', ');
  } else {
    text = oldValues === null && newValues === null ? '' : `${show(oldValues ?? undefined)} → ${show(newValues ?? undefined)}`;
  }
  return text.length > maxChangeLength ? `${text.slice(0, maxChangeLength - 1)}…` : text;
}
