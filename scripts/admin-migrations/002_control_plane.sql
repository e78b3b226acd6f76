-- The control plane's data: feature modules per customer (and what they bill), API keys, usage,
-- customers' own AI provider keys, invoices. Applied once, after init-admin-db.sql, in one
-- transaction, recorded with its checksum in admin_schema_migrations; change things in a new
-- migration, never here. Changes are audited in admin_audit_logs (init-admin-db.sql).

-- The catalogue. Keys are what operators type (`tenantctl modules enable acme ai_assistant`) and
-- what tenant apps check, so they are stable identifiers; names and prices may change.
CREATE TABLE admin_feature_modules (
  key             text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
  name            text NOT NULL,
  description     text NOT NULL,
  monthly_price   numeric(10,2) NOT NULL CHECK (monthly_price >= 0),
  default_enabled boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now()
);

INSERT INTO admin_feature_modules (key, name, description, monthly_price, default_enabled) VALUES
  ('crm_core',             'CRM Core',             'Contacts, organizations, deals, activities and tasks', 0.00, true),
  ('advanced_pipeline',    'Advanced Pipeline',    'Custom deal stages, weighted forecasts and pipeline views', 29.99, true),
  ('calendar_integration', 'Calendar Integration', 'Two-way sync with Google and Microsoft calendars', 19.99, false),
  ('ai_assistant',         'AI Assistant',         'Drafting, summaries and next-step suggestions with the customer''s AI provider keys', 49.99, false),
  ('workflow_automation',  'Workflow Automation',  'Triggers, conditions and actions on CRM events', 39.99, false),
  ('analytics_reporting',  'Analytics & Reporting', 'Dashboards, scheduled reports and exports', 59.99, false),
  ('api_access',           'API Access',           'REST API with per-customer API keys and usage metering', 79.99, false),
  ('custom_fields',        'Custom Fields',        'Extra typed fields on contacts, organizations and deals', 19.99, false),
  ('bulk_operations',      'Bulk Operations',      'Bulk import, update and delete with previews', 29.99, false),
  ('compliance_audit',     'Compliance & Audit',   'Field-level change history, retention policies and data exports', 99.99, false);

-- Which modules a customer has. A row records the last change: a disabled module keeps its row
-- (enabled_at says when it was last switched on); no row means never enabled. The history is in
-- admin_audit_logs.
CREATE TABLE admin_customer_modules (
  customer_id text NOT NULL REFERENCES admin_customers (id) ON DELETE CASCADE,
  module_key  text NOT NULL REFERENCES admin_feature_modules (key),
  enabled     boolean NOT NULL,
  enabled_at  timestamptz,
  disabled_at timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, module_key)
);
CREATE INDEX admin_customer_modules_module_idx ON admin_customer_modules (module_key) WHERE enabled;

-- API keys customers use against their tenant's API. The key is shown once when it is created and
-- never stored: only its SHA-256 (a fast hash is right for 190-bit random keys; slow hashes are for
-- guessable passwords) and its first characters, so operators can tell keys apart in lists.
CREATE TABLE admin_api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id  text NOT NULL REFERENCES admin_customers (id) ON DELETE CASCADE,
  name         text NOT NULL,
  prefix       text NOT NULL,
  key_hash     text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  last_used_at timestamptz
);
CREATE INDEX admin_api_keys_customer_idx ON admin_api_keys (customer_id, created_at);

-- API requests counted per customer, key and endpoint in periods (e.g. an hour). The unique index
-- lets a meter add to its period's row (INSERT ... ON CONFLICT) instead of piling up rows; requests
-- without a key share one row per endpoint and period.
CREATE TABLE admin_api_usage (
  id            bigserial PRIMARY KEY,
  customer_id   text NOT NULL REFERENCES admin_customers (id) ON DELETE CASCADE,
  api_key_id    uuid REFERENCES admin_api_keys (id) ON DELETE SET NULL,
  endpoint      text NOT NULL,
  request_count integer NOT NULL DEFAULT 0 CHECK (request_count >= 0),
  period_start  timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX admin_api_usage_period_idx
  ON admin_api_usage (customer_id, COALESCE(api_key_id, '00000000-0000-0000-0000-000000000000'::uuid), endpoint, period_start);
CREATE INDEX admin_api_usage_customer_idx ON admin_api_usage (customer_id, period_start);
CREATE INDEX admin_api_usage_key_idx ON admin_api_usage (api_key_id) WHERE api_key_id IS NOT NULL;

-- Customers' own AI provider keys (for the AI Assistant), sealed by tenantctl with AES-256-GCM under
-- the master key (src/crypto/) before they get here. The check refuses anything not in the cipher's
-- versioned format ("v1:..."), such as a plaintext key written by mistake.
CREATE TABLE admin_customer_ai_keys (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id    text NOT NULL REFERENCES admin_customers (id) ON DELETE CASCADE,
  provider       text NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_-]{0,39}$'),
  key_ciphertext text NOT NULL CHECK (key_ciphertext ~ '^v[0-9]+:'),
  label          text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  revoked_at     timestamptz
);
CREATE INDEX admin_customer_ai_keys_customer_idx ON admin_customer_ai_keys (customer_id, provider);

CREATE TABLE admin_ai_key_usage (
  id         bigserial PRIMARY KEY,
  ai_key_id  uuid NOT NULL REFERENCES admin_customer_ai_keys (id) ON DELETE CASCADE,
  model      text,
  tokens_in  integer NOT NULL DEFAULT 0 CHECK (tokens_in >= 0),
  tokens_out integer NOT NULL DEFAULT 0 CHECK (tokens_out >= 0),
  cost       numeric(12,4) NOT NULL DEFAULT 0 CHECK (cost >= 0),
  used_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_ai_key_usage_key_idx ON admin_ai_key_usage (ai_key_id, used_at);

-- Invoices are financial records: a customer with invoices cannot be deleted (RESTRICT), and there
-- is at most one invoice per customer and period that is not void, so a period is never billed twice.
CREATE TABLE admin_subscription_invoices (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id  text NOT NULL REFERENCES admin_customers (id) ON DELETE RESTRICT,
  period_start date NOT NULL,
  period_end   date NOT NULL,
  amount       numeric(12,2) NOT NULL CHECK (amount >= 0),
  currency     text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'paid', 'void')),
  line_items   jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(line_items) = 'array'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (period_end > period_start)
);
CREATE UNIQUE INDEX admin_subscription_invoices_period_idx ON admin_subscription_invoices (customer_id, period_start) WHERE status <> 'void';
CREATE INDEX admin_subscription_invoices_status_idx ON admin_subscription_invoices (status, created_at);

-- Active customers and their enabled module keys (an empty array when none).
CREATE VIEW admin_active_customer_modules AS
SELECT c.id AS customer_id,
       c.name,
       c.plan,
       COALESCE(array_agg(cm.module_key ORDER BY cm.module_key) FILTER (WHERE cm.enabled), '{}'::text[]) AS module_keys
FROM admin_customers c
LEFT JOIN admin_customer_modules cm ON cm.customer_id = c.id
WHERE c.status = 'active'
GROUP BY c.id, c.name, c.plan;

-- All-time usage per customer (every status: usage stays billable after a deprovision). Each side is
-- summed before the join, so API rows and AI rows never multiply each other.
CREATE VIEW admin_customer_usage AS
SELECT c.id AS customer_id,
       c.status,
       COALESCE(api.requests, 0)::bigint AS api_requests,
       api.last_period_start AS api_last_period_start,
       COALESCE(ai.tokens_in, 0)::bigint AS ai_tokens_in,
       COALESCE(ai.tokens_out, 0)::bigint AS ai_tokens_out,
       COALESCE(ai.cost, 0)::numeric(14,4) AS ai_cost,
       ai.last_used_at AS ai_last_used_at
FROM admin_customers c
LEFT JOIN (
  SELECT customer_id, sum(request_count) AS requests, max(period_start) AS last_period_start
  FROM admin_api_usage GROUP BY customer_id
) api ON api.customer_id = c.id
LEFT JOIN (
  SELECT k.customer_id, sum(u.tokens_in) AS tokens_in, sum(u.tokens_out) AS tokens_out, sum(u.cost) AS cost, max(u.used_at) AS last_used_at
  FROM admin_ai_key_usage u JOIN admin_customer_ai_keys k ON k.id = u.ai_key_id GROUP BY k.customer_id
) ai ON ai.customer_id = c.id;

-- Monthly recurring revenue per active customer: the sum of the monthly prices of its enabled
-- modules, 0.00 for a customer with none (so every active customer has a row).
CREATE VIEW admin_customer_mrr AS
SELECT c.id AS customer_id,
       c.name,
       c.plan,
       count(fm.key)::integer AS enabled_modules,
       COALESCE(sum(fm.monthly_price), 0)::numeric(12,2) AS mrr
FROM admin_customers c
LEFT JOIN admin_customer_modules cm ON cm.customer_id = c.id AND cm.enabled
LEFT JOIN admin_feature_modules fm ON fm.key = cm.module_key
WHERE c.status = 'active'
GROUP BY c.id, c.name, c.plan;
