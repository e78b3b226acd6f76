-- The front door (tenantctl frontdoor, tenantctl domains): custom domains routed to a tenant, besides
-- <id>.<baseDomain>. A domain belongs to one tenant at most (the primary key), is a lowercase DNS
-- name (validated by tenantctl; the check keeps anything else out), and goes with its tenant's row.
-- Certificates are files on the front door's host, not rows. Changes are audited
-- (domain.added, domain.removed).
CREATE TABLE admin_customer_domains (
  domain      text PRIMARY KEY CHECK (length(domain) <= 253 AND domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'),
  customer_id text NOT NULL REFERENCES admin_customers (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_customer_domains_customer_idx ON admin_customer_domains (customer_id);
