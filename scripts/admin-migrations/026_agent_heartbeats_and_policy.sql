-- Agent operations (issue 22): each host's agents record a heartbeat, so that any live agent can
-- report a host whose agent died (host.agent-silent); and the suspension policy's deprovisioning
-- done by the agent itself, with exactly the rights the deprovision verb uses and no more.

-- One row per Docker host: the last beat of any of its agents (two agents of one host, an old and a
-- new during an upgrade, both beat; the newest beat is the host's). silent_since: when a live agent
-- (of any host) raised host.agent-silent for this host; cleared, with host.agent-back raised, by
-- the host's next beat. Both writes are compare-and-set: each is raised once.
CREATE TABLE admin_agent_heartbeats (
  host         text PRIMARY KEY,
  instance     text NOT NULL,
  beat_at      timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz NOT NULL,
  leader       boolean NOT NULL DEFAULT false,
  silent_since timestamptz
);

-- A beat is the database's time, not the agent's word: a compromised agent could otherwise keep a
-- dead host's beat fresh (a future beat_at) and hide it from host.agent-silent. Only a beat_at the
-- write changes is replaced (the silent mark, another agent's UPDATE, leaves the beat as it was).
CREATE FUNCTION admin_agent_heartbeat_now() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public
  AS $$
BEGIN
  IF current_user = 'tenantctl_agent' THEN
    IF TG_OP = 'INSERT' OR NEW.beat_at IS DISTINCT FROM OLD.beat_at THEN
      NEW.beat_at := now();
    END IF;
    IF NEW.silent_since IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.silent_since IS DISTINCT FROM OLD.silent_since) THEN
      NEW.silent_since := now();
    END IF;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER admin_agent_heartbeats_now BEFORE INSERT OR UPDATE ON admin_agent_heartbeats
  FOR EACH ROW EXECUTE FUNCTION admin_agent_heartbeat_now();

-- When the agent's suspension policy began deprovisioning the tenant (null: it did not). A tenant in
-- 'deprovisioning' with this set is the policy's: a killed agent's next pass (any agent of the host)
-- runs the same deprovision verb again, which resumes from the registry's status.
ALTER TABLE admin_customers ADD COLUMN deprovision_policy_at timestamptz;

-- Why grants and a guard, not a SECURITY DEFINER function: the policy deprovisions through the
-- deprovision verb's own code (src/tenants/deprovision.ts: the lock, the registry's status changes
-- with their audit rows, the stack removed by label, the allocations released, the keys revoked),
-- so that a kill mid-way is resumed exactly as an operator's run is. A function would be a second
-- implementation of those writes. Column grants say WHAT the agent may write; a grant cannot say
-- WHICH rows, so the guard below confines those writes to the policy's own transitions: a tenant
-- suspended (and warned more than a day ago) becomes 'deprovisioning', then 'deprovisioned', its
-- allocations and keys released only then. Everything else the agent tries on those columns is
-- "permission denied". The agent never clears secrets: the policy keeps the data (README). Every
-- condition is coalesced to false: a NULL (a tenant never warned) must refuse, never pass.
CREATE FUNCTION admin_agent_customer_guard() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public
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
                 AND OLD.deprovision_warned_at < now() - interval '1 day' AND OLD.suspended_at < now() - interval '1 day' AND NEW.kept_data
                 AND NEW.deprovisioned_at IS NOT DISTINCT FROM OLD.deprovisioned_at)
              OR (OLD.status = 'deprovisioning' AND NEW.status = 'deprovisioned' AND OLD.deprovision_policy_at IS NOT NULL AND NEW.kept_data
                 AND NEW.deprovisioned_at BETWEEN now() - interval '1 minute' AND now() + interval '1 minute'), false) THEN
        RAISE EXCEPTION 'permission denied: the agent changes a tenant''s status only as the suspension policy deprovisions it (% -> %)', OLD.status, NEW.status
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
       AND NOT coalesce((NEW.deprovision_policy_at IS NOT NULL AND OLD.status = 'suspended' AND OLD.deprovision_warned_at < now() - interval '1 day'
                 AND OLD.suspended_at < now() - interval '1 day')
                OR (NEW.deprovision_policy_at IS NULL AND OLD.status = 'deprovisioned'), false) THEN
      RAISE EXCEPTION 'permission denied: the agent starts the policy''s deprovisioning only of a tenant suspended and warned more than a day ago'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  -- admin_allocations (DELETE) and admin_api_keys (UPDATE revoked_at): only of a tenant the policy deprovisions.
  IF NOT EXISTS (SELECT 1 FROM admin_customers c WHERE c.id = OLD.customer_id AND c.status IN ('deprovisioning', 'deprovisioned') AND c.deprovision_policy_at IS NOT NULL) THEN
    RAISE EXCEPTION 'permission denied: the agent releases allocations and keys only of a tenant the suspension policy deprovisions'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER admin_customers_agent_guard BEFORE UPDATE ON admin_customers
  FOR EACH ROW EXECUTE FUNCTION admin_agent_customer_guard();
CREATE TRIGGER admin_allocations_agent_guard BEFORE DELETE ON admin_allocations
  FOR EACH ROW EXECUTE FUNCTION admin_agent_customer_guard();
CREATE TRIGGER admin_api_keys_agent_guard BEFORE UPDATE ON admin_api_keys
  FOR EACH ROW EXECUTE FUNCTION admin_agent_customer_guard();

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    -- Its heartbeat (every agent), and the silent/back marks (any live agent, for any host).
    GRANT SELECT, INSERT, UPDATE ON admin_agent_heartbeats TO tenantctl_agent;
    -- What the deprovision verb writes with --keep-data, under the guard above.
    GRANT UPDATE (status, status_reason, kept_data, deprovisioned_at, suspension_reason, suspension_public_message,
                  suspended_at, suspended_by, deprovision_policy_at) ON admin_customers TO tenantctl_agent;
    GRANT DELETE ON admin_allocations TO tenantctl_agent;
    GRANT UPDATE (revoked_at) ON admin_api_keys TO tenantctl_agent;
  END IF;
END $$;
