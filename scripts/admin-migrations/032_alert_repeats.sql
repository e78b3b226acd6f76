-- Alert repeats decided from what was sent (issue 22, review M3). The agent's policy pass raises a
-- finding that still holds (a backup missed, a disk over its plan, a suspended tenant due soon) again
-- after a day; which day was kept in the agent's memory, so a restarted agent, or the other agent of
-- the host taking the lead, sent it again at once, and an agent that had raised it for an endpoint
-- removed since never sent it to one added later. Each delivery of such a finding now carries its
-- key (`disk:acme`, `backup-missed:acme`, `schedule-missed:h1:retention:standard`, ...): the agent
-- raises it to an endpoint only when that endpoint got no delivery of the key within the repeat
-- interval, read from this table in the transaction that inserts.
ALTER TABLE public.admin_alert_deliveries ADD COLUMN repeat_key text CHECK (repeat_key IS NULL OR length(repeat_key) BETWEEN 1 AND 200);
CREATE INDEX admin_alert_deliveries_repeat_idx ON public.admin_alert_deliveries (repeat_key, endpoint_id, created_at) WHERE repeat_key IS NOT NULL;

-- The agent's rights on the table, narrowed now that a row silences a key (review of this branch):
-- 018 gave it INSERT and DELETE on the whole table, so it could insert a row already 'delivered',
-- dated 'infinity', under any key (silencing that key on every host for good), or delete a pending
-- alert before it was sent.
-- - INSERT only of the columns it writes when it queues (raise.ts, repeat.ts): state, attempts and
--   created_at take their defaults ('pending', 0, the database's now()); delivered_at, last_status
--   and last_error are the sender's outcome (its UPDATE, 018). A forged row is then a pending
--   delivery of now, which the sender sends: it can delay a repeat by one interval, not hide one.
-- - DELETE only through admin_prune_alert_deliveries() (watch/retention.ts): deliveries that are
--   done (delivered or failed) and older than a day at least; a pending one is never deleted.
-- The repeat decision (repeat.ts) ignores rows dated after the database's now() all the same (an
-- owner's hand-made row, or one from before this migration).
CREATE FUNCTION public.admin_prune_alert_deliveries(older_than_days float8, batch integer) RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    WITH gone AS (
      DELETE FROM public.admin_alert_deliveries WHERE id IN (
        SELECT id FROM public.admin_alert_deliveries
         WHERE state <> 'pending' AND created_at < now() - (greatest(older_than_days, 1) * interval '1 day')
         LIMIT least(greatest(batch, 1), 10000))
      RETURNING 1)
    SELECT count(*)::int FROM gone
  $$;
REVOKE ALL ON FUNCTION public.admin_prune_alert_deliveries(float8, integer) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    REVOKE INSERT, DELETE ON public.admin_alert_deliveries FROM tenantctl_agent;
    GRANT INSERT (endpoint_id, event, payload, next_attempt_at, claim_token, repeat_key) ON public.admin_alert_deliveries TO tenantctl_agent;
    GRANT EXECUTE ON FUNCTION public.admin_prune_alert_deliveries(float8, integer) TO tenantctl_agent;
  END IF;
END $$;
