import { usageError } from '../common/errors.js';

// `--since` for the audit log: an ISO date or date-time, or a duration back from now.

const units = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

// Only ISO 8601 shapes: Date.parse alone would also take "1", "May 2" or "yesterday 3" in
// implementation-defined ways, and an audit query must mean what the operator thinks it means.
const isoDate = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * `30m`, `2h`, `7d`, `1w`, `45s` (back from `now`), or `2025-01-31`, `2025-01-31T14:00`,
 * `2025-01-31T14:00:00Z`. A date without a time is midnight UTC; a time without an offset is local.
 * Anything else is a usage error (exit 2).
 */
export function parseSince(value: string, now: number): Date {
  const text = value.trim();
  const relative = /^(\d{1,6})\s*([smhdw])$/i.exec(text);
  if (relative) {
    const ms = Number(relative[1]) * units[relative[2]!.toLowerCase() as keyof typeof units];
    return new Date(now - ms);
  }
  if (isoDate.test(text)) {
    const at = Date.parse(text.replace(' ', 'T'));
    if (!Number.isNaN(at) && dateExists(text)) return new Date(at);
  }
  throw usageError(`--since ${JSON.stringify(value)}: expected an ISO date or date-time (2025-01-31, 2025-01-31T14:00Z) or a duration (30m, 2h, 7d, 1w)`);
}

/** Date.parse rolls 2025-02-30 over to March 2; refuse dates that do not exist instead. */
function dateExists(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const probe = new Date(Date.UTC(year, month - 1, day));
  return probe.getUTCFullYear() === year && probe.getUTCMonth() === month - 1 && probe.getUTCDate() === day;
}
