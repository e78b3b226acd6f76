// The plans a tenant can be on. They live with the templates because what a plan means is what
// it renders into a tenant's compose file; tenants/input.ts validates plan names against this list.
export const planNames = ['starter', 'standard', 'enterprise'] as const;
export type Plan = (typeof planNames)[number];

// Resource limits per plan, rendered into the tenant's compose file. Redis's maxmemory stays below
// its container limit so eviction (allkeys-lru) happens before the kernel's OOM killer.
export const planResources: Record<Plan, Record<string, string>> = {
  starter: { app_memory: '256m', worker_memory: '192m', db_memory: '512m', redis_memory: '128m', redis_maxmemory: '96mb', app_cpus: '0.5', db_cpus: '0.5' },
  standard: { app_memory: '512m', worker_memory: '256m', db_memory: '1g', redis_memory: '256m', redis_maxmemory: '192mb', app_cpus: '1.0', db_cpus: '1.0' },
  enterprise: { app_memory: '1g', worker_memory: '512m', db_memory: '2g', redis_memory: '512m', redis_maxmemory: '384mb', app_cpus: '2.0', db_cpus: '2.0' },
};

// The most processes and threads one container of a tenant may run (compose pids_limit), per plan:
// `{{pids_limit}}` in a template. A fork bomb or a thread leak in one tenant then stops at its own
// ceiling instead of exhausting the host's pid space for everyone. PostgreSQL forks a process per
// connection (max_connections 100 at most), Node and Python run a handful of threads each, so the
// smallest plan still has room. The config's plans.<plan>.pidsLimit overrides these.
export const defaultPidsLimits: Record<Plan, number> = { starter: 256, standard: 512, enterprise: 1024 };
