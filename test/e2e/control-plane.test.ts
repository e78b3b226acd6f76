// The control plane end to end: one tenant provisioned through the CLI, then its feature modules
// (and the MRR they add up to), API keys (shown once, stored as a hash) and the audit trail, through
// the CLI and checked in the admin database; bad input and unknown tenants get their exit codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomUUID } from 'node:crypto';
import { createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';

let h: Harness;
const actor = 'e2e-ctlplane';

const catalogue = [
  ['crm_core', 'CRM Core', 0, true],
  ['advanced_pipeline', 'Advanced Pipeline', 29.99, true],
  ['calendar_integration', 'Calendar Integration', 19.99, false],
  ['ai_assistant', 'AI Assistant', 49.99, false],
  ['workflow_automation', 'Workflow Automation', 39.99, false],
  ['analytics_reporting', 'Analytics & Reporting', 59.99, false],
  ['api_access', 'API Access', 79.99, false],
  ['custom_fields', 'Custom Fields', 19.99, false],
  ['bulk_operations', 'Bulk Operations', 29.99, false],
  ['compliance_audit', 'Compliance & Audit', 99.99, false],
] as const;

const cents = (amount: number | string) => Math.round(Number(amount) * 100);
const enabledKeys = (list: any): string[] => list.modules.filter((m: any) => m.enabled).map((m: any) => m.key).sort();
const ok = async (args: string[]) => {
  const result = await h.cli(args);
  expect(result.exitCode, result.why).toBe(0);
  return result;
};
const auditOf = async (id: string) => (await ok(['audit', id, '--limit', '1000', '--json'])).json() as any[];

beforeAll(async () => {
  h = await createHarness('ctlplane');
}, 60_000);

afterAll(async () => {
  await h?.cleanup();
}, 120_000);

type Key = { id: string; key: string; prefix: string };
let provisioned: any;
let initial: Key;
const hashOf = (key: string) => createHash('sha256').update(key).digest('hex');

/** Sets acme's modules to exactly these, whatever earlier tests left. */
async function setModules(wanted: string[]) {
  const list = (await ok(['modules', 'list', 'acme', '--json'])).json();
  for (const m of list.modules) {
    if (m.enabled !== wanted.includes(m.key)) await ok(['modules', m.enabled ? 'disable' : 'enable', 'acme', m.key]);
  }
}

describe('modules, keys and audit of one tenant', () => {
  // The tenant every test below works with. A failed provision is one failed hook, with its reason.
  beforeAll(async () => {
    const result = await h.cli(['provision', 'acme', '--name', 'ACME Corp', '--json']);
    if (result.exitCode !== 0) throw new Error(`provisioning acme failed:\n${result.why}`);
    provisioned = result.json();
    initial = provisioned.initialApiKey;
  }, 300_000);

  it('provisions the tenant, printing its initial API key once and storing only its SHA-256', async () => {
    expect(provisioned).toMatchObject({ id: 'acme', outcome: 'active' });
    expect(initial.key).toMatch(/^tk_live_[0-9A-Za-z]{32}$/);
    expect(initial.prefix).toBe(initial.key.slice(0, 12));
    const [row] = await h.adminQuery(`SELECT prefix, key_hash FROM admin_api_keys WHERE id = $1`, [initial.id]);
    expect(row).toEqual({ prefix: initial.prefix, key_hash: hashOf(initial.key) });
  });

  it('enables the default modules at provision', async () => {
    // From the audit log, not the current state, so it holds whatever other tests switched since.
    const defaults = (await auditOf('acme')).filter((e) => e.action === 'modules.defaults');
    expect(defaults).toHaveLength(1);
    expect([...defaults[0].newValues.modules].sort()).toEqual(['advanced_pipeline', 'crm_core']);
    const catalogueDefaults = (await ok(['modules', 'list', '--json'])).json().modules.filter((m: any) => m.defaultEnabled).map((m: any) => m.key).sort();
    expect(catalogueDefaults).toEqual(['advanced_pipeline', 'crm_core']);
  });


  it('enables and disables a module: visible in modules list and in the audit log with old and new values', async () => {
    await setModules(['crm_core', 'advanced_pipeline']);
    const before = Math.max(0, ...(await h.adminQuery(`SELECT id FROM admin_audit_logs`)).map((r) => Number(r.id)));
    const enabled = (await ok(['modules', 'enable', 'acme', 'ai_assistant', '--json'])).json();
    expect(enabled).toMatchObject({ customerId: 'acme', module: 'ai_assistant', enabled: true, previous: null, changed: true });
    let list = (await ok(['modules', 'list', 'acme', '--json'])).json();
    const ai = () => list.modules.find((m: any) => m.key === 'ai_assistant');
    expect(ai()).toMatchObject({ enabled: true, disabledAt: null });
    expect(Date.parse(ai().enabledAt)).toBeGreaterThan(Date.now() - 60_000);

    const again = (await ok(['modules', 'enable', 'acme', 'ai_assistant', '--json'])).json();
    expect(again).toMatchObject({ enabled: true, previous: true, changed: false });

    const disabled = (await ok(['modules', 'disable', 'acme', 'ai_assistant', '--json'])).json();
    expect(disabled).toMatchObject({ enabled: false, previous: true, changed: true });
    list = (await ok(['modules', 'list', 'acme', '--json'])).json();
    expect(ai().enabled).toBe(false);
    expect(ai().disabledAt).not.toBeNull();
    expect((await ok(['modules', 'disable', 'acme', 'ai_assistant'])).stdout).toMatch(/already disabled/);

    const trail = (await auditOf('acme')).filter((e) => e.id > before && e.newValues?.module === 'ai_assistant');
    // newest first; the repeated enable and disable wrote nothing
    expect(trail.map((e) => [e.action, e.actor, e.oldValues, e.newValues])).toEqual([
      ['module.disabled', actor, { module: 'ai_assistant', enabled: true }, { module: 'ai_assistant', enabled: false }],
      ['module.enabled', actor, { module: 'ai_assistant', enabled: null }, { module: 'ai_assistant', enabled: true }],
    ]);
    const rows = await h.adminQuery(`SELECT action FROM admin_audit_logs WHERE id > $1 AND customer_id = 'acme' AND action LIKE 'module.%' AND new_values->>'module' = 'ai_assistant' ORDER BY id`, [before]);
    expect(rows.map((r) => r.action)).toEqual(['module.enabled', 'module.disabled']);
    const text = (await ok(['audit', 'acme'])).stdout;
    expect(text).toMatch(/module\.disabled\s+e2e-ctlplane\s+module="ai_assistant", enabled: true → false/);
  });

  it('computes MRR in admin_customer_mrr as the sum of the enabled modules\' prices', async () => {
    await setModules(['crm_core', 'advanced_pipeline', 'analytics_reporting', 'compliance_audit']);
    const list = (await ok(['modules', 'list', 'acme', '--json'])).json();
    const expected = list.modules.filter((m: any) => m.enabled).reduce((sum: number, m: any) => sum + cents(m.monthlyPrice), 0);
    expect(expected).toBe(cents(0 + 29.99 + 59.99 + 99.99));

    const [view] = await h.adminQuery(`SELECT mrr::text AS mrr, enabled_modules FROM admin_customer_mrr WHERE customer_id = 'acme'`);
    expect(cents(view.mrr)).toBe(expected);
    expect(view.enabled_modules).toBe(4);
    const [summed] = await h.adminQuery(
      `SELECT COALESCE(sum(fm.monthly_price), 0)::text AS total FROM admin_customer_modules cm JOIN admin_feature_modules fm ON fm.key = cm.module_key WHERE cm.customer_id = 'acme' AND cm.enabled`,
    );
    expect(cents(summed.total)).toBe(expected);
    expect(cents(list.mrr)).toBe(expected);

    const [active] = await h.adminQuery(`SELECT module_keys FROM admin_active_customer_modules WHERE customer_id = 'acme'`);
    expect(active.module_keys).toEqual(enabledKeys(list));
    expect((await ok(['modules', 'list', 'acme'])).stdout).toContain('4 of 10 modules enabled; MRR $189.97');
  });

  it('creates an API key, prints it once, and stores only its SHA-256', async () => {
    const created: Key[] = [initial];
    const result = (await ok(['keys', 'create', 'acme', '--name', 'ci', '--json'])).json();
    expect(result).toMatchObject({ customerId: 'acme', name: 'ci' });
    expect(result.key).toMatch(/^tk_live_[0-9A-Za-z]{32}$/);
    expect(result.prefix).toBe(result.key.slice(0, 12));
    created.push(result);

    const human = await ok(['keys', 'create', 'acme', '--name', 'billing export']);
    const key = /tk_live_[0-9A-Za-z]{32}/.exec(human.stdout)?.[0];
    expect(key).toBeDefined();
    expect(human.stdout).toMatch(/not shown again/);
    const [row] = await h.adminQuery(`SELECT id, prefix FROM admin_api_keys WHERE name = 'billing export'`);
    created.push({ id: row.id, key: key!, prefix: row.prefix });

    const rows = await h.adminQuery(`SELECT id, prefix, key_hash, row_to_json(k)::text AS whole FROM admin_api_keys k WHERE customer_id = 'acme' ORDER BY created_at`);
    const everything = [
      ...rows.map((r) => r.whole),
      ...(await h.adminQuery(`SELECT row_to_json(a)::text AS whole FROM admin_audit_logs a`)).map((r) => r.whole),
    ].join('\n');
    for (const k of created) {
      expect(rows.find((r) => r.id === k.id)).toMatchObject({ prefix: k.prefix, key_hash: hashOf(k.key) });
      expect(everything).not.toContain(k.key);
      expect(everything).not.toContain(k.key.slice(12)); // not even the part after the prefix
    }
  });

  it('lists keys by prefix, never the keys themselves', async () => {
    const own: Key = (await ok(['keys', 'create', 'acme', '--name', 'listed', '--json'])).json();
    const json = await ok(['keys', 'list', 'acme', '--json']);
    const text = await ok(['keys', 'list', 'acme']);
    const listed = json.json().keys.map((k: any) => [k.id, k.prefix, k.name]);
    expect(listed).toContainEqual([own.id, own.prefix, 'listed']);
    expect(listed.map((k: any[]) => k[0])).toContain(initial.id);
    const stored = await h.adminQuery(`SELECT id FROM admin_api_keys WHERE customer_id = 'acme' ORDER BY created_at`);
    expect(listed.map((k: any[]) => k[0])).toEqual(stored.map((r) => r.id));
    for (const k of [initial, own]) {
      expect(text.stdout).toContain(k.prefix);
      expect(json.stdout + text.stdout).not.toContain(k.key);
      expect(json.stdout + text.stdout).not.toContain(k.key.slice(12));
    }
  });

  it('revokes a key: the list shows it revoked, the audit log has it, and a second revoke changes nothing', async () => {
    const first: Key = (await ok(['keys', 'create', 'acme', '--name', 'to revoke', '--json'])).json();
    const second: Key = (await ok(['keys', 'create', 'acme', '--name', 'to keep', '--json'])).json();
    const revoked = (await ok(['keys', 'revoke', 'acme', first.id, '--json'])).json();
    expect(revoked).toMatchObject({ outcome: 'revoked', key: { id: first.id, status: 'revoked' } });

    const keys = (await ok(['keys', 'list', 'acme', '--json'])).json().keys;
    const of = (id: string) => keys.find((k: any) => k.id === id);
    expect([of(initial.id)?.status, of(first.id)?.status, of(second.id)?.status]).toEqual(['active', 'revoked', 'active']);
    expect(of(first.id).revokedAt).not.toBeNull();
    expect((await ok(['keys', 'list', 'acme'])).stdout).toMatch(/revoked \d{4}-/);

    const again = await ok(['keys', 'revoke', 'acme', first.id, '--json']);
    expect(again.json()).toMatchObject({ outcome: 'already-revoked', key: { revokedAt: of(first.id).revokedAt } });

    // newest first; the second revoke wrote nothing
    const trail = (await auditOf('acme')).filter((e) => e.action.startsWith('api_key.') && (e.newValues?.id === first.id || e.oldValues?.id === first.id));
    expect(trail.map((e) => e.action)).toEqual(['api_key.revoked', 'api_key.created']);
    expect(trail[0]).toMatchObject({ actor, oldValues: { id: first.id, revoked_at: null }, newValues: { id: first.id, revoked_at: of(first.id).revokedAt } });

    const unknown = await h.cli(['keys', 'revoke', 'acme', randomUUID(), '--json']);
    expect(unknown.exitCode, unknown.why).toBe(3);
    expect(unknown.json().error).toMatchObject({ code: 'notFound', exitCode: 3 });
    expect((await h.cli(['keys', 'revoke', 'acme', 'not-a-key-id'])).exitCode).toBe(2);
  });

  it('filters the audit log with --since and --limit', async () => {
    const all = await auditOf('acme');
    expect(all.length).toBeGreaterThan(5); // provision alone writes more than that
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => b - a)); // newest first
    const lastTwo = (await ok(['audit', 'acme', '--limit', '2', '--json'])).json();
    expect(lastTwo).toEqual(all.slice(0, 2));
    expect((await ok(['audit', 'acme', '--since', '1h', '--limit', '1000', '--json'])).json()).toHaveLength(all.length);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await ok(['audit', '--since', future, '--json'])).json()).toEqual([]);
    const from = all[2].createdAt;
    expect((await ok(['audit', 'acme', '--since', from, '--limit', '1000', '--json'])).json().every((e: any) => e.createdAt >= from)).toBe(true);
  });

  it('refuses unknown modules and bad flags with exit 2, unknown tenants with exit 3', async () => {
    const unknownModule = await h.cli(['modules', 'enable', 'acme', 'teleportation', '--json']);
    expect(unknownModule.exitCode, unknownModule.why).toBe(2);
    expect(unknownModule.json().error.message).toBe(`unknown module "teleportation"; known: ${catalogue.map((m) => m[0]).sort().join(', ')}`);
    const human = await h.cli(['modules', 'disable', 'acme', 'teleportation']);
    expect(human.exitCode).toBe(2);
    expect(human.stderr.trim().split('\n')).toHaveLength(1);

    for (const args of [
      ['modules', 'enable', 'initech', 'ai_assistant'],
      ['modules', 'list', 'initech'],
      ['keys', 'create', 'initech'],
      ['keys', 'list', 'initech'],
      ['keys', 'revoke', 'initech', randomUUID()],
      ['audit', 'initech'],
    ]) {
      const result = await h.cli([...args, '--json']);
      expect(result.exitCode, result.why).toBe(3);
      expect(result.json().error).toMatchObject({ code: 'notFound', message: 'no tenant initech in the admin database' });
    }

    for (const args of [
      ['audit', 'acme', '--since', 'yesterday'],
      ['audit', '--since', '2025-02-30'],
      ['audit', '--limit', '0'],
      ['audit', '--limit', 'ten'],
      ['modules', 'list', 'ACME'],
      ['keys', 'create', 'acme', '--name', 'a\nb'],
      ['keys', 'list'],
      ['modules', 'enable', 'acme'],
      ['modules', 'frobnicate'],
    ]) {
      const result = await h.cli(args);
      expect(result.exitCode, result.why).toBe(2);
      expect(result.stdout).toBe('');
    }
    const since = await h.cli(['audit', '--since', '3 days', '--json']);
    expect(since.json().error).toMatchObject({ code: 'usage', exitCode: 2 });
    expect(since.json().error.message).toMatch(/^--since "3 days": expected an ISO date/);
  });


  it('deprovisions the tenant; it then gets no modules or keys, keeps its trail, and leaves nothing behind', async () => {
    const result = await ok(['deprovision', 'acme', '--yes', '--json']);
    expect(result.json()).toMatchObject({ id: 'acme', outcome: 'deprovisioned' });
    expect(await dockerObjectsWithPrefix(`${h.prefix}-acme`)).toEqual({ containers: [], networks: [], volumes: [] });

    const enable = await h.cli(['modules', 'enable', 'acme', 'ai_assistant', '--json']);
    expect(enable.exitCode, enable.why).toBe(3);
    expect(enable.json().error.message).toMatch(/deprovisioned/);
    expect((await h.cli(['keys', 'create', 'acme'])).exitCode).toBe(3);
    expect(await h.adminQuery(`SELECT * FROM admin_customer_mrr WHERE customer_id = 'acme'`)).toEqual([]);
    const list = (await ok(['modules', 'list', 'acme', '--json'])).json();
    expect(list).toMatchObject({ status: 'deprovisioned', mrr: null });
    expect((await auditOf('acme'))[0].action).toBe('deprovision.completed');
    // Keys to a stack that is gone stop working: every key is revoked, and the audit log says so.
    const keys = (await ok(['keys', 'list', 'acme', '--json'])).json().keys;
    expect(keys.length).toBeGreaterThanOrEqual(1); // the initial key at least
    expect(keys.every((k: any) => k.status === 'revoked')).toBe(true);
    expect((await auditOf('acme')).map((e) => e.action)).toContain('api_key.revoked_all');
  }, 120_000);
});

describe('the catalogue and help, which need no tenant', () => {
  it('lists the catalogue: ten modules with their prices and defaults', async () => {
    const list = (await ok(['modules', 'list', '--json'])).json();
    expect(list.customerId).toBeNull();
    const shown = list.modules.map((m: any) => [m.key, m.name, m.monthlyPrice, m.defaultEnabled]);
    expect(shown.sort()).toEqual(catalogue.map((m) => [...m]).sort());
    const text = (await ok(['modules', 'list'])).stdout;
    expect(text).toMatch(/ai_assistant\s+AI Assistant\s+\$49\.99/);
  });

  it('shows help with examples for every new command', async () => {
    for (const args of [['modules'], ['modules', 'list'], ['modules', 'enable'], ['modules', 'disable'], ['keys'], ['keys', 'create'], ['keys', 'list'], ['keys', 'revoke'], ['audit']]) {
      const result = await h.cli([...args, '--help']);
      expect(result.exitCode, result.why).toBe(0);
      expect(result.stdout).toMatch(/Examples:\n {2}\$ tenantctl /);
    }
  });
});
