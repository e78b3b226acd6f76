// The doctor's judgement, pure: what the registry, the allocations, customers/ and Docker (by
// label) say, compared; each discrepancy with the command that fixes it, and whether
// `doctor --fix` may repair it itself (only what cannot lose data).

export interface StackOnHost {
  project: string;
  containers: Array<{ id: string; service: string; state: string }>;
  networks: string[];
  volumes: string[];
}

export interface TenantRow {
  id: string;
  status: string;
  keptData: boolean;
  composeProject: string;
  host: string;
  /** The services its own stack has (its rendered compose file, its profiles), when known: templates differ. */
  expectedServices?: string[];
  /** For provisioning/deprovisioning rows: whether a tenantctl process holds the tenant's lock now. */
  locked?: boolean;
}

export interface Snapshot {
  host: string;
  projectPrefix: string;
  rows: TenantRow[];
  allocations: Array<{ customerId: string; kind: string; value: string; host: string }>;
  stacks: StackOnHost[];
  /** Tenant ids that have a folder in customers/. */
  folders: string[];
  /** The services a whole stack has (the template's), to tell a partial stack. */
  expectedServices: string[];
}

export type FindingKind = 'orphan-stack' | 'missing-stack' | 'partial-stack' | 'stray-allocation' | 'orphan-folder' | 'stale-folder' | 'stuck';

export interface Finding {
  kind: FindingKind;
  tenant: string;
  detail: string;
  /** The command an operator runs to fix it. */
  fix: string;
  /** Whether `doctor --fix` repairs it (never by removing a volume, a kept tenant's data or an active row). */
  fixable: boolean;
}

/** Statuses whose tenant holds allocations and a stack on the host. */
const holding = new Set(['provisioning', 'active', 'stopped', 'deprovisioning']);

const tenantOf = (project: string, prefix: string) => project.slice(prefix.length + 1);

export function findDiscrepancies(s: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const rows = s.rows.filter((r) => r.host === s.host);
  const byProject = new Map(rows.map((r) => [r.composeProject, r]));
  const byId = new Map(s.rows.map((r) => [r.id, r]));
  const stacks = new Map(s.stacks.filter((st) => st.project.startsWith(`${s.projectPrefix}-`)).map((st) => [st.project, st]));

  for (const stack of stacks.values()) {
    const row = byProject.get(stack.project);
    const running = stack.containers.length + stack.networks.length;
    const id = tenantOf(stack.project, s.projectPrefix);
    const elsewhere = byId.get(id);
    if (!row && running + stack.volumes.length > 0 && elsewhere && elsewhere.composeProject === stack.project && elsewhere.host !== s.host) {
      // Left here by a move that failed or was cut off: the tenant's row names its live host, and
      // `deprovision <id>` goes there: it would remove the live tenant, not these leftovers.
      const volumes = stack.volumes.length > 0 ? `; its volumes stay (docker volume rm ${stack.volumes.join(' ')} on ${s.host})` : '';
      findings.push({
        kind: 'orphan-stack', tenant: id,
        detail: `Docker has ${describe(stack)} of ${stack.project} on ${s.host}, but ${id} is recorded on Docker host ${elsewhere.host} (${elsewhere.status}): leftovers of a move, not its live stack`,
        fix: `tenantctl doctor --host ${s.host} --fix   # removes its containers and network on ${s.host} only${volumes}${elsewhere.status === 'active' ? `; or move it here again: tenantctl move ${id} --to ${s.host} (removes them first)` : ''}; never deprovision ${id}: that removes the tenant on ${elsewhere.host}`,
        fixable: running > 0,
      });
    } else if (!row && running + stack.volumes.length > 0) {
      const volumes = stack.volumes.length > 0 ? `; its volumes ${stack.volumes.join(', ')} are left for you to judge` : '';
      findings.push({
        kind: 'orphan-stack', tenant: id,
        detail: `Docker has ${describe(stack)} of ${stack.project}, and the registry has no tenant for it${volumes}`,
        fix: `tenantctl deprovision ${id} --yes   # removes its containers, network and volumes`,
        fixable: running > 0,
      });
    } else if (row && (row.status === 'deprovisioned' || row.status === 'failed') && running > 0) {
      findings.push({
        kind: 'orphan-stack', tenant: row.id,
        detail: `${row.id} is ${row.status} but Docker still has ${describe(stack)}`,
        fix: `tenantctl deprovision ${row.id} --yes${row.keptData ? ' --keep-data' : ''}`,
        fixable: true,
      });
    }
  }

  for (const row of rows) {
    const stack = stacks.get(row.composeProject);
    if (row.status === 'active' || row.status === 'stopped') {
      if (!stack || stack.containers.length === 0) {
        findings.push({
          kind: 'missing-stack', tenant: row.id, detail: `${row.id} is ${row.status} in the registry, but Docker has no container of ${row.composeProject}`,
          fix: `tenantctl deprovision ${row.id} --yes --keep-data && tenantctl provision ${row.id}`, fixable: false,
        });
      } else {
        const present = new Set(stack.containers.map((c) => c.service));
        const missing = (row.expectedServices ?? s.expectedServices).filter((service) => !present.has(service));
        const down = row.status === 'active' ? stack.containers.filter((c) => c.state !== 'running') : [];
        if (missing.length > 0 || down.length > 0) {
          const parts = [...(missing.length ? [`no ${missing.join(', ')} container`] : []), ...down.map((c) => `${c.service} ${c.state}`)];
          findings.push({
            kind: 'partial-stack', tenant: row.id, detail: `${row.id} is ${row.status}, but its stack is partial: ${parts.join(', ')}`,
            fix: `tenantctl status ${row.id}   # then restart it, or deprovision --keep-data and provision again`, fixable: false,
          });
        }
      }
    }
    if ((row.status === 'provisioning' || row.status === 'deprovisioning') && row.locked === false) {
      findings.push({
        kind: 'stuck', tenant: row.id,
        detail: `${row.id} is ${row.status} but no tenantctl process is working on it (one was interrupted)`,
        fix: row.status === 'provisioning' ? `tenantctl provision ${row.id}   # resumes from clean${row.keptData ? ', keeping its data' : ''}` : `tenantctl deprovision ${row.id} --yes${row.keptData ? ' --keep-data' : ''}`,
        // An interrupted provision is recorded as failed and its containers removed (volumes stay);
        // an interrupted deprovision is left for the operator, who knows whether data was to be kept.
        fixable: row.status === 'provisioning',
      });
    }
  }

  const strays = new Map<string, string[]>();
  for (const a of s.allocations.filter((x) => x.host === s.host)) {
    const owner = byId.get(a.customerId);
    // A failed tenant whose stack could not be removed keeps what the stack still uses.
    const stillUsed = owner?.status === 'failed' && (stacks.get(owner.composeProject)?.containers.length ?? 0) > 0;
    if ((!owner || !holding.has(owner.status)) && !stillUsed) strays.set(a.customerId, [...(strays.get(a.customerId) ?? []), `${a.kind} ${a.value}`]);
  }
  for (const [id, held] of strays) {
    findings.push({
      kind: 'stray-allocation', tenant: id, detail: `${held.join(', ')} held for ${id}, which is ${byId.get(id)?.status ?? 'not in the registry'}`,
      fix: 'tenantctl doctor --fix   # releases them', fixable: true,
    });
  }

  for (const id of s.folders) {
    const row = byId.get(id);
    if (!row) {
      findings.push({
        kind: 'orphan-folder', tenant: id, detail: `customers/${id}/ exists, but the registry has no tenant ${id} (its secrets/ may hold the passwords of volumes Docker still has)`,
        fix: `rm -r customers/${id}   # once you know no volume needs its passwords`, fixable: false,
      });
    } else if (row.status === 'deprovisioned' && !row.keptData) {
      const stack = stacks.get(row.composeProject);
      findings.push({
        kind: 'stale-folder', tenant: id, detail: `customers/${id}/ is left from ${id}, deprovisioned without keeping its data`,
        fix: `rm -r customers/${id}`, fixable: !stack || stack.volumes.length === 0,
      });
    }
  }
  return findings;
}

function describe(stack: StackOnHost): string {
  const parts = [
    stack.containers.length ? `${stack.containers.length} container(s)` : '',
    stack.networks.length ? `${stack.networks.length} network(s)` : '',
    stack.volumes.length ? `${stack.volumes.length} volume(s)` : '',
  ].filter(Boolean);
  return parts.join(', ') || 'nothing';
}
