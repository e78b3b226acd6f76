-- The agent (issue 22): the one long-running part of tenantctl, one per Docker host, in its own
-- compose project. It runs scheduled jobs (backups per plan, backup retention, doctor reports)
-- whose schedules are rows here, not timers in its memory: a job missed while no agent ran is
-- claimed once when one is back (next_run_at in the past), never twice (running_run is set in the
-- claiming transaction), and its next run is computed from when it finished, not caught up.
CREATE TABLE admin_schedules (
  id              bigserial PRIMARY KEY,
  -- the Docker host whose agent runs it (admin_hosts.name, or this environment's TENANTCTL_HOST_ID)
  host            text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('backup', 'retention', 'doctor')),
  -- a plan (backup, retention) or '*' (doctor: the whole host)
  target          text NOT NULL,
  -- as written in the configuration (`every 24h`) and in seconds
  spec            text NOT NULL,
  every_seconds   integer NOT NULL CHECK (every_seconds >= 60),
  -- retention: how many succeeded backups of each tenant are kept
  keep            integer CHECK (keep IS NULL OR keep >= 1),
  next_run_at     timestamptz NOT NULL DEFAULT now(),
  running_run     bigint,
  last_started_at timestamptz,
  last_finished_at timestamptz,
  last_outcome    text CHECK (last_outcome IN ('succeeded', 'failed')),
  last_error      text,
  -- removed from the configuration by `agent up` while its run was in flight: never claimed again,
  -- and deleted (with its runs) by the agent when that run finishes
  disabled        boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (host, kind, target)
);

-- One row per run of a schedule: who ran it, when, how it ended, and what it did per tenant.
CREATE TABLE admin_schedule_runs (
  id          bigserial PRIMARY KEY,
  schedule_id bigint NOT NULL REFERENCES admin_schedules (id) ON DELETE CASCADE,
  host        text NOT NULL,
  state       text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'succeeded', 'failed')),
  actor       text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}',
  error       text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  -- the claiming agent's leader session (its leader lock's backend pid and backend_start): a run is
  -- settled as interrupted only once that session is gone, and only that session finishes it
  leader_pid     integer,
  leader_started text,
  CHECK ((state = 'running') = (finished_at IS NULL))
);
CREATE INDEX admin_schedule_runs_schedule_idx ON admin_schedule_runs (schedule_id, started_at DESC);
ALTER TABLE admin_schedules ADD CONSTRAINT admin_schedules_running_run_fkey FOREIGN KEY (running_run) REFERENCES admin_schedule_runs (id) ON DELETE SET NULL;

-- A scheduled backup of a tenant is journaled (src/schedules/scheduled-backup.ts): an agent killed
-- during it leaves a running operation that the next holder of the tenant's lock settles.
ALTER TABLE admin_operations DROP CONSTRAINT admin_operations_verb_check;
ALTER TABLE admin_operations ADD CONSTRAINT admin_operations_verb_check
  CHECK (verb IN ('restore', 'move', 'rotate-secrets', 'upgrade', 'backup-prune', 'doctor-fix', 'scheduled-backup'));

-- Deletes one schedule that `agent up` disabled while it ran, once its run is over, and nothing else:
-- what the agent runs when it finishes that run (it has no DELETE on admin_schedules).
CREATE FUNCTION admin_drop_disabled_schedule(schedule bigint) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ DELETE FROM public.admin_schedules WHERE id = schedule AND disabled AND running_run IS NULL $$;
REVOKE ALL ON FUNCTION admin_drop_disabled_schedule(bigint) FROM PUBLIC;

-- The agent's own login: not a superuser, no CREATE anywhere, no DELETE anywhere (018 adds admin_tenant_health's), and only what its
-- jobs read and write. Its password is set by `tenantctl agent up` from <stateDir>/agent-db.env as a
-- SCRAM verifier (src/agent/db-role.ts). Migration 018 (alerts, watch) may create the same role with
-- the same attributes and grant it its own tables.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    BEGIN
      CREATE ROLE tenantctl_agent LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 16;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'tenantctl_agent not created (this user may not create roles)';
      RETURN;
    END;
  END IF;
  -- Opening the admin database checks that its schema is the one the agent's code expects.
  GRANT SELECT ON admin_schema_migrations TO tenantctl_agent;
  -- Its schedules: it claims and finishes them (the schedules themselves are written by `agent up`).
  GRANT SELECT ON admin_schedules TO tenantctl_agent;
  -- A schedule `agent up` disabled while it ran is deleted by the agent when that run finishes, through
  -- the owner's function below (no DELETE on the table).
  GRANT EXECUTE ON FUNCTION admin_drop_disabled_schedule(bigint) TO tenantctl_agent;
  GRANT UPDATE (next_run_at, running_run, last_started_at, last_finished_at, last_outcome, last_error) ON admin_schedules TO tenantctl_agent;
  GRANT SELECT, INSERT, UPDATE ON admin_schedule_runs TO tenantctl_agent;
  GRANT USAGE ON SEQUENCE admin_schedule_runs_id_seq TO tenantctl_agent;
  -- What a backup reads: the tenant's record (with its sealed secrets, opened with the master key),
  -- ports, host, modules, key hashes (never keys), last deployment, and the master key's check value.
  GRANT SELECT ON admin_customers, admin_allocations, admin_hosts, admin_placements, admin_customer_modules,
                  admin_feature_modules, admin_tenant_deployments, admin_customer_domains TO tenantctl_agent;
  GRANT SELECT (id, customer_id, name, prefix, key_hash, created_at, revoked_at) ON admin_api_keys TO tenantctl_agent;
  GRANT SELECT (key, value) ON admin_settings TO tenantctl_agent;
  -- A backup's job row, retention marking pruned ones, the journal of its runs, the audit log.
  GRANT SELECT, INSERT, UPDATE ON admin_backups TO tenantctl_agent;
  GRANT SELECT, INSERT, UPDATE ON admin_operations TO tenantctl_agent;
  GRANT USAGE ON SEQUENCE admin_operations_id_seq TO tenantctl_agent;
  GRANT INSERT ON admin_audit_logs TO tenantctl_agent;
  GRANT USAGE ON SEQUENCE admin_audit_logs_id_seq TO tenantctl_agent;
END $$;
