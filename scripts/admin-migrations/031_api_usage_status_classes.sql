-- The door's usage by answer (issue 22, metrics): nginx's usage line now carries the response status
-- and the gateway counts, beside request_count, the requests answered 4xx and 5xx (2xx and 3xx are
-- the rest). A line written by an older tenantctl has no status: it counts as a request of no class,
-- as before, so request_count >= responses_4xx + responses_5xx rather than equal. bigint: a busy
-- tenant's hour fits an integer, but these are new columns and cost nothing to make wide.
ALTER TABLE admin_api_usage
  ADD COLUMN responses_4xx bigint NOT NULL DEFAULT 0 CHECK (responses_4xx >= 0),
  ADD COLUMN responses_5xx bigint NOT NULL DEFAULT 0 CHECK (responses_5xx >= 0);

-- The gateway writes them as it writes request_count (014): insert, read back the conflicting row's
-- counts, add to them. The agent's metrics read them as they read request_count (018). Nothing else.
-- A role that does not exist (an admin user that may not create roles) gets nothing.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_gateway') THEN
    GRANT INSERT (responses_4xx, responses_5xx) ON admin_api_usage TO tenantctl_gateway;
    GRANT SELECT (responses_4xx, responses_5xx) ON admin_api_usage TO tenantctl_gateway;
    GRANT UPDATE (responses_4xx, responses_5xx) ON admin_api_usage TO tenantctl_gateway;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantctl_agent') THEN
    GRANT SELECT (responses_4xx, responses_5xx) ON admin_api_usage TO tenantctl_agent;
  END IF;
END $$;
