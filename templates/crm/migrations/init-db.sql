-- Tenant database schema (PostgreSQL 15+).
--
-- Applied by tenantctl through node-postgres, as tenant_owner, inside ONE transaction, so this
-- file holds plain statements only: no psql meta-commands, no CREATE INDEX CONCURRENTLY, no
-- VACUUM, no CREATE DATABASE. tenantctl records applied migrations with checksums, so the file
-- is not written to be re-run; it must apply cleanly on a fresh database.
--
-- Layout:
--   schema app  helpers: app.current_org_id() (used by every policy) and the updated_at trigger
--   schema crm  the tenant's tables: organizations, users, contacts, deals, activities, tasks
--
-- Roles (see templates/initdb/01-create-app-role.sh):
--   tenant_owner  POSTGRES_USER: superuser, applies this file and therefore owns every object.
--   tenant_app    what the app and worker log in as. It must be neither superuser nor owner of
--                 the tables and must not have BYPASSRLS: superusers and BYPASSRLS roles skip
--                 row-level security always, and a table's owner skips it unless the table is
--                 FORCEd. Keeping ownership and the app's login apart is what makes the
--                 policies below binding for the app.
--
-- Isolation model: one tenant = one PostgreSQL container, and inside it any number of
-- organizations. The app states which organization a session (or transaction) acts for with
--   SELECT set_config('app.current_org_id', '<uuid>', false);  -- session (dedicated connection)
--   SELECT set_config('app.current_org_id', '<uuid>', true);   -- transaction (pooled connections)
-- and row-level security limits every read and write of tenant_app to that organization. No
-- setting (or an empty one) means no organization: tenant_app then sees no rows and can write
-- none. The app is trusted to derive the id from an authenticated user; the database cannot.

-- ---------------------------------------------------------------------------------------------
-- The application role. Normally created with LOGIN and a password by the initdb script; on a
-- bare server (no initdb script) create it here without LOGIN so the grants below still apply.
-- If it exists with rights that bypass RLS, stop: the policies would be decoration.
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
  r pg_roles%ROWTYPE;
BEGIN
  SELECT * INTO r FROM pg_roles WHERE rolname = 'tenant_app';
  IF NOT FOUND THEN
    CREATE ROLE tenant_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
  ELSIF r.rolsuper OR r.rolbypassrls THEN
    RAISE EXCEPTION 'role tenant_app must not be SUPERUSER or BYPASSRLS (row-level security would not apply to it)';
  END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Helpers. Defined before any policy or trigger refers to them.
-- ---------------------------------------------------------------------------------------------
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'Helper functions shared by the tenant schema (RLS context, triggers).';

-- The organization the current session/transaction acts for, or NULL when none is set.
-- current_setting(..., true) returns NULL instead of raising when the setting was never defined,
-- and nullif turns an explicitly cleared ('') setting into NULL too. A comparison with NULL is
-- never true, so "no organization" matches no row. A malformed value raises (fails closed).
-- STABLE: constant within a statement, so the planner can use it in index conditions.
CREATE FUNCTION app.current_org_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.current_org_id', true), '')::uuid $$;

CREATE FUNCTION app.set_updated_at() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog
  AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Tables.
--
-- Every table except organizations carries organization_id -> organizations ON DELETE CASCADE,
-- so deleting an organization removes all of its data. References between tenant tables are
-- composite, (organization_id, x_id) -> x(organization_id, id): a row can only point at a row
-- of its own organization. A plain x_id foreign key would let tenant_app attach a deal to
-- another organization's contact, because foreign-key checks bypass RLS (and would reveal
-- whether that id exists). Optional references use ON DELETE SET NULL (column) so that only the
-- reference is cleared, never organization_id (column lists need PostgreSQL 15).
-- ---------------------------------------------------------------------------------------------
CREATE SCHEMA crm;
COMMENT ON SCHEMA crm IS 'Tenant CRM data; every table is row-level secured by organization.';

CREATE TABLE crm.organizations (
  id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  slug       text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 63),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE crm.users (
  id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid        NOT NULL REFERENCES crm.organizations (id) ON DELETE CASCADE,
  email           text        NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' AND length(email) <= 254),
  full_name       text        NOT NULL CHECK (length(btrim(full_name)) BETWEEN 1 AND 200),
  role            text        NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
  is_active       boolean     NOT NULL DEFAULT true,
  last_login_at   timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  -- Target of the composite foreign keys below.
  UNIQUE (organization_id, id)
);
-- One account per e-mail address per organization, case-insensitively. Leads with
-- organization_id, so it also serves the foreign key to organizations.
CREATE UNIQUE INDEX users_org_email_key ON crm.users (organization_id, lower(email));

CREATE TABLE crm.contacts (
  id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid        NOT NULL REFERENCES crm.organizations (id) ON DELETE CASCADE,
  owner_user_id   uuid,
  first_name      text        CHECK (length(first_name) <= 100),
  last_name       text        CHECK (length(last_name) <= 100),
  email           text        CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' AND length(email) <= 254),
  phone           text        CHECK (phone ~ '^\+?[0-9 ()./-]{3,32}$'),
  company_name    text        CHECK (length(company_name) <= 200),
  notes           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (organization_id, id),
  -- A contact needs something to identify it by.
  CHECK (coalesce(btrim(first_name), '') <> '' OR coalesce(btrim(last_name), '') <> '' OR email IS NOT NULL),
  FOREIGN KEY (organization_id, owner_user_id) REFERENCES crm.users (organization_id, id)
    ON DELETE SET NULL (owner_user_id)
);
CREATE INDEX contacts_org_owner_idx ON crm.contacts (organization_id, owner_user_id);
CREATE INDEX contacts_org_email_idx ON crm.contacts (organization_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX contacts_org_name_idx  ON crm.contacts (organization_id, lower(last_name), lower(first_name));

CREATE TABLE crm.deals (
  id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id     uuid          NOT NULL REFERENCES crm.organizations (id) ON DELETE CASCADE,
  contact_id          uuid,
  owner_user_id       uuid,
  title               text          NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
  stage               text          NOT NULL DEFAULT 'lead'
                        CHECK (stage IN ('lead', 'qualified', 'proposal', 'negotiation', 'won', 'lost')),
  amount              numeric(14,2) NOT NULL DEFAULT 0 CHECK (amount >= 0),
  currency            char(3)       NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
  expected_close_date date,
  closed_at           timestamptz,
  created_at          timestamptz   NOT NULL DEFAULT now(),
  updated_at          timestamptz   NOT NULL DEFAULT now(),
  UNIQUE (organization_id, id),
  -- Only a won or lost deal can carry a close time.
  CHECK (closed_at IS NULL OR stage IN ('won', 'lost')),
  FOREIGN KEY (organization_id, contact_id) REFERENCES crm.contacts (organization_id, id)
    ON DELETE SET NULL (contact_id),
  FOREIGN KEY (organization_id, owner_user_id) REFERENCES crm.users (organization_id, id)
    ON DELETE SET NULL (owner_user_id)
);
CREATE INDEX deals_org_stage_idx   ON crm.deals (organization_id, stage);
CREATE INDEX deals_org_contact_idx ON crm.deals (organization_id, contact_id);
CREATE INDEX deals_org_owner_idx   ON crm.deals (organization_id, owner_user_id);

CREATE TABLE crm.activities (
  id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid        NOT NULL REFERENCES crm.organizations (id) ON DELETE CASCADE,
  user_id         uuid,
  contact_id      uuid,
  deal_id         uuid,
  kind            text        NOT NULL CHECK (kind IN ('call', 'email', 'meeting', 'note')),
  subject         text        NOT NULL CHECK (length(btrim(subject)) BETWEEN 1 AND 300),
  body            text,
  occurred_at     timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (organization_id, user_id) REFERENCES crm.users (organization_id, id)
    ON DELETE SET NULL (user_id),
  FOREIGN KEY (organization_id, contact_id) REFERENCES crm.contacts (organization_id, id)
    ON DELETE CASCADE,
  FOREIGN KEY (organization_id, deal_id) REFERENCES crm.deals (organization_id, id)
    ON DELETE CASCADE
);
-- The timeline of an organization, of a contact and of a deal: newest first.
CREATE INDEX activities_org_occurred_idx ON crm.activities (organization_id, occurred_at DESC);
CREATE INDEX activities_org_contact_idx  ON crm.activities (organization_id, contact_id, occurred_at DESC);
CREATE INDEX activities_org_deal_idx     ON crm.activities (organization_id, deal_id, occurred_at DESC);
CREATE INDEX activities_org_user_idx     ON crm.activities (organization_id, user_id);

CREATE TABLE crm.tasks (
  id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  uuid        NOT NULL REFERENCES crm.organizations (id) ON DELETE CASCADE,
  assignee_user_id uuid,
  contact_id       uuid,
  deal_id          uuid,
  title            text        NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
  description      text,
  due_at           timestamptz,
  done             boolean     NOT NULL DEFAULT false,
  completed_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  -- completed_at is set exactly when the task is done.
  CHECK (done = (completed_at IS NOT NULL)),
  FOREIGN KEY (organization_id, assignee_user_id) REFERENCES crm.users (organization_id, id)
    ON DELETE SET NULL (assignee_user_id),
  FOREIGN KEY (organization_id, contact_id) REFERENCES crm.contacts (organization_id, id)
    ON DELETE CASCADE,
  FOREIGN KEY (organization_id, deal_id) REFERENCES crm.deals (organization_id, id)
    ON DELETE CASCADE
);
-- "What is due": open tasks only, which stays small as finished tasks pile up.
CREATE INDEX tasks_org_due_open_idx     ON crm.tasks (organization_id, due_at) WHERE NOT done;
-- Covers the foreign key to organizations (the partial index above cannot).
CREATE INDEX tasks_org_assignee_idx     ON crm.tasks (organization_id, assignee_user_id, due_at);
CREATE INDEX tasks_org_contact_idx      ON crm.tasks (organization_id, contact_id);
CREATE INDEX tasks_org_deal_idx         ON crm.tasks (organization_id, deal_id);

-- ---------------------------------------------------------------------------------------------
-- updated_at maintenance.
-- ---------------------------------------------------------------------------------------------
CREATE TRIGGER organizations_set_updated_at BEFORE UPDATE ON crm.organizations
  FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON crm.users
  FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
CREATE TRIGGER contacts_set_updated_at BEFORE UPDATE ON crm.contacts
  FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
CREATE TRIGGER deals_set_updated_at BEFORE UPDATE ON crm.deals
  FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
CREATE TRIGGER activities_set_updated_at BEFORE UPDATE ON crm.activities
  FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON crm.tasks
  FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- Row-level security.
--
-- ENABLE turns it on; with RLS on and no policy for a role, that role sees nothing (default
-- deny), so only tenant_app, named in the policies, gets rows at all. FORCE also subjects the
-- owner to the policies, which matters only if ownership ever moves to a non-superuser
-- migration role (superusers bypass RLS regardless; foreign-key checks and cascades always do).
-- Each policy is FOR ALL with the same USING (which existing rows are visible, updatable,
-- deletable) and WITH CHECK (which new or updated rows are allowed), so a row can neither be
-- read from nor written into, nor moved to, another organization.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE crm.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_isolation ON crm.organizations
  FOR ALL TO tenant_app
  USING (id = app.current_org_id())
  WITH CHECK (id = app.current_org_id());

ALTER TABLE crm.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_isolation ON crm.users
  FOR ALL TO tenant_app
  USING (organization_id = app.current_org_id())
  WITH CHECK (organization_id = app.current_org_id());

ALTER TABLE crm.contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY contacts_isolation ON crm.contacts
  FOR ALL TO tenant_app
  USING (organization_id = app.current_org_id())
  WITH CHECK (organization_id = app.current_org_id());

ALTER TABLE crm.deals ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.deals FORCE ROW LEVEL SECURITY;
CREATE POLICY deals_isolation ON crm.deals
  FOR ALL TO tenant_app
  USING (organization_id = app.current_org_id())
  WITH CHECK (organization_id = app.current_org_id());

ALTER TABLE crm.activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.activities FORCE ROW LEVEL SECURITY;
CREATE POLICY activities_isolation ON crm.activities
  FOR ALL TO tenant_app
  USING (organization_id = app.current_org_id())
  WITH CHECK (organization_id = app.current_org_id());

ALTER TABLE crm.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.tasks FORCE ROW LEVEL SECURITY;
CREATE POLICY tasks_isolation ON crm.tasks
  FOR ALL TO tenant_app
  USING (organization_id = app.current_org_id())
  WITH CHECK (organization_id = app.current_org_id());

-- ---------------------------------------------------------------------------------------------
-- Privileges for tenant_app: use the schemas, read and write rows. Deliberately not granted:
-- TRUNCATE (it ignores RLS), REFERENCES, TRIGGER, CREATE on either schema (objects it created
-- would be its own, outside these policies), and ownership of anything.
-- No ALTER DEFAULT PRIVILEGES either: a table added by a later migration stays invisible to the
-- app until that migration grants access, after enabling RLS on it.
-- ---------------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA app, crm TO tenant_app;
GRANT EXECUTE ON FUNCTION app.current_org_id() TO tenant_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA crm TO tenant_app;
-- Keys are uuids, so there are no sequences today; kept for serial/identity columns added later.
GRANT USAGE ON ALL SEQUENCES IN SCHEMA crm TO tenant_app;

-- Unqualified names in the app resolve to crm first.
ALTER ROLE tenant_app SET search_path = crm, public;
