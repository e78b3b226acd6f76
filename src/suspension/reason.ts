import { usageError } from '../common/errors.js';

/** The longest reason or public message on record (migration 019's checks on admin_customers). */
export const maxReasonLength = 200;

// Control characters (\p{Cc}: C0, DEL, C1) and format characters (\p{Cf}: the bidi overrides and
// isolates U+202A-202E/U+2066-2069, zero-width joiners, the BOM, soft hyphen...) and the line and
// paragraph separators: a format character renders invisibly and can make an operator's log or a
// visitor's page read other than it is (a right-to-left override reverses what follows).
const refused = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

function oneLine(flag: string, raw: unknown, what: string): string {
  // Checked before trimming: trim() would drop a trailing BOM (U+FEFF) unseen, and a line break
  // is refused rather than folded into a space.
  const bad = refused.exec(String(raw));
  const text = String(raw).trim().replace(/ +/g, ' ');
  if (bad) throw usageError(`${flag} must be one line of printable text: it holds U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} (a control or invisible format character)`);
  if (text.length > maxReasonLength) throw usageError(`${flag} is ${text.length} characters; at most ${maxReasonLength} (${what})`);
  return text;
}

/**
 * --reason: required, one line of printable text up to 200 characters. It is internal: operators
 * see it (status, list, suspended, the audit log) and so do API calls made with the tenant's own
 * keys (the 401), never anonymous visitors (the page shows --public-message or a generic text).
 */
export function parseReason(raw: unknown): string {
  if (raw === undefined || raw === null || String(raw).trim() === '') throw usageError('--reason is required: say why the tenant is suspended (operators and the tenant\'s own API keys see it; visitors do not)');
  return oneLine('--reason', raw, 'the reason');
}

/** --public-message: optional; what the front door's page tells every visitor (escaped there). */
export function parsePublicMessage(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  if (String(raw).trim() === '') throw usageError('--public-message is empty: leave it out for the generic page');
  return oneLine('--public-message', raw, 'the message on the page');
}
