import { lastErrorLine } from '../common/exec.js';

// What went wrong in a failed `compose up`, in compose's own words. Its last line is often only
// "Encountered errors while bringing up the project." (v1); the lines that say which service
// failed and why come before it, and differ by version:
//   v1: "ERROR: for app  Container "b4be68cfebd3" is unhealthy."  (once per container, once per service)
//   v2: "dependency failed to start: container acme-db-1 is unhealthy"
//   both: "Error response from daemon: ...", "Pool overlaps with other one on this address space"

const v1ServiceError = /^ERROR: for (\S+)\s+(.+)$/;
const v2Reasons = [/dependency failed to start: .+/i, /Error response from daemon: .+/i, /failed to create network .+/i, /Pool overlaps with other one on this address space/i, /^Error: .+/];

/** One line naming each failing service and compose's reason; falls back to the last error line. */
export function composeFailureReason(stderrTail: string): string {
  const lines = stderrTail.split('\n').map((l) => l.replace(/\r/g, '').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trim()).filter(Boolean);
  const byService = new Map<string, string>();
  for (const line of lines) {
    const match = v1ServiceError.exec(line);
    // v1 names each failure twice, by container (project_service_1) and by service: keep the service's.
    if (match && !/_\d+$/.test(match[1]!)) byService.set(match[1]!, match[2]!.trim());
  }
  if (byService.size === 0) {
    for (const line of lines) {
      const match = v1ServiceError.exec(line);
      if (match) byService.set(match[1]!, match[2]!.trim());
    }
  }
  const reasons = byService.size > 0
    ? [...byService].map(([service, reason]) => `${service}: ${reason}`)
    : [...new Set(lines.filter((l) => v2Reasons.some((p) => p.test(l))))];
  const text = reasons.length > 0 ? reasons.join('; ') : lastErrorLine(stderrTail);
  return text.replace(/\s+/g, ' ').slice(0, 600);
}
