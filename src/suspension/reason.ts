import { usageError } from '../common/errors.js';

/** The longest reason on record (admin_customers.suspension_reason's check, migration 019). */
export const maxReasonLength = 200;

/**
 * --reason: required, one line of printable text up to 200 characters. It is shown to the tenant's
 * visitors on the front door's page and to API callers in the 401 (escaped for HTML and JSON there),
 * so a control character or a line break is refused here rather than mangled there.
 */
export function parseReason(raw: unknown): string {
  if (raw === undefined || raw === null || String(raw).trim() === '') throw usageError('--reason is required: say why the tenant is suspended (it is shown on its page and in the audit log)');
  const reason = String(raw).trim().replace(/\s+/g, ' ');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(reason)) throw usageError('--reason must be one line of printable text (no control characters)');
  if (reason.length > maxReasonLength) throw usageError(`--reason is ${reason.length} characters; at most ${maxReasonLength}`);
  return reason;
}
