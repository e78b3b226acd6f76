import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { judge, type ContainerSnapshot } from '../watch/classify.js';
import { expectedServices } from '../watch/expected.js';
import { probeHost } from '../watch/probe.js';
import { Exposition, type Sample } from './exposition.js';
import { Cached, sampleUsage, sampleVolumeBytes, type ContainerUsage } from './samplers.js';

// What /metrics shows. The registry-wide figures (tenants by status, requests, backups, operation
// durations, deliveries) come from the admin database, a few queries per scrape; the live ones
// (service health, CPU, memory, disk) from this host's engine: one container list per scrape, and
// the costly samples through their caches (samplers.ts).

/** Seconds: from a health check's few to a large restore's hour. */
export const durationBuckets = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * SELECT list bucketing `expr` (seconds) in SQL: one count per bucket, the total and the sum. The
 * database does the counting, so a scrape costs the same with ten rows or a million.
 */
export function bucketSql(expr: string, buckets: readonly number[]): string {
  return [...buckets.map((le, i) => `count(*) FILTER (WHERE ${expr} <= ${Number(le)})::float8 AS b${i}`), 'count(*)::float8 AS n', `coalesce(sum(${expr}), 0)::float8 AS total`].join(', ');
}

const bucketed = (r: any, labels: Record<string, string>) => ({
  labels, cumulative: durationBuckets.map((_, i) => Number(r?.[`b${i}`] ?? 0)), count: Number(r?.n ?? 0), sum: Number(r?.total ?? 0),
});

/** Sums (or, for up and healthy, "any container") per tenant and service: a scaled service or a swarm's ended tasks are one series. */
function perService(entries: Array<{ tenant: string; service: string; value: number }>, combine: (a: number, b: number) => number): Sample[] {
  const byKey = new Map<string, { tenant: string; service: string; value: number }>();
  for (const e of entries) {
    const key = `${e.tenant}\u0000${e.service}`;
    const had = byKey.get(key);
    byKey.set(key, had ? { ...had, value: combine(had.value, e.value) } : { ...e });
  }
  return [...byKey.values()].map((e) => ({ labels: { tenant: e.tenant, service: e.service }, value: e.value }));
}
const statuses = ['provisioning', 'active', 'stopped', 'suspended', 'failed', 'deprovisioning', 'deprovisioned'];

export class MetricsCollector {
  private readonly usage: Cached<Map<string, ContainerUsage>>;
  private readonly disk: Cached<Map<string, number>>;
  private runningIds: string[] = [];

  /** log: where a section left out of a scrape says why (the agent's log; stderr when not given). */
  constructor(private readonly ctx: Context, private readonly signal: AbortSignal, private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {
    const now = () => ctx.clock.now();
    this.usage = new Cached(ctx.config.metrics.statsCacheSeconds * 1000, () => sampleUsage(ctx.dockerHost, this.runningIds, signal), now);
    this.disk = new Cached(ctx.config.metrics.diskCacheSeconds * 1000, () => sampleVolumeBytes(ctx.dockerHost, signal), now);
  }

  async collect(): Promise<string> {
    const started = this.ctx.clock.now();
    const db = await this.ctx.adminDb();
    const q = async (sql: string, params: unknown[] = []) => (await db.pool.query(sql, params).catch(db.unreachable)).rows;
    const host = this.ctx.dockerHost.id;
    const probing = probeHost(this.ctx.dockerHost, { signal: this.signal, recentSeconds: 0 }).then((p) => ({ p }), (error: unknown) => ({ error: messageOf(error) }));
    const [byStatus, mine, requests, backups, provisions, backupRuns, operations, deliveries, certificates, heartbeats, adminBackup, probed] = await Promise.all([
      q('SELECT status, count(*)::int AS n FROM admin_customers GROUP BY status'),
      q("SELECT c.id, c.compose_project, c.profiles, h.state FROM admin_customers c LEFT JOIN admin_tenant_health h ON h.customer_id = c.id WHERE c.host = $1 AND c.status = 'active' ORDER BY c.id", [host]),
      q("SELECT u.customer_id, sum(u.request_count)::float8 AS n, sum(u.responses_4xx)::float8 AS r4, sum(u.responses_5xx)::float8 AS r5 FROM admin_api_usage u GROUP BY u.customer_id ORDER BY u.customer_id"),
      q("SELECT customer_id, extract(epoch FROM max(finished_at))::float8 AS at FROM admin_backups WHERE state = 'succeeded' GROUP BY customer_id ORDER BY customer_id"),
      q(`SELECT ${bucketSql('extract(epoch FROM provisioned_at - created_at)', durationBuckets)} FROM admin_customers WHERE provisioned_at IS NOT NULL AND provisioned_at >= created_at`),
      // Pruned backups ran and succeeded too: counting them keeps _count from going down when one is pruned.
      q(`SELECT ${bucketSql('extract(epoch FROM finished_at - started_at)', durationBuckets)} FROM admin_backups WHERE state IN ('succeeded', 'pruned') AND finished_at IS NOT NULL`),
      q(`SELECT verb, ${bucketSql('extract(epoch FROM finished_at - started_at)', durationBuckets)} FROM admin_operations WHERE state = 'completed' AND finished_at IS NOT NULL GROUP BY verb ORDER BY verb`),
      q('SELECT state, count(*)::int AS n FROM admin_alert_deliveries GROUP BY state'),
      q('SELECT hostname, customer_id, kind, extract(epoch FROM not_after)::float8 AS not_after FROM admin_certificates WHERE revoked_at IS NULL AND not_after IS NOT NULL ORDER BY hostname'),
      q('SELECT host, extract(epoch FROM now() - beat_at)::float8 AS age FROM admin_agent_heartbeats ORDER BY host'),
      // The newest admin-backup (the operator's or the agent's schedule), from the audit log through the owner's function (029).
      // One missing grant (EXECUTE, granted by 029 only if the role existed then) leaves its two
      // families out, logged, and never costs the whole scrape.
      q('SELECT extract(epoch FROM admin_last_admin_backup())::float8 AS at').catch((error: unknown) => {
        this.log(`metrics: the admin backup's age left out: ${messageOf(error)}`);
        return [];
      }),
      probing,
    ]);
    const out = new Exposition();
    const count = new Map(byStatus.map((r) => [r.status as string, r.n as number]));
    // Registry-wide families carry the serving host's label: every host's agent exposes the same
    // figures, and `max by (status) (tenantctl_tenants)` (not sum) reads them once (README).
    out.gauge('tenantctl_tenants', 'Tenants on record by status (the whole registry; every host serves it, labelled by host: aggregate with max).', statuses.map((status) => ({ labels: { host, status }, value: count.get(status) ?? 0 })));

    // Live, from this host's engine: one list call.
    const engineUp = !('error' in probed);
    out.gauge('tenantctl_host_up', 'Whether this host\'s Docker engine answered the scrape\'s container list (1) or not (0).', [{ labels: { host }, value: engineUp ? 1 : 0 }]);
    const ready: Sample[] = [];
    const serviceUp: Array<{ tenant: string; service: string; value: number }> = [];
    const serviceHealthy: Array<{ tenant: string; service: string; value: number }> = [];
    const watchState: Sample[] = [];
    const byProject = engineUp ? probed.p : new Map<string, ContainerSnapshot[]>();
    const tenantOfContainer = new Map<string, { tenant: string; service: string }>();
    for (const t of mine) {
      const containers = byProject.get(t.compose_project) ?? [];
      if (engineUp) {
        const expected = (await expectedServices(this.ctx.config.customersDir, t.id, t.profiles ?? [])) ?? [];
        ready.push({ labels: { tenant: t.id }, value: judge(containers, expected).state === 'ready' ? 1 : 0 });
      }
      for (const c of containers) {
        tenantOfContainer.set(c.id, { tenant: t.id, service: c.service });
        serviceUp.push({ tenant: t.id, service: c.service, value: c.state === 'running' ? 1 : 0 });
        serviceHealthy.push({ tenant: t.id, service: c.service, value: c.state === 'running' && c.health !== 'unhealthy' ? 1 : 0 });
      }
      for (const state of ['ready', 'degraded', 'down']) if (t.state) watchState.push({ labels: { tenant: t.id, state }, value: t.state === state ? 1 : 0 });
    }
    out.gauge('tenantctl_tenant_ready', 'Active tenant of this host whose every service runs and none is unhealthy, now (1) or not (0).', ready);
    out.gauge('tenantctl_tenant_watch_state', 'The state the watch last recorded for the tenant (1 for the current one of ready, degraded, down).', watchState);
    out.gauge('tenantctl_service_up', 'A container of the tenant service is running (1) or none is (0).', perService(serviceUp, Math.max));
    out.gauge('tenantctl_service_healthy', 'A container of the tenant service runs and its health check (if any) does not say unhealthy (1), else 0.', perService(serviceHealthy, Math.max));

    // CPU and memory: sampled per refresh, reused for metrics.statsCacheSeconds.
    this.runningIds = [...byProject.values()].flat().filter((c) => c.state === 'running' && tenantOfContainer.has(c.id)).map((c) => c.id);
    const usage = this.runningIds.length > 0 ? await this.usage.get() : new Map<string, ContainerUsage>();
    const cpuSeconds: Array<{ tenant: string; service: string; value: number }> = [];
    const cpuCores: Array<{ tenant: string; service: string; value: number }> = [];
    const memory: Array<{ tenant: string; service: string; value: number }> = [];
    for (const [id, u] of usage ?? []) {
      const owner = tenantOfContainer.get(id);
      if (!owner) continue;
      if (u.cpuSeconds !== undefined) cpuSeconds.push({ ...owner, value: u.cpuSeconds });
      if (u.cpuCores !== undefined) cpuCores.push({ ...owner, value: u.cpuCores });
      memory.push({ ...owner, value: u.memoryBytes });
    }
    const sum = (a: number, b: number) => a + b;
    out.counter('tenantctl_service_cpu_seconds_total', 'CPU time the tenant service\'s running containers used since they started, summed (local engine; sampled every metrics.statsCacheSeconds): rate() gives cores.', perService(cpuSeconds, sum));
    out.gauge('tenantctl_service_cpu_cores', 'CPU the tenant service\'s containers used over Docker\'s last sample, in cores, summed (tcp/ssh engines: docker stats).', perService(cpuCores, sum));
    out.gauge('tenantctl_service_memory_bytes', 'Memory the tenant service\'s containers used at the last sample, summed (usage less inactive page cache, as docker stats shows it).', perService(memory, sum));

    // Disk: volume sizes, the slowest question; reused for metrics.diskCacheSeconds.
    const disk = await this.disk.get();
    out.gauge('tenantctl_tenant_disk_bytes', 'Bytes used by a tenant\'s volumes at the last measurement (every metrics.diskCacheSeconds).', disk ? mine.filter((t) => disk.has(t.compose_project)).map((t) => ({ labels: { tenant: t.id }, value: disk.get(t.compose_project)! })) : []);
    out.gauge('tenantctl_disk_sample_age_seconds', 'Age of the volume size measurement.', this.disk.ageSeconds() === undefined ? [] : [{ value: Math.round(this.disk.ageSeconds()!) }]);

    // The door's usage: all requests, and those answered 4xx and 5xx (counted since migration 031;
    // lines of an older door carry no status, so the classes can sum to less than the requests).
    out.counter('tenantctl_api_requests_total', 'Authenticated API requests counted by the front door per tenant (admin_api_usage; registry-wide, labelled by the serving host).', requests.map((r) => ({ labels: { host, tenant: r.customer_id }, value: r.n })));
    out.counter('tenantctl_api_responses_total', 'Authenticated API requests the front door answered 4xx or 5xx, per tenant and class (admin_api_usage; the rest are 2xx/3xx; registry-wide, labelled by the serving host).',
      requests.flatMap((r) => [{ labels: { host, tenant: r.customer_id, class: '4xx' }, value: r.r4 }, { labels: { host, tenant: r.customer_id, class: '5xx' }, value: r.r5 }]));

    const nowSeconds = this.ctx.clock.now() / 1000;
    out.gauge('tenantctl_backup_last_success_timestamp_seconds', 'When the tenant\'s newest succeeded backup finished (Unix time; registry-wide, labelled by the serving host).', backups.map((b) => ({ labels: { host, tenant: b.customer_id }, value: b.at })));
    out.gauge('tenantctl_backup_age_seconds', 'Seconds since the tenant\'s newest succeeded backup finished (registry-wide, labelled by the serving host).', backups.map((b) => ({ labels: { host, tenant: b.customer_id }, value: Math.max(0, Math.round(nowSeconds - b.at)) })));

    const adminAt = adminBackup[0]?.at as number | null | undefined;
    const admin = adminAt === null || adminAt === undefined ? [] : [{ labels: { host }, value: adminAt }];
    out.gauge('tenantctl_admin_backup_last_success_timestamp_seconds', 'When the admin database\'s newest backup into the repository (admin-backup) finished (Unix time; none before the first; registry-wide, labelled by the serving host).', admin);
    // Not clamped at 0: a negative age (a backup dated after the agent's clock) is a skewed clock or
    // a forged row, which the metric shows rather than hides as "just backed up".
    out.gauge('tenantctl_admin_backup_age_seconds', 'Seconds since the admin database\'s newest backup into the repository (admin-backup) finished (negative: dated after this agent\'s clock; registry-wide, labelled by the serving host).', admin.map((a) => ({ ...a, value: Math.round(nowSeconds - a.value) })));

    const series = [
      bucketed(provisions[0], { host, operation: 'provision' }),
      bucketed(backupRuns[0], { host, operation: 'backup' }),
      ...operations.map((r) => bucketed(r, { host, operation: r.verb as string })),
    ];
    out.histogramCounts('tenantctl_operation_duration_seconds', 'How long operations took: provision (created to active), backup (succeeded runs, pruned ones included), journaled verbs (completed); registry-wide, labelled by the serving host.', durationBuckets, series);

    const byState = new Map(deliveries.map((r) => [r.state as string, r.n as number]));
    out.gauge('tenantctl_alert_deliveries', 'Webhook deliveries on record by state (registry-wide, labelled by the serving host).', ['pending', 'delivered', 'failed'].map((state) => ({ labels: { host, state }, value: byState.get(state) ?? 0 })));
    // ACME certificates on record (admin_certificates): seconds until each one's notAfter, negative once expired.
    out.gauge('tenantctl_certificate_expiry_seconds', 'Seconds until the ACME certificate of a host name expires (notAfter on record; negative once expired; registry-wide, labelled by the serving host).', certificates.map((c) => ({
      labels: { host, name: c.hostname, tenant: c.customer_id ?? '', kind: c.kind }, value: Math.round(c.not_after - nowSeconds),
    })));
    out.gauge('tenantctl_agent_heartbeat_age_seconds', 'Seconds since the newest heartbeat of any agent of the host (admin_agent_heartbeats; every host, labelled by it; past agent.silentAfterSeconds is host.agent-silent).', heartbeats.map((r) => ({ labels: { host: r.host }, value: Math.max(0, Math.round(Number(r.age))) })));
    out.gauge('tenantctl_metrics_collect_seconds', 'How long this scrape took to collect.', [{ value: (this.ctx.clock.now() - started) / 1000 }]);
    return out.text();
  }
}
