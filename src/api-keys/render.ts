import chalk from 'chalk';
import type { KeysListResult } from './commands.js';
import type { CreatedApiKey, RevokedApiKey } from './store.js';
import { table } from '../common/text-table.js';

// Human renderings of `keys create|list|revoke`; --json prints the data.

const when = (at: string | null) => (at ? at.slice(0, 19).replace('T', ' ') : '-');

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

