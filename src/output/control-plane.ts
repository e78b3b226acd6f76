import chalk from 'chalk';
import type { ModuleChangeResult, ModulesListResult } from '../commands/modules.js';
import type { KeysListResult } from '../commands/keys.js';
import type { AuditEntry, CreatedApiKey, RevokedApiKey } from '../db/control-plane.js';
import { table } from './table.js';

// Human renderings of the control-plane commands (modules, keys, audit). --json prints the data.

const usd = (amount: number) => `$${amount.toFixed(2)}`;
const when = (at: string | null) => (at ? at.slice(0, 19).replace('T', ' ') : '-');

export function renderModules(r: ModulesListResult): string {
  if (r.customerId === null) {
    return table(
      ['MODULE', 'NAME', 'PER MONTH', 'DEFAULT', 'DESCRIPTION'],
      r.modules.map((m) => [m.key, m.name, usd(m.monthlyPrice), m.defaultEnabled ? 'on' : '-', m.description]),
    );
  }
  const enabled = r.modules.filter((m) => m.enabled).length;
  const billed = r.mrr === null ? `not billed while ${r.status}` : `MRR ${chalk.bold(usd(r.mrr))}`;
  return [
    `${r.customerId} (${r.status}): ${enabled} of ${r.modules.length} modules enabled; ${billed}`,
    '',
    table(
      ['MODULE', 'NAME', 'PER MONTH', 'STATE', 'SINCE'],
      r.modules.map((m) => [m.key, m.name, usd(m.monthlyPrice), m.enabled ? chalk.green('on') : chalk.dim('off'), when(m.enabled ? m.enabledAt : m.disabledAt)]),
    ),
  ].join('\n');
}

export function renderModuleChange(r: ModuleChangeResult): string {
  const state = r.enabled ? 'enabled' : 'disabled';
  const billed = r.mrr === null ? '' : `; MRR ${usd(r.mrr)}`;
  if (!r.changed) return `${chalk.green('✓')} ${r.module} was already ${state} for ${r.customerId} (nothing changed)${billed}`;
  return `${chalk.green('✓')} ${r.module} ${state} for ${r.customerId}${billed}`;
}

export function renderKeyCreated(r: CreatedApiKey): string {
  return [
    `${chalk.green('✓')} API key "${r.name}" created for ${r.customerId} (id ${r.id})`,
    `  key  ${chalk.bold(r.key)}`,
    '  Store it now: it is not shown again (the admin database keeps only its SHA-256).',
  ].join('\n');
}

export function renderKeys(r: KeysListResult): string {
  if (r.keys.length === 0) return `No API keys for ${r.customerId}. Create one with: tenantctl keys create ${r.customerId} --name "<name>"`;
  return table(
    ['ID', 'KEY', 'NAME', 'STATUS', 'CREATED', 'LAST USED'],
    r.keys.map((k) => [k.id, `${k.prefix}…`, k.name, k.status === 'active' ? chalk.green('active') : chalk.red(`revoked ${when(k.revokedAt)}`), when(k.createdAt), when(k.lastUsedAt)]),
  );
}

export function renderKeyRevoked(r: RevokedApiKey): string {
  const k = r.key;
  const which = `API key ${k.id} (${k.prefix}…, "${k.name}") of ${k.customerId}`;
  if (r.outcome === 'already-revoked') return `${chalk.green('✓')} ${which} was already revoked at ${when(k.revokedAt)}`;
  return `${chalk.green('✓')} ${which} revoked`;
}

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
