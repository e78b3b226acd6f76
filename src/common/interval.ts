import { usageError } from './errors.js';

// How often a schedule runs, as written in the configuration: `every <n><unit>` with unit s, m, h
// or d (`every 24h`, `every 30m`, `every 7d`), or `off`. An interval, not a time of day: the next
// run is due that long after the previous one finished (src/schedules/store.ts); here because the config schema validates it too, so a run that
// took long, or an agent that was down, never makes runs pile up.

export const intervalPattern = /^(off|every [1-9][0-9]{0,5}[smhd])$/;
const unitSeconds = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
/** Shorter would make the agent a busy loop of jobs; a schedule is for hours, not seconds. */
export const shortestIntervalSeconds = 60;

/** Seconds between runs, or undefined for `off`; a usage error (exit 2) for anything else. */
export function intervalSeconds(spec: string, where = 'schedule'): number | undefined {
  const text = spec.trim();
  if (!intervalPattern.test(text)) throw usageError(`${where} ${JSON.stringify(spec)}: expected "every <n>s|m|h|d" (e.g. "every 24h") or "off"`);
  if (text === 'off') return undefined;
  const amount = Number(text.slice(6, -1));
  const seconds = amount * unitSeconds[text.slice(-1) as keyof typeof unitSeconds];
  if (seconds < shortestIntervalSeconds) throw usageError(`${where} ${JSON.stringify(spec)}: the shortest interval is ${shortestIntervalSeconds}s`);
  return seconds;
}

/** Whether a spec is valid, for the config schema (which reports `path: message`). */
export function isIntervalSpec(spec: string): boolean {
  try {
    intervalSeconds(spec);
    return true;
  } catch {
    return false;
  }
}
