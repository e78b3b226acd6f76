-- Templates (issue 12): which template each tenant was made from, its checksum then, and the
-- optional parts (compose profiles) switched on with `provision --with`. Tenants on record before
-- templates existed were made from crm. Ports stay in admin_allocations by name (purpose = the
-- template's port name); app_port/db_port/redis_port are filled for templates that have ports of
-- those names (crm), for the code and the people that read them, and are NULL otherwise.
ALTER TABLE admin_customers
  ADD COLUMN template text NOT NULL DEFAULT 'crm' CHECK (template ~ '^[a-z][a-z0-9_-]{0,39}$'),
  ADD COLUMN template_checksum text CHECK (template_checksum ~ '^[0-9a-f]{64}$'),
  ADD COLUMN profiles text[] NOT NULL DEFAULT '{}';
