-- The operation journal (issue 19): one row per run of a multi-step verb on a tenant (restore, move,
-- rotate-secrets, upgrade, backup-prune, doctor-fix). It is written before the verb's first effect
-- (`data` holds its intent: the names of what it will create, the values it must be able to undo
-- with), and `step` after each step commits. The next command on the tenant reads a running row
-- and finishes or undoes it from its recorded step (src/operations/); nothing is inferred from the
-- tenant's status. Rows are kept as history once finished.
--
-- No foreign key on customer_id: a restore --as a new id records its intent before the row exists.
CREATE TABLE admin_operations (
  id          bigserial PRIMARY KEY,
  customer_id text NOT NULL CHECK (customer_id ~ '^[a-z][a-z0-9-]{0,39}$'),
  verb        text NOT NULL CHECK (verb IN ('restore', 'move', 'rotate-secrets', 'upgrade', 'backup-prune', 'doctor-fix')),
  -- the Docker host the verb works on (a move: its source; the target is in data)
  host        text NOT NULL,
  step        text NOT NULL,
  state       text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'undone', 'failed')),
  data        jsonb NOT NULL DEFAULT '{}',
  reason      text,
  actor       text NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CHECK ((state = 'running') = (finished_at IS NULL))
);
-- At most one unfinished operation per tenant: a second verb settles the first before it starts.
CREATE UNIQUE INDEX admin_operations_running_idx ON admin_operations (customer_id) WHERE state = 'running';
CREATE INDEX admin_operations_customer_idx ON admin_operations (customer_id, started_at DESC);

-- Moves were journaled in admin_tenant_moves (migration 010). A move still running there (killed
-- half-way by an older tenantctl) is carried over as a move operation marked carriedOver: that
-- journal did not record how far it got, so the next command looks at the source (src/hosts/move.ts
-- resumeMove): still holding the tenant's volumes, the move is undone; not any more (the old code
-- removed them only after the target was ready), the target is the only copy and it is finished.
ALTER TABLE admin_tenant_moves DROP CONSTRAINT admin_tenant_moves_state_check;
ALTER TABLE admin_tenant_moves ADD CONSTRAINT admin_tenant_moves_state_check CHECK (state IN ('running', 'completed', 'rolled-back', 'carried-over'));
INSERT INTO admin_operations (customer_id, verb, host, step, data, actor, started_at)
SELECT customer_id, 'move', source_host, 'detached',
       jsonb_build_object('targetHost', target_host, 'backup', backup_id, 'sourceDir', source_dir,
                          'savedRow', saved_row, 'savedAllocations', saved_allocations, 'carriedOver', true),
       'migration 011', started_at
FROM admin_tenant_moves WHERE state = 'running';
UPDATE admin_tenant_moves SET state = 'carried-over', reason = 'journaled in admin_operations from migration 011', finished_at = now() WHERE state = 'running';
