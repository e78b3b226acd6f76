-- The Docker hosts tenants live on (issue 13: a fleet of hosts). Every tenant's row names its host;
-- every later command for that tenant goes there.

-- docker_endpoint NULL: an *implicit* host, reached through the environment of the tenantctl that
-- uses it (DOCKER_HOST, TENANTCTL_HOST_ID), as every host was before this migration. Registered
-- hosts (`tenantctl hosts add`) name their endpoint. TLS settings are paths on the operator's
-- machine (the key is a secret: only its path is stored). draining: no new placements; removed: gone
-- from the fleet, its row kept only because deprovisioned tenants' rows (history) still name it.
CREATE TABLE admin_hosts (
  name            text PRIMARY KEY CHECK (name ~ '^[^\s/]{1,253}$'),
  docker_endpoint text CHECK (docker_endpoint ~ '^(unix|tcp|ssh)://.+$'),
  kind            text NOT NULL DEFAULT 'compose' CHECK (kind IN ('compose', 'swarm')),
  tls_ca          text,
  tls_cert        text,
  tls_key         text,
  state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'draining', 'removed')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  -- TLS is all three files or none; an implicit host has none (the environment says how to reach it).
  CHECK ((tls_ca IS NULL) = (tls_cert IS NULL) AND (tls_cert IS NULL) = (tls_key IS NULL)),
  CHECK (docker_endpoint IS NOT NULL OR tls_ca IS NULL)
);

-- Hosts tenants were recorded on before hosts were registered become implicit hosts.
INSERT INTO admin_hosts (name)
SELECT DISTINCT host FROM admin_customers
ON CONFLICT DO NOTHING;

-- The host a tenant is recorded on is registered implicitly the first time a row names it, so
-- nobody who never ran `hosts add` notices the hosts table (and the foreign key below holds).
CREATE FUNCTION admin_register_implicit_host() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO admin_hosts (name) VALUES (NEW.host) ON CONFLICT (name) DO NOTHING;
  RETURN NEW;
END
$$;
CREATE TRIGGER admin_customers_implicit_host
  BEFORE INSERT OR UPDATE OF host ON admin_customers
  FOR EACH ROW EXECUTE FUNCTION admin_register_implicit_host();

-- RESTRICT: a host with tenants on record cannot disappear from under them; `hosts remove` refuses
-- while live tenants remain and marks a host only deprovisioned rows name 'removed'.
ALTER TABLE admin_customers
  ADD CONSTRAINT admin_customers_host_fkey FOREIGN KEY (host) REFERENCES admin_hosts (name) ON UPDATE CASCADE ON DELETE RESTRICT;
CREATE INDEX admin_customers_host_idx ON admin_customers (host, status);
