-- Certificates the front door obtained by ACME (src/frontdoor/acme/): one row per host name (a
-- tenant's <id>.<baseDomain>, a custom domain, or the *.<baseDomain> wildcard), what the certificate
-- says (names, validity, issuer, serial) and how its last attempt went, for `frontdoor status` and
-- `frontdoor renew` (which renews a third of the lifetime before notAfter, and backs off after a
-- failure until next_attempt_at). The certificate and its key are files under the state dir
-- (<stateDir>/frontdoor/acme/certs/, 0600), not rows. Changes are audited (certificate.issued,
-- certificate.renewed, certificate.failed, certificate.revoked).
CREATE TABLE admin_certificates (
  hostname        text PRIMARY KEY CHECK (length(hostname) <= 253 AND hostname ~ '^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'),
  -- The tenant it serves (NULL for the wildcard); kept with the tenant's row.
  customer_id     text REFERENCES admin_customers (id) ON DELETE CASCADE,
  kind            text NOT NULL CHECK (kind IN ('tenant', 'domain', 'wildcard')),
  names           text[] NOT NULL DEFAULT '{}',
  not_before      timestamptz,
  not_after       timestamptz,
  issuer          text,
  serial          text,
  issued_at       timestamptz,
  -- The last attempt (issue or renew) and its error; cleared by a success.
  last_attempt_at timestamptz,
  last_error      text,
  failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  -- Backoff after a failure (the CA's Retry-After when it gave one): renew leaves it alone until then.
  next_attempt_at timestamptz,
  revoked_at      timestamptz
);
CREATE INDEX admin_certificates_customer_idx ON admin_certificates (customer_id);
