import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { judge, type ContainerSnapshot } from '../watch/classify.js';
import { probeHost } from '../watch/probe.js';
import { Exposition, type Sample } from './exposition.js';
import { Cached, sampleUsage, sampleVolumeBytes, type ContainerUsage } from './samplers.js';

// What /metrics shows. The registry-wide figures (tenants by status, requests, backups, operation
// durations, deliveries) come from the admin database, a few queries per scrape; the live ones
// (service health, CPU, memory, disk) from this host's engine: one container list per scrape, and
// the costly samples through their caches (samplers.ts).

/** Seconds: from a health check's few to a large restore's hour. */
export const durationBuckets = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const statuses = ['provisioning', 'active', 'stopped', 'suspended', 'failed', 'deprovisioning', 'deprovisioned'];

export class MetricsCollector {
  private readonly usage: Cached<Map<string, ContainerUsage>>;
  private readonly disk: Cached<Map<string, number>>;
  private runningIds: string[] = [];

  constructor(private readonly ctx: Context, private readonly signal: AbortSignal) {
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
    const [byStatus, mine, requests, backups, provisions, backupRuns, operations, deliveries, probed] = await Promise.all([
      q('SELECT status, count(*)::int AS n FROM admin_customers GROUP BY status'),
      q("SELECT c.id, c.compose_project, h.state, h.services FROM admin_customers c LEFT JOIN admin_tenant_health h ON h.customer_id = c.id WHERE c.host = $1 AND c.status = 'active' ORDER BY c.id", [host]),
      q("SELECT u.customer_id, sum(u.request_count)::float8 AS n FROM admin_api_usage u GROUP BY u.customer_id ORDER BY u.customer_id"),
      q("SELECT customer_id, extract(epoch FROM max(finished_at))::float8 AS at FROM admin_backups WHERE state = 'succeeded' GROUP BY customer_id ORDER BY customer_id"),
      q('SELECT extract(epoch FROM provisioned_at - created_at)::float8 AS s FROM admin_customers WHERE provisioned_at IS NOT NULL AND provisioned_at >= created_at'),
      q("SELECT extract(epoch FROM finished_at - started_at)::float8 AS s FROM admin_backups WHERE state = 'succeeded' AND finished_at IS NOT NULL"),
      q("SELECT verb, extract(epoch FROM finished_at - started_at)::float8 AS s FROM admin_operations WHERE state = 'completed' AND finished_at IS NOT NULL"),
      q('SELECT state, count(*)::int AS n FROM admin_alert_deliveries GROUP BY state'),
      probing,
    ]);
    const out = new Exposition();
    const count = new Map(byStatus.map((r) => [r.status as string, r.n as number]));
    out.gauge('tenantctl_tenants', 'Tenants on record by status (the whole registry).', statuses.map((status) => ({ labels: { status }, value: count.get(status) ?? 0 })));

    // Live, from this host's engine: one list call.
    const engineUp = !('error' in probed);
    out.gauge('tenantctl_host_up', 'Whether this host\'s Docker engine answered the scrape\'s container list (1) or not (0).', [{ labels: { host }, value: engineUp ? 1 : 0 }]);
    const ready: Sample[] = [];
    const serviceUp: Sample[] = [];
    const serviceHealthy: Sample[] = [];
    const watchState: Sample[] = [];
    const byProject = engineUp ? probed.p : new Map<string, ContainerSnapshot[]>();
    const tenantOfContainer = new Map<string, { tenant: string; service: string }>();
    for (const t of mine) {
      const containers = byProject.get(t.compose_project) ?? [];
      if (engineUp) ready.push({ labels: { tenant: t.id }, value: judge(containers, t.services ?? []).state === 'ready' ? 1 : 0 });
      for (const c of containers) {
        tenantOfContainer.set(c.id, { tenant: t.id, service: c.service });
        serviceUp.push({ labels: { tenant: t.id, service: c.service }, value: c.state === 'running' ? 1 : 0 });
        serviceHealthy.push({ labels: { tenant: t.id, service: c.service }, value: c.state === 'running' && c.health !== 'unhealthy' ? 1 : 0 });
      }
      for (const state of ['ready', 'degraded', 'down']) if (t.state) watchState.push({ labels: { tenant: t.id, state }, value: t.state === state ? 1 : 0 });
    }
    out.gauge('tenantctl_tenant_ready', 'Active tenant of this host whose every service runs and none is unhealthy, now (1) or not (0).', ready);
    out.gauge('tenantctl_tenant_watch_state', 'The state the watch last recorded for the tenant (1 for the current one of ready, degraded, down).', watchState);
    out.gauge('tenantctl_service_up', 'A tenant service\'s container is running (1) or not (0).', serviceUp);
    out.gauge('tenantctl_service_healthy', 'A tenant service runs and its health check (if any) does not say unhealthy (1), else 0.', serviceHealthy);

    // CPU and memory: sampled per refresh, reused for metrics.statsCacheSeconds.
    this.runningIds = [...byProject.values()].flat().filter((c) => c.state === 'running' && tenantOfContainer.has(c.id)).map((c) => c.id);
    const usage = this.runningIds.length > 0 ? await this.usage.get() : new Map<string, ContainerUsage>();
    const cpuSeconds: Sample[] = [];
    const cpuCores: Sample[] = [];
    const memory: Sample[] = [];
    for (const [id, u] of usage ?? []) {
      const owner = tenantOfContainer.get(id);
      if (!owner) continue;
      const labels = { tenant: owner.tenant, service: owner.service };
      if (u.cpuSeconds !== undefined) cpuSeconds.push({ labels, value: u.cpuSeconds });
      if (u.cpuCores !== undefined) cpuCores.push({ labels, value: u.cpuCores });
      memory.push({ labels, value: u.memoryBytes });
    }
    out.counter('tenantctl_service_cpu_seconds_total', 'CPU time a tenant service\'s container used since it started (local engine; sampled every metrics.statsCacheSeconds): rate() gives cores.', cpuSeconds);
    out.gauge('tenantctl_service_cpu_cores', 'CPU a tenant service used over Docker\'s last sample, in cores (tcp/ssh engines: docker stats).', cpuCores);
    out.gauge('tenantctl_service_memory_bytes', 'Memory a tenant service used at the last sample (usage less inactive page cache, as docker stats shows it).', memory);

    // Disk: volume sizes, the slowest question; reused for metrics.diskCacheSeconds.
    const disk = await this.disk.get();
    out.gauge('tenantctl_tenant_disk_bytes', 'Bytes used by a tenant\'s volumes at the last measurement (every metrics.diskCacheSeconds).', disk ? mine.filter((t) => disk.has(t.compose_project)).map((t) => ({ labels: { tenant: t.id }, value: disk.get(t.compose_project)! })) : []);
    out.gauge('tenantctl_disk_sample_age_seconds', 'Age of the volume size measurement.', this.disk.ageSeconds() === undefined ? [] : [{ value: Math.round(this.disk.ageSeconds()!) }]);

    // The door's usage: request counts only (admin_api_usage records no status class).
    out.counter('tenantctl_api_requests_total', 'Authenticated API requests counted by the front door per tenant (admin_api_usage; no status classes are recorded).', requests.map((r) => ({ labels: { tenant: r.customer_id }, value: r.n })));

    const nowSeconds = this.ctx.clock.now() / 1000;
    out.gauge('tenantctl_backup_last_success_timestamp_seconds', 'When the tenant\'s newest succeeded backup finished (Unix time).', backups.map((b) => ({ labels: { tenant: b.customer_id }, value: b.at })));
    out.gauge('tenantctl_backup_age_seconds', 'Seconds since the tenant\'s newest succeeded backup finished.', backups.map((b) => ({ labels: { tenant: b.customer_id }, value: Math.max(0, Math.round(nowSeconds - b.at)) })));

    const series = [
      { labels: { operation: 'provision' }, observations: provisions.map((r) => r.s as number) },
      { labels: { operation: 'backup' }, observations: backupRuns.map((r) => r.s as number) },
      ...[...new Set(operations.map((r) => r.verb as string))].sort().map((verb) => ({ labels: { operation: verb }, observations: operations.filter((r) => r.verb === verb).map((r) => r.s as number) })),
    ];
    out.histogram('tenantctl_operation_duration_seconds', 'How long operations took: provision (created to active), backup (succeeded runs), and journaled verbs (completed).', durationBuckets, series);

    const byState = new Map(deliveries.map((r) => [r.state as string, r.n as number]));
    out.gauge('tenantctl_alert_deliveries', 'Webhook deliveries on record by state.', ['pending', 'delivered', 'failed'].map((state) => ({ labels: { state }, value: byState.get(state) ?? 0 })));
    out.gauge('tenantctl_metrics_collect_seconds', 'How long this scrape took to collect.', [{ value: (this.ctx.clock.now() - started) / 1000 }]);
    return out.text();
  }
}
