// The doctor's judgement, pure: what the registry, the allocations, customers/ and Docker (by
// label) say, compared; each discrepancy with the command that fixes it, and whether
// `doctor --fix` may repair it itself (only what cannot lose data).

import { aliasesOf, judgeLeftovers, namesHere, recordedAsAnotherEngine, type IdentityFacts } from './host-identity.js';

export interface StackOnHost {
  project: string;
  /** `ports`: docker ps's Ports column ("0.0.0.0:5440->5432/tcp, ..."). */
  containers: Array<{ id: string; service: string; state: string; ports?: string }>;
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
  /** When the row last changed: a repair checks under the lock that it has not changed since (doctor.ts). */
  updatedAt?: string;
  /**
   * On a host that keeps ports private (a remote engine, a swarm): the tenant's host ports that must
   * not be published (every allocated port but the front door's), by name. Unset elsewhere.
   */
  privatePorts?: Record<string, number>;
}

/** host, engineId, hosts, elsewhere: which names are this engine (host-identity.ts). */
export interface Snapshot extends IdentityFacts {
  projectPrefix: string;
  rows: TenantRow[];
  allocations: Array<{ customerId: string; kind: string; value: string; host: string }>;
  /** Unfinished operations in the journal (admin_operations); `inFlight`: a tenantctl holds the tenant's lock now. */
  operations: Array<{ tenant: string; verb: string; step: string; startedAt: string; actor: string; host: string; targetHost?: string; inFlight: boolean }>;
  stacks: StackOnHost[];
  /** The host is a swarm manager: stacks are gathered from every node, and a stopped tenant's services (scaled to 0) have no container. */
  swarm?: boolean;
  /** Tenant ids that have a folder in customers/. */
  folders: string[];
  /** The services a whole stack has (the template's), to tell a partial stack. */
  expectedServices: string[];
  /**
   * On a swarm: every port a tenant's service publishes, as the manager has it (the service's
   * endpoint spec; an ingress-mode port shows on no container, so `stacks` cannot tell it).
   */
  swarmPorts?: SwarmPublishedPort[];
  /** Every host's newest agent heartbeat and its age (admin_agent_heartbeats), with the silence threshold; unset when unknown. */
  agents?: { silentAfterSeconds: number; beats: Array<{ host: string; ageSeconds: number; beatAt: string }> };
}

/** One published port of a swarm service (`docker service inspect`: Spec.EndpointSpec.Ports). */
export interface SwarmPublishedPort {
  /** The stack, which is the tenant's compose project. */
  project: string;
  service: string;
  published: number;
  target: number;
  /** 'ingress' (the routing mesh, Docker's default) or 'host' (the task's node only). */
  mode: string;
}

export type FindingKind = 'orphan-stack' | 'missing-stack' | 'partial-stack' | 'stray-allocation' | 'orphan-folder' | 'stale-folder' | 'stuck' | 'host-alias' | 'host-mismatch'
  | 'interrupted-operation' | 'operation-in-flight' | 'suspended-running' | 'private-port-published' | 'agent-silent' | 'swarm-ingress-published';

export interface Finding {
  kind: FindingKind;
  /** The tenant it is about; '' for a finding about a host name (host-alias, host-mismatch). */
  tenant: string;
  /** The host name a host-alias or host-mismatch finding is about. */
  host?: string;
  detail: string;
  /** The command an operator runs to fix it. */
  fix: string;
  /** Whether `doctor --fix` repairs it (never by removing a volume, a kept tenant's data or an active row). */
  fixable: boolean;
}

/** Statuses whose tenant holds allocations and a stack on the host. */
const holding = new Set(['provisioning', 'active', 'stopped', 'suspended', 'deprovisioning']);

const tenantOf = (project: string, prefix: string) => project.slice(prefix.length + 1);

export function findDiscrepancies(s: Snapshot): Finding[] {
  const findings: Finding[] = [...identityFindings(s), ...silentAgents(s)];
  // A tenant with an unfinished operation is its operation's: what looks wrong with it now (clients
  // stopped by a restore, a move's two stacks) is that operation's state, settled from its journal.
  // Nothing else about it is judged, and nothing of it is repaired but by settling the operation.
  const operated = operationFindings(s);
  const busy = new Set(operated.map((f) => f.tenant));
  // Rows recorded under any name of this engine are judged here; rows of other engines are not.
  const here = namesHere(s);
  const rows = s.rows.filter((r) => here.has(r.host));
  const byProject = new Map(rows.map((r) => [r.composeProject, r]));
  const byId = new Map(s.rows.map((r) => [r.id, r]));
  const stacks = new Map(s.stacks.filter((st) => st.project.startsWith(`${s.projectPrefix}-`)).map((st) => [st.project, st]));

  for (const stack of stacks.values()) {
    const row = byProject.get(stack.project);
    const running = stack.containers.length + stack.networks.length;
    const id = tenantOf(stack.project, s.projectPrefix);
    const elsewhere = byId.get(id);
    if (!row && running + stack.volumes.length > 0 && elsewhere && elsewhere.composeProject === stack.project && !here.has(elsewhere.host)) {
      // Left here by a move that failed or was cut off, if the tenant runs on the host its row
      // names, and that host is another engine: `deprovision <id>` goes there and would remove the
      // live tenant, not these leftovers. Anything less proven may be the tenant's live stack.
      const verdict = judgeLeftovers(s, id, elsewhere.host, elsewhere.expectedServices ?? s.expectedServices);
      const volumes = stack.volumes.length > 0 ? `; its volumes stay (docker volume rm ${stack.volumes.join(' ')} on ${s.host})` : '';
      const recorded = `Docker has ${describe(stack)} of ${stack.project} on ${s.host}, but ${id} is recorded on Docker host ${elsewhere.host} (${elsewhere.status})`;
      findings.push(verdict.leftovers ? {
        kind: 'orphan-stack', tenant: id,
        detail: `${recorded}: leftovers of a move, not its live stack (it runs on ${elsewhere.host}, another engine)`,
        fix: `tenantctl doctor --host ${s.host} --fix   # removes its containers and network on ${s.host} only${volumes}${elsewhere.status === 'active' ? `; or move it here again: tenantctl move ${id} --to ${s.host} (removes them first)` : ''}; never deprovision ${id}: that removes the tenant on ${elsewhere.host}`,
        fixable: running > 0,
      } : {
        kind: 'orphan-stack', tenant: id,
        detail: `${recorded}; not removed as a move's leftovers: ${verdict.why}`,
        fix: verdict.fix,
        fixable: false,
      });
    } else if ((!row && running + stack.volumes.length > 0) || (row?.status === 'deprovisioned' && !row.keptData && running > 0)) {
      // Nothing of this registry accounts for it (no row; or a deprovision that proved the stack
      // gone): another registry's tenant on this engine, or this one's whose row was lost (an older
      // admin database restored). Either may be live: judged by the operator, never removed here.
      const why = row ? `${row.id} was deprovisioned here (its stack proven gone), yet Docker has ${describe(stack)} of ${stack.project}` : `Docker has ${describe(stack)} of ${stack.project}, and the registry has no tenant for it`;
      findings.push({
        kind: 'orphan-stack', tenant: id,
        detail: `${why}: another registry's tenant on this engine, or one whose row was lost; it may be live`,
        fix: `docker ps -a --filter label=com.docker.compose.project=${stack.project}   # then: tenantctl provision ${id} --adopt (this registry's tenant, row lost), or tenantctl deprovision ${id} --yes (nobody's: removes it with its volumes)`,
        fixable: false,
      });
    } else if (row && (row.status === 'deprovisioned' || row.status === 'failed') && running > 0) {
      // This registry's: a failed provision whose stack could not be removed, or containers started by hand on kept data.
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
    if (row.status === 'active' || row.status === 'stopped' || row.status === 'suspended') {
      if (!stack || stack.containers.length === 0) {
        if (s.swarm && row.status !== 'active') continue;
        findings.push({
          kind: 'missing-stack', tenant: row.id, detail: `${row.id} is ${row.status} in the registry, but Docker has no container of ${row.composeProject}`,
          fix: `tenantctl deprovision ${row.id} --yes --keep-data && tenantctl provision ${row.id}`, fixable: false,
        });
      } else {
        const present = new Set(stack.containers.map((c) => c.service));
        // On a swarm a stopped or suspended tenant's services are scaled to 0: the containers it has left
        // are ended tasks' (a task replaced earlier, reaped by swarm a moment after the scale), so which
        // services still have one says nothing about the stack.
        const missing = s.swarm && row.status !== 'active' ? [] : (row.expectedServices ?? s.expectedServices).filter((service) => !present.has(service));
        const down = row.status === 'active' ? stack.containers.filter((c) => c.state !== 'running') : [];
        if (missing.length > 0 || down.length > 0) {
          const parts = [...(missing.length ? [`no ${missing.join(', ')} container`] : []), ...down.map((c) => `${c.service} ${c.state}`)];
          findings.push({
            kind: 'partial-stack', tenant: row.id, detail: `${row.id} is ${row.status}, but its stack is partial: ${parts.join(', ')}`,
            fix: `tenantctl status ${row.id}   # then restart it, or deprovision --keep-data and provision again`, fixable: false,
          });
        }
        // A suspended tenant runs nothing (a backup killed while its state services were up, or a start by hand).
        const running = row.status === 'suspended' ? stack.containers.filter((c) => c.state === 'running') : [];
        if (running.length > 0) {
          findings.push({
            kind: 'suspended-running', tenant: row.id, detail: `${row.id} is suspended, but ${running.map((c) => c.service).join(', ')} ${running.length === 1 ? 'runs' : 'run'}`,
            fix: `tenantctl suspend ${row.id} --reason "still suspended"   # already suspended: stops its stack, keeps its first reason`, fixable: false,
          });
        }
      }
    }
    if (stack && row.privatePorts && (row.status === 'active' || row.status === 'stopped')) {
      const published = privatePortsPublished(stack, row.privatePorts);
      if (published.length > 0) {
        findings.push({
          kind: 'private-port-published', tenant: row.id,
          detail: `${row.id} publishes ${published.join(', ')} on the host's interfaces (a tenant made before remote hosts kept them private): reachable past the front door and the host's INPUT firewall`,
          // Swarm tenants upgrade too (a redeploy of the stack rendered anew).
          fix: `tenantctl upgrade ${row.id}   # re-renders it: only the front door's port stays published`,
          fixable: false,
        });
      }
    }
    if (s.swarm && s.swarmPorts && (row.status === 'active' || row.status === 'stopped')) {
      const finding = swarmIngressFinding(row, s.swarmPorts);
      if (finding) findings.push(finding);
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
  for (const a of s.allocations.filter((x) => here.has(x.host))) {
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
  return [...findings.filter((f) => !busy.has(f.tenant)), ...operated];
}

/**
 * An unfinished operation of a tenant recorded here (or moving here): killed (nobody holds the
 * tenant's lock), settled by --fix from its journal exactly as the next command on the tenant
 * would; or in flight (a tenantctl runs it now), left alone.
 */
function operationFindings(s: Snapshot): Finding[] {
  const here = namesHere(s);
  return s.operations.filter((op) => here.has(op.host) || (op.targetHost !== undefined && here.has(op.targetHost))).map((op) => {
    const what = `a ${op.verb} of ${op.tenant}, at step ${op.step}, started ${op.startedAt} by ${op.actor}`;
    return op.inFlight
      ? { kind: 'operation-in-flight' as const, tenant: op.tenant, detail: `${what}, is running now (a tenantctl holds the tenant's lock): nothing of ${op.tenant} is judged or repaired meanwhile`, fix: 'tenantctl doctor again once it has ended', fixable: false }
      : {
        kind: 'interrupted-operation' as const, tenant: op.tenant,
        detail: `${what}, was interrupted (no tenantctl holds the tenant's lock): its journal says how far it got`,
        fix: `tenantctl doctor --fix   # finishes it past its point of no return, else undoes it (so does the next command on ${op.tenant})`,
        fixable: true,
      };
  });
}

/** Hosts whose agent stopped beating: nothing watches, backs up or alerts there (agent/heartbeat.ts). */
function silentAgents(s: Snapshot): Finding[] {
  if (!s.agents) return [];
  return s.agents.beats.filter((b) => b.ageSeconds > s.agents!.silentAfterSeconds).map((b) => ({
    kind: 'agent-silent' as const, tenant: '', host: b.host,
    detail: `no agent of Docker host ${b.host} has beaten for ${b.ageSeconds} s (last at ${b.beatAt}; agent.silentAfterSeconds ${s.agents!.silentAfterSeconds}): its schedules, watch and alerts do not run`,
    fix: `tenantctl agent status   # on ${b.host}; then tenantctl agent up there (or tenantctl agent logs for why it stopped)`,
    fixable: false,
  }));
}

/** One engine, one name: this engine known under other names, or this name recorded as another engine. */
function identityFindings(s: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const own = recordedAsAnotherEngine(s);
  if (own) {
    findings.push({
      kind: 'host-mismatch', tenant: '', host: s.host,
      detail: `Docker host ${s.host} is recorded as engine ${own}, but ${s.host} reaches engine ${s.engineId} now (a reinstalled engine, two machines with one hostname, or a registered endpoint that reaches another engine now): the tenants recorded on ${s.host} are not judged here`,
      fix: `export TENANTCTL_HOST_ID=<this engine's own name>   # one engine, one name; then tenantctl doctor again (a registered host: tenantctl hosts list, and check its endpoint)`,
      fixable: false,
    });
  }
  for (const alias of aliasesOf(s)) {
    const tenants = s.rows.filter((r) => r.host === alias && r.status !== 'deprovisioned').length;
    findings.push({
      kind: 'host-alias', tenant: '', host: alias,
      detail: `this Docker engine (ID ${s.engineId}) is recorded as Docker host ${alias}, and this environment calls it ${s.host} (TENANTCTL_HOST_ID): one engine, two names; the ${tenants} tenant(s) recorded on ${alias} are judged here as this engine's`,
      fix: `export TENANTCTL_HOST_ID=${alias}   # this engine's name in the fleet (one engine, one name), then tenantctl doctor again`,
      fixable: false,
    });
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

/** "service name host-port" for each of the tenant's private ports a container of its stack publishes (docker ps's Ports: "[addr:]host->container/proto"). */
export function privatePortsPublished(stack: Pick<StackOnHost, 'containers'>, privatePorts: Readonly<Record<string, number>>): string[] {
  const names = new Map(Object.entries(privatePorts).map(([name, port]) => [port, name]));
  const found: string[] = [];
  for (const container of stack.containers) {
    for (const entry of (container.ports ?? '').split(',')) {
      const match = /:(\d+)(?:-(\d+))?->/.exec(entry.trim());
      if (!match) continue;
      const from = Number(match[1]);
      const to = Number(match[2] ?? match[1]);
      for (const [port, name] of names) {
        const text = `${container.service} ${name} ${port}`;
        if (port >= from && port <= to && !found.includes(text)) found.push(text);
      }
    }
  }
  return found;
}

/**
 * A swarm tenant whose services publish ports on the ingress routing mesh. tenantctl has always
 * rendered db and Redis unpublished and the door's port in host mode on the task's node with
 * endpoint mode dnsrr (swarm/swarm-render.ts), so only a hand edit (`docker service update
 * --publish-add`) makes one. The mesh makes every node of the swarm answer on such a port, and it is
 * NATed to the ingress network's load balancer before the node's INPUT rules would see it;
 * DOCKER-USER rules written for a host-mode port (matching the node's own address) do not match it
 * either, since by then it is addressed to the ingress network. So a database or Redis port there is
 * open to whatever reaches any node, whatever the host firewall says; the door's own port is then
 * open on every node instead of the one the door dials. Which port is which is told by the service
 * and the port inside it (db 5432, redis 6379), not by the published number. `upgrade` does not
 * undo a hand edit (it redeploys only what it renders differently), so the fix is the
 * `docker service update` that takes the port off the mesh.
 */
export function swarmIngressFinding(row: Pick<TenantRow, 'id' | 'composeProject'>, ports: readonly SwarmPublishedPort[]): Finding | undefined {
  const meshed = ports.filter((p) => p.project === row.composeProject && p.mode !== 'host');
  if (meshed.length === 0) return undefined;
  const described = meshed.map((p) => `${p.service} ${p.published}->${p.target}${privateKind(p) ? ` (its ${privateKind(p)} port)` : ''}`);
  const private_ = [...new Set(meshed.map(privateKind).filter((kind) => kind !== undefined))];
  const what = private_.length > 0
    ? `its ${private_.join(' and ')} port${private_.length === 1 ? '' : 's'} open to whatever reaches any node, past the nodes' INPUT firewall and DOCKER-USER rules`
    : 'every node answers on it, not only the one the front door dials, past the nodes\' INPUT firewall and DOCKER-USER rules';
  const services = [...new Set(meshed.map((p) => p.service))];
  const commands = services.map((service) => {
    const own = meshed.filter((p) => p.service === service);
    // db and Redis are published nowhere; the door's port goes back to host mode on the task's node.
    const flags = own.flatMap((p) => privateKind(p) ? [`--publish-rm ${p.target}`] : [`--publish-rm ${p.target}`, `--publish-add mode=host,published=${p.published},target=${p.target}`]);
    return `docker service update ${flags.join(' ')} --endpoint-mode dnsrr ${row.composeProject}_${service}`;
  });
  return {
    kind: 'swarm-ingress-published', tenant: row.id,
    detail: `${row.id} publishes ${described.join(', ')} on the swarm's ingress routing mesh: ${what}`,
    fix: `${commands.join('; ')}   # on the manager: takes the ports off the mesh, as tenantctl renders them (tenantctl upgrade does not undo a hand edit)`,
    fixable: false,
  };
}

/** The database or Redis port a published port leads to, by its service or the port inside (the door's port is neither). */
function privateKind(p: SwarmPublishedPort): 'database' | 'Redis' | undefined {
  if (p.service === 'db' || p.target === 5432) return 'database';
  if (p.service === 'redis' || p.target === 6379) return 'Redis';
  return undefined;
}
