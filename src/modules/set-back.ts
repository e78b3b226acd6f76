import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';
import { moduleStatesIn, setModuleIn } from './store.js';

// A restore sets the tenant's modules back to those its backup recorded. It does so in the
// transaction that closes its journal entry (journal.finish's `within`): the modules, their
// module.* audit rows, backup.restored (naming them) and the close commit together, so a kill
// leaves all of it or none, and a resumed run finds the same modules to change and names them.

export interface RecordedModule {
  key: string;
  enabled: boolean;
}

/** The recorded modules whose state differs from the tenant's now; one the catalogue no longer has is left out. */
export function modulesDiffering(now: ReadonlyMap<string, boolean>, recorded: readonly RecordedModule[]): RecordedModule[] {
  return recorded.filter((m) => now.has(m.key) && now.get(m.key) !== m.enabled);
}

/** Sets the modules back inside the caller's transaction; returns what changed ("sso on"), for the audit row. */
export async function setModulesBackIn(db: AdminDb, client: pg.ClientBase, id: string, recorded: readonly RecordedModule[]): Promise<string[]> {
  const changed: string[] = [];
  for (const m of modulesDiffering(await moduleStatesIn(client, id), recorded)) {
    await setModuleIn(db, client, id, m.key, m.enabled);
    changed.push(`${m.key} ${m.enabled ? 'on' : 'off'}`);
  }
  return changed;
}

/** The same in a transaction of its own (a verb that does not close its journal entry here: move, recover). */
export async function setModulesBack(db: AdminDb, id: string, recorded: readonly RecordedModule[]): Promise<string[]> {
  return db.guard(db.withTransaction((client) => setModulesBackIn(db, client, id, recorded)));
}
