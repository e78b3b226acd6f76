import type { SecretsResult } from './show.js';

// KEY=value lines under a comment, so the output can be sourced or pasted into a .env file as it is.
export function renderSecrets(r: SecretsResult): string {
  return [`# ${r.id}: shown on purpose; recorded in the audit log as secrets.viewed`, ...Object.entries(r.secrets).map(([key, value]) => `${key}=${value}`)].join('\n');
}
