import { isRecord } from './render-compose.js';

// Compose fills `${VAR}` and `$VAR` in a compose file from the environment it runs in. tenantctl
// hands compose a scrubbed environment (common/exec.ts), but a template must not depend on it
// either way: a tenant's stack is what its template and tenantctl's values say, not what happens to
// be set where tenantctl runs (e.g. TENANTCTL_MASTER_KEY, which would then land in a container).
// tenantctl's own values are {{name}} placeholders; `$$` is compose's escape for a literal `$` (and
// what rendering makes of a `$` in a tenant's value), so it stays allowed.

/**
 * The first place in a rendered compose tree (keys and values) where compose would interpolate
 * from the environment, as `path: the reference`, or undefined when there is none.
 */
export function environmentInterpolation(tree: unknown, where = ''): string | undefined {
  if (typeof tree === 'string') {
    const reference = /\$(\{[^}]*\}?|[A-Za-z_][A-Za-z0-9_]*|.?)/.exec(tree.replaceAll('$$', ''));
    return reference ? `${where || '(top)'}: ${reference[0]}` : undefined;
  }
  const entries = Array.isArray(tree) ? tree.map((value, index) => [String(index), value] as const) : isRecord(tree) ? Object.entries(tree) : [];
  for (const [key, value] of entries) {
    const path = where ? `${where}.${key}` : key;
    const found = environmentInterpolation(key, where || '(top)') ?? environmentInterpolation(value, path);
    if (found) return found;
  }
  return undefined;
}
