import { isRecord } from './render-compose.js';
import { numericUser } from './secret-copies.js';

// What every service of a shipped template has (docs/templates.md, "Hardening"), and what
// validation warns about when an operator's template leaves it out: a warning, not an error,
// because an operator's image may need what these take away (a service that writes all over its
// root filesystem, say), and only the operator can decide that. Each line names the service and the
// compose key that would fix it.

export function hardeningWarnings(tree: Record<string, unknown>): string[] {
  const services = isRecord(tree.services) ? tree.services : {};
  const warnings: string[] = [];
  for (const [name, service] of Object.entries(services)) {
    if (!isRecord(service)) continue;
    const missing: string[] = [];
    const capDrop = Array.isArray(service.cap_drop) ? service.cap_drop.map(String) : [];
    if (!capDrop.some((cap) => /^(CAP_)?ALL$/i.test(cap))) missing.push('cap_drop: [ALL] (then cap_add only what it needs)');
    const securityOpt = Array.isArray(service.security_opt) ? service.security_opt.map(String) : [];
    if (!securityOpt.some((opt) => /^no-new-privileges(:true|=true)?$/.test(opt))) missing.push('security_opt: ["no-new-privileges:true"]');
    if (service.read_only !== true && service.read_only !== 'true') missing.push('read_only: true (with tmpfs where it writes)');
    const deployPids = isRecord(service.deploy) && isRecord(service.deploy.resources) && isRecord(service.deploy.resources.limits) ? service.deploy.resources.limits.pids : undefined;
    if (!(Number(service.pids_limit ?? deployPids) > 0)) missing.push('pids_limit: "{{pids_limit}}"');
    // Non-root from the start: a numeric user (a name cannot be resolved without the image, and
    // tenantctl gives a service's secret copies to a uid: secret-copies.ts).
    if (!numericUser(service.user)) missing.push(service.user === undefined ? 'user: "<uid>:<gid>" (a non-root user from the start)' : `non-root numeric user: (it says ${JSON.stringify(String(service.user))}; tenantctl needs the uid to give it its secrets)`);
    if (missing.length > 0) warnings.push(`services.${name}: not hardened: no ${missing.join(', no ')}`);
  }
  return warnings;
}
