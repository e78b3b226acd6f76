-- Alert repeats decided from what was sent (issue 22, review M3). The agent's policy pass raises a
-- finding that still holds (a backup missed, a disk over its plan, a suspended tenant due soon) again
-- after a day; which day was kept in the agent's memory, so a restarted agent, or the other agent of
-- the host taking the lead, sent it again at once, and an agent that had raised it for an endpoint
-- removed since never sent it to one added later. Each delivery of such a finding now carries its
-- key (`disk:acme`, `backup-missed:acme`, `schedule-missed:retention:standard`, `pitr:acme`, ...):
-- the agent raises it to an endpoint only when that endpoint got no delivery of the key (pending or
-- delivered) within the repeat interval, read from this table in the transaction that inserts.
--
-- No grant: tenantctl_agent's SELECT and INSERT on admin_alert_deliveries (migration 018) are on the
-- whole table, which covers a column added later; it may not UPDATE this one (018 lists its columns).
ALTER TABLE public.admin_alert_deliveries ADD COLUMN repeat_key text CHECK (repeat_key IS NULL OR length(repeat_key) BETWEEN 1 AND 200);
CREATE INDEX admin_alert_deliveries_repeat_idx ON public.admin_alert_deliveries (repeat_key, endpoint_id, created_at) WHERE repeat_key IS NOT NULL;
