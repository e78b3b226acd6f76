import type { DockerHost } from '../engine/docker-host.js';
import { filtersQuery } from '../engine/engine-api.js';
import { inspectContainers } from '../engine/docker.js';
import { hostProbeTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { exitCodeFromStatus, healthFromStatus, startedRecently, type ContainerSnapshot } from './classify.js';

// One look at every tenant's containers on one host: one list call (the socket API, or one
// `docker ps` for tcp/ssh engines) gives each container's state and health; only containers that
// started within the last pass are inspected (one more call) for their restart count. A host of a
// hundred tenants therefore costs one call per pass while all is well.

const managed = 'tenantctl.managed=true';

interface Listed {
  Id: string;
  Labels?: Record<string, string>;
  State?: string;
  Status?: string;
}

/** Every tenantctl-managed container on the host by compose project; throws when the engine does not answer within hostProbeTimeoutMs. */
export async function probeHost(host: DockerHost, { signal, recentSeconds }: { signal: AbortSignal; recentSeconds: number }): Promise<Map<string, ContainerSnapshot[]>> {
  const within = AbortSignal.any([signal, AbortSignal.timeout(hostProbeTimeoutMs)]);
  let listed: Listed[];
  if (host.kind === 'swarm') {
    // A swarm's containers are on its nodes: the manager answers per stack, running or not.
    const { stackStates } = await import('../swarm/swarm-stack.js');
    const states = await stackStates(host, within);
    return new Map([...states].map(([project, state]) => [project, [{ id: project, project, service: '*', state: state === 'running' ? 'running' : 'exited' }]]));
  }
  if (host.api) {
    listed = (await host.api.get<Listed[]>(`/containers/json?all=true&${filtersQuery({ label: [managed] })}`, { signal: within, timeoutMs: hostProbeTimeoutMs })) ?? [];
  } else {
    const format = '{{.ID}}\t{{.Label "com.docker.compose.project"}}\t{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}';
    const out = await host.docker(['ps', '-a', '--no-trunc', '--filter', `label=${managed}`, '--format', format], { signal: within, timeoutMs: hostProbeTimeoutMs });
    listed = out.split('\n').filter(Boolean).map((line) => {
      const [id = '', project = '', service = '', state = '', status = ''] = line.split('\t');
      return { Id: id, Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': service }, State: state, Status: status };
    });
  }
  const snapshots: ContainerSnapshot[] = listed
    .filter((c) => c.Labels?.['com.docker.compose.project'])
    .map((c) => ({
      id: c.Id.slice(0, 12),
      project: c.Labels!['com.docker.compose.project']!,
      service: c.Labels?.['com.docker.compose.service'] ?? '',
      state: c.State ?? 'unknown',
      health: healthFromStatus(c.Status ?? ''),
      ...(c.State === 'exited' && exitCodeFromStatus(c.Status ?? '') !== undefined ? { exitCode: exitCodeFromStatus(c.Status ?? '') } : {}),
      ...(c.State === 'running' && startedRecently(c.Status ?? '', recentSeconds) ? { restartCount: -1 } : {}),
    }));
  const recent = snapshots.filter((c) => c.restartCount === -1);
  if (recent.length > 0) {
    const inspected = await inspectContainers(host, recent.map((c) => c.id), within).catch(ignoreFailure('one of them vanished meanwhile (a re-create): the next pass looks again'));
    const byId = new Map((inspected ?? []).map((c) => [c.id, c]));
    for (const c of recent) {
      const found = byId.get(c.id);
      c.restartCount = found?.restartCount ?? 0;
      c.startedAt = found?.startedAt;
    }
  }
  const byProject = new Map<string, ContainerSnapshot[]>();
  for (const c of snapshots) byProject.set(c.project, [...(byProject.get(c.project) ?? []), c]);
  return byProject;
}
