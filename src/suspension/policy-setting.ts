import type { AdminDb } from '../admin-db/database.js';
import { recordAudit } from '../audit/write.js';

// The suspension policy as the database enforces it (migration 029): `agent up`, run by the
// operator as the database's owner, records the host's suspension.deprovisionAfterDays in
// admin_settings, which the agent's role may read and never write; the guard trigger
// (admin_agent_customer_guard) lets the agent begin a policy deprovisioning only of a tenant of that
// host suspended longer than those days (and warned more than a day ago). 'off' (or no setting): the
// agent begins none. So a compromised agent, or one whose configuration was changed behind the
// operator's back, cannot deprovision sooner than the operator's policy says.

/** The admin_settings key of a host's recorded policy. */
export const policySettingKey = (host: string): string => `suspension_deprovision_after_days:${host}`;

/** The setting's value for a policy: whole days, or 'off'. */
export const policySettingValue = (days: number | null): string => (days === null ? 'off' : String(days));

/** Reads it back as the guard does: days, or null (off, unset, not a number of days). */
export function policyDaysOf(value: string | undefined): number | null {
  if (value === undefined || !/^[0-9]{1,4}$/.test(value)) return null;
  const days = Number(value);
  return days >= 1 ? days : null;
}

/**
 * Records the host's policy (as the owner: `agent up`), audited when it changes
 * ('suspension.policy-recorded', old and new value). Returns what was there before (null: nothing).
 */
export async function recordSuspensionPolicy(db: AdminDb, host: string, days: number | null): Promise<{ before: string | null; now: string }> {
  const value = policySettingValue(days);
  return db.withTransaction(async (client) => {
    const { rows } = await client.query('SELECT value FROM admin_settings WHERE key = $1 FOR UPDATE', [policySettingKey(host)]);
    const before = (rows[0]?.value as string | undefined) ?? null;
    if (before === value) return { before, now: value };
    await client.query(
      'INSERT INTO admin_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()',
      [policySettingKey(host), value],
    );
    await recordAudit(db, client, null, 'suspension.policy-recorded', before === null ? null : { host, deprovisionAfterDays: before }, { host, deprovisionAfterDays: value });
    return { before, now: value };
  });
}

/** The host's recorded policy in days (null: off or never recorded), as the guard reads it. */
export async function recordedPolicyDays(db: AdminDb, host: string): Promise<number | null> {
  const { rows } = await db.pool.query('SELECT value FROM admin_settings WHERE key = $1', [policySettingKey(host)]).catch(db.unreachable);
  return policyDaysOf(rows[0]?.value as string | undefined);
}
