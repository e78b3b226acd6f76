-- The suspension policy's days checked by the database (issue 22): 026's guard let the agent's role
-- deprovision any tenant suspended and warned more than a day before, whatever
-- suspension.deprovisionAfterDays said, because the days lived only in the configuration file. Now
-- `tenantctl agent up` (as the database's owner) records each host's policy in admin_settings
-- (key suspension_deprovision_after_days:<host>: a number of days, or 'off'), a table the agent's
-- role may read and never write, and the guard starts a policy deprovisioning only of a tenant
-- suspended longer than its host's recorded days and warned more than a day ago. No setting, 'off'
-- or anything that is not a number: the agent starts no deprovisioning at all. A run the policy
-- already began (status 'deprovisioning', its mark set) is still finished: it was due when it began.
-- And: when the admin database was last backed up (admin-backup), for the agent's admin.backup-missed
-- alert and /metrics, read from the audit log through one owner's function (the agent's role has no
-- SELECT on the audit log).

-- Every function here (and 017's and 026's, redefined below) names its tables with their schema and
-- searches pg_temp last: the caller's session could otherwise put a temporary table of the same name
-- first (pg_temp is searched first for tables unless named), and the guard would read the
-- attacker's rows (review: a temporary admin_customers with a forged 'deprovisioned' row let the
-- agent's role release an active tenant's allocations). The agent's role also loses TEMPORARY (end
-- of this file). Time is UTC inside them: a day subtracted in the session's time zone moves with
-- that zone's daylight saving jumps, and a session may SET any zone (a made-up one jumps up to
-- 334 hours), so every span is counted in hours, which no zone moves.

-- The host's policy as agent up recorded it: days, or NULL (off, unset, or not a number of days).
-- Called by the guard as the agent's role, which may read admin_settings (017).
CREATE FUNCTION admin_suspension_policy_days(host text) RETURNS integer
  LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp SET TimeZone = 'UTC'
  AS $$ SELECT CASE WHEN s.value ~ '^[0-9]{1,4}$' AND s.value::integer >= 1 THEN s.value::integer END
          FROM public.admin_settings s WHERE s.key = 'suspension_deprovision_after_days:' || $1 $$;

-- 026's guard with the recorded days in place of "a day": suspended_at must be older than the
-- host's policy, in hours (make_interval(hours => NULL) is NULL, so an unset or 'off' policy
-- refuses), and the warning older than 24 hours. Everything else is 026's, its tables named
-- with their schema.
CREATE OR REPLACE FUNCTION admin_agent_customer_guard() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp SET TimeZone = 'UTC'
  AS $$
BEGIN
  IF current_user <> 'tenantctl_agent' THEN
    -- In a BEFORE DELETE row trigger NEW is NULL, and returning NULL skips the row: every other
    -- role's DELETE FROM admin_allocations would delete nothing.
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  IF TG_TABLE_NAME = 'admin_customers' THEN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
      IF NOT coalesce((OLD.status = 'suspended' AND NEW.status = 'deprovisioning' AND OLD.deprovision_policy_at IS NOT NULL
                 AND OLD.deprovision_warned_at < now() - interval '24 hours' AND OLD.suspended_at < now() - make_interval(hours => 24 * public.admin_suspension_policy_days(OLD.host))
                 AND NEW.kept_data
                 AND NEW.deprovisioned_at IS NOT DISTINCT FROM OLD.deprovisioned_at)
              OR (OLD.status = 'deprovisioning' AND NEW.status = 'deprovisioned' AND OLD.deprovision_policy_at IS NOT NULL AND NEW.kept_data
                 AND NEW.deprovisioned_at BETWEEN now() - interval '1 minute' AND now() + interval '1 minute'), false) THEN
        RAISE EXCEPTION 'permission denied: the agent changes a tenant''s status only as the suspension policy deprovisions it, once due by its host''s recorded policy (% -> %)', OLD.status, NEW.status
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      -- The verb ends a suspension by clearing these (registry.markDeprovisioning); the agent may
      -- clear them, never rewrite them (a forged suspension would be the audit's record).
      IF NOT coalesce((NEW.suspension_reason IS NULL OR NEW.suspension_reason IS NOT DISTINCT FROM OLD.suspension_reason)
              AND (NEW.suspension_public_message IS NULL OR NEW.suspension_public_message IS NOT DISTINCT FROM OLD.suspension_public_message)
              AND (NEW.suspended_at IS NULL OR NEW.suspended_at IS NOT DISTINCT FROM OLD.suspended_at)
              AND (NEW.suspended_by IS NULL OR NEW.suspended_by IS NOT DISTINCT FROM OLD.suspended_by)
              AND (NEW.deprovision_warned_at IS NULL OR NEW.deprovision_warned_at IS NOT DISTINCT FROM OLD.deprovision_warned_at), false) THEN
        RAISE EXCEPTION 'permission denied: the agent only clears a tenant''s suspension as the policy deprovisions it'
          USING ERRCODE = 'insufficient_privilege';
      END IF;
    ELSIF NEW.deprovision_warned_at IS DISTINCT FROM OLD.deprovision_warned_at
          AND NOT coalesce(OLD.status = 'suspended' AND OLD.deprovision_warned_at IS NULL
                  AND NEW.deprovision_warned_at BETWEEN now() - interval '1 minute' AND now() + interval '1 minute', false) THEN
      -- 019 granted the agent this column for its warning; a backdated warning would make any
      -- suspended tenant due at once. The warning is recorded once, as of now.
      RAISE EXCEPTION 'permission denied: the agent records a suspended tenant''s deprovision warning once, as of now'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status IS NOT DISTINCT FROM OLD.status
       AND (NEW.status_reason, NEW.kept_data, NEW.deprovisioned_at, NEW.suspension_reason, NEW.suspension_public_message, NEW.suspended_at, NEW.suspended_by)
          IS DISTINCT FROM (OLD.status_reason, OLD.kept_data, OLD.deprovisioned_at, OLD.suspension_reason, OLD.suspension_public_message, OLD.suspended_at, OLD.suspended_by) THEN
      RAISE EXCEPTION 'permission denied: the agent changes a tenant''s record only as the suspension policy deprovisions it'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.secrets_ciphertext IS DISTINCT FROM OLD.secrets_ciphertext THEN
      RAISE EXCEPTION 'permission denied: the agent never changes a tenant''s secrets' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.deprovision_policy_at IS DISTINCT FROM OLD.deprovision_policy_at
       AND NOT coalesce((NEW.deprovision_policy_at IS NOT NULL AND OLD.status = 'suspended' AND OLD.deprovision_warned_at < now() - interval '24 hours'
                 AND OLD.suspended_at < now() - make_interval(hours => 24 * public.admin_suspension_policy_days(OLD.host)))
                OR (NEW.deprovision_policy_at IS NULL AND OLD.status = 'deprovisioned'), false) THEN
      RAISE EXCEPTION 'permission denied: the agent starts the policy''s deprovisioning only of a tenant suspended longer than its host''s recorded policy (suspension.deprovisionAfterDays, recorded by agent up) and warned more than a day ago'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  -- admin_allocations (DELETE) and admin_api_keys (UPDATE revoked_at): only of a tenant the policy deprovisions.
  IF NOT EXISTS (SELECT 1 FROM public.admin_customers c WHERE c.id = OLD.customer_id AND c.status IN ('deprovisioning', 'deprovisioned') AND c.deprovision_policy_at IS NOT NULL) THEN
    RAISE EXCEPTION 'permission denied: the agent releases allocations and keys only of a tenant the suspension policy deprovisions'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;


-- When the admin database was last backed up into the repository: the newest 'admin.backed-up' audit
-- row (admin-backup writes one on success, from the operator or the agent's schedule). An owner's
-- function, so the agent reads this one fact and not the audit log.
-- A row from the future is no backup (rows older than the trigger below, or the owner's): it
-- would hide the missed alert until then.
CREATE FUNCTION admin_last_admin_backup() RETURNS timestamptz
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT max(created_at) FROM public.admin_audit_logs WHERE action = 'admin.backed-up' AND created_at <= now() $$;
REVOKE ALL ON FUNCTION admin_last_admin_backup() FROM PUBLIC;
CREATE INDEX admin_audit_logs_admin_backed_up_idx ON admin_audit_logs (created_at) WHERE action = 'admin.backed-up';

-- The agent's audit rows carry the database's time, not the agent's word (as 026 does for its
-- heartbeats): it may INSERT audit rows (017), and a forged 'admin.backed-up' row dated 2999 would
-- otherwise silence admin.backup-missed and the backup's age metric for good.
CREATE FUNCTION admin_audit_log_agent_now() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
  AS $$
BEGIN
  IF current_user = 'tenantctl_agent' THEN
    NEW.created_at := now();
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER admin_audit_logs_agent_now BEFORE INSERT ON admin_audit_logs
  FOR EACH ROW EXECUTE FUNCTION admin_audit_log_agent_now();

-- 009's, 017's and 026's functions, with pg_temp searched last (see the top of this file).
ALTER FUNCTION admin_drop_disabled_schedule(bigint) SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION admin_agent_heartbeat_now() SET search_path = pg_catalog, public, pg_temp;
-- 009's trigger names admin_hosts without its schema and had no search_path of its own.
ALTER FUNCTION admin_register_implicit_host() SET search_path = pg_catalog, public, pg_temp;

-- No role but the database's owner (and superusers) creates temporary tables here: nothing of
-- tenantctl's uses them (the agent, the gateway and the operator's verbs), and a temporary table is
-- how a session would shadow a table a function names without its schema. The owner keeps its
-- own right (REVOKE from PUBLIC leaves the owner's explicit entry). A database-level right, which
-- pg_dump (admin-backup) does not carry: `agent up` revokes it again (src/agent/commands.ts).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    GRANT EXECUTE ON FUNCTION admin_last_admin_backup() TO tenantctl_agent;
  END IF;
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END $$;
