-- Secrets at rest: tenant passwords live in the admin database, sealed with AES-256-GCM under a
-- master key that never enters the database (src/crypto/). Applied once, in a transaction, recorded
-- with its checksum in admin_schema_migrations; change things in a new migration, never here.

-- Small named values of the control plane. `master_key_check` holds a known value sealed under the
-- master key the database was set up with, so a different key is refused before it seals anything.
CREATE TABLE admin_settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One sealed JSON document per tenant: DB_PASSWORD, APP_DB_PASSWORD, REDIS_PASSWORD, JWT_SECRET.
-- The check refuses anything that is not in the cipher's versioned format, such as plaintext
-- written by mistake.
ALTER TABLE admin_customers ADD COLUMN secrets_ciphertext text
  CHECK (secrets_ciphertext IS NULL OR secrets_ciphertext ~ '^v[0-9]+:');
