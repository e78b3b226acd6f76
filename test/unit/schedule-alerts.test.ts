import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { alertsFailedRun, failedAlertKind, failedRunAlert, missedAlert, missedSchedules, type ScheduleFreshness } from '../../src/schedules/alerts.js';
import { alertKinds } from '../../src/alerts/kinds.js';
import { policyDaysOf, policySettingKey, policySettingValue } from '../../src/suspension/policy-setting.js';
import { refusalOf } from '../../src/recover/dump-guard.js';

const hour = 3_600_000;
const now = Date.parse('2026-12-06T12:00:00.000Z');
const at = (msAgo: number) => new Date(now - msAgo).toISOString();
const fresh = (over: Partial<ScheduleFreshness>): ScheduleFreshness => ({
  kind: 'admin-backup', target: '*', spec: 'every 6h', everySeconds: 6 * 3600, createdAt: at(100 * hour), lastSucceededAt: null, ...over,
});

describe('alerts of failed and missed schedules', () => {
  it('a run cut short by the agent\'s own stop, or settled by another leader, raises no failure alert (planned restarts are no failures)', () => {
    const interrupted = { outcome: 'failed', interrupted: true };
    expect(alertsFailedRun(interrupted, 'finished', true)).toBe(false);
    expect(alertsFailedRun({ outcome: 'failed' }, 'not ours', false)).toBe(false);
    expect(alertsFailedRun({ outcome: 'failed', alerted: true }, 'finished', false)).toBe(false);
    // Still alerted: a lost lead (the agent is not stopping), and a failure of its own during a stop.
    expect(alertsFailedRun(interrupted, 'finished', false)).toBe(true);
    expect(alertsFailedRun({ outcome: 'failed' }, 'finished', true)).toBe(true);
    expect(alertsFailedRun({ outcome: 'succeeded' }, 'finished', false)).toBe(false);
  });

  it('every schedule kind has a failed-run alert, and each is a kind endpoints can subscribe to', () => {
    for (const kind of ['backup', 'admin-backup', 'certificate-renewal', 'retention', 'doctor'] as const) {
      expect(alertKinds).toContain(failedAlertKind[kind]);
    }
    expect(failedAlertKind['admin-backup']).toBe('admin.backup-failed');
    expect(failedAlertKind.retention).toBe('schedule.failed');
    for (const kind of ['admin.backup-failed', 'admin.backup-missed', 'schedule.failed', 'schedule.missed']) expect(alertKinds).toContain(kind);
  });

  it('a failed run names its schedule, run and error; backup.failed keeps its plan and interval as before', () => {
    const admin = failedRunAlert({ kind: 'admin-backup', target: '*', spec: 'every 6h' }, 'h1', 42, 'admin database not backed up', 'restic: repository locked');
    expect(admin).toEqual({
      kind: 'admin.backup-failed', host: 'h1',
      summary: 'scheduled admin database backup on h1: admin database not backed up',
      detail: { kind: 'admin-backup', target: '*', schedule: 'every 6h', run: '42', error: 'restic: repository locked' },
    });
    const backup = failedRunAlert({ kind: 'backup', target: 'standard', spec: 'every 24h' }, 'h1', 7, 'backed up 1 of 2 tenants, 1 failed', null);
    expect(backup).toMatchObject({ kind: 'backup.failed', summary: 'scheduled backup of plan standard on h1: backed up 1 of 2 tenants, 1 failed', detail: { plan: 'standard', schedule: 'every 24h', run: '7', error: null } });
    expect(failedRunAlert({ kind: 'certificate-renewal', target: '*', spec: 'every 12h' }, 'h1', 1, 'certificate-renewal interrupted', 'x').detail).toMatchObject({ hostname: null });
    expect(failedRunAlert({ kind: 'doctor', target: '*', spec: 'every 6h' }, 'h1', 1, 'doctor failed', 'x').kind).toBe('schedule.failed');
  });

  it('missed: no success within two intervals, counted from the last success or from when the schedule was set up', () => {
    const schedules = [
      fresh({ lastSucceededAt: at(11 * hour) }), // 11 h < 12 h: on time
      fresh({ kind: 'retention', target: 'standard', spec: 'every 1h', everySeconds: 3600, lastSucceededAt: at(2 * hour + 1000) }), // missed
      fresh({ kind: 'certificate-renewal', spec: 'every 12h', everySeconds: 12 * 3600, createdAt: at(25 * hour) }), // never succeeded, set up 25 h ago: missed
      fresh({ kind: 'doctor', lastSucceededAt: null }), // doctor: never alerted as missed
      fresh({ kind: 'backup', target: 'standard', lastSucceededAt: null }), // backups: per tenant, elsewhere
      fresh({ createdAt: at(hour), lastSucceededAt: null }), // new: not yet
    ];
    const missed = missedSchedules(schedules, now);
    expect(missed.map((m) => [m.schedule.kind, m.staleSeconds])).toEqual([['retention', 7201], ['certificate-renewal', 25 * 3600]]);
    expect(missedSchedules([fresh({ lastSucceededAt: at(12 * hour + 1000) })], now).map((m) => m.schedule.kind)).toEqual(['admin-backup']);
    const alert = missedAlert(missedSchedules([fresh({ lastSucceededAt: at(13 * hour) })], now)[0]!, 'h1');
    expect(alert).toMatchObject({ kind: 'admin.backup-missed', host: 'h1', detail: { kind: 'admin-backup', lastSucceededAt: at(13 * hour), staleSeconds: 13 * 3600 } });
    expect(alert.summary).toMatch(/admin database backup on h1 runs every 6h, and its last success was at .* over two intervals/);
    expect(missedAlert(missed[1]!, 'h1').kind).toBe('schedule.missed');
  });
});

describe('the suspension policy as the database reads it (migration 029)', () => {
  it('is days or off, per host; anything else reads as off', () => {
    expect(policySettingKey('h1')).toBe('suspension_deprovision_after_days:h1');
    expect(policySettingValue(30)).toBe('30');
    expect(policySettingValue(null)).toBe('off');
    expect(policyDaysOf('30')).toBe(30);
    for (const value of ['off', undefined, '0', '-1', '1.5', '30 days', '', '99999']) expect(policyDaysOf(value)).toBeNull();
  });

  it('029\'s functions pass recover\'s dump guard (pg_dump writes their bodies verbatim)', () => {
    const sql = readFileSync(path.join(import.meta.dirname, '..', '..', 'scripts', 'admin-migrations', '029_suspension_policy_days.sql'), 'utf8');
    // Every line but the migration's own DO block (pg_dump never writes that: it dumps the grants it made).
    const lines = sql.slice(0, sql.lastIndexOf('DO $$')).split('\n');
    const refused = lines.map((line) => [line, refusalOf(line)]).filter(([, why]) => why !== undefined);
    expect(refused).toEqual([]);
    // The guard reads the days in the same shape policyDaysOf does.
    expect(sql).toContain("s.value ~ '^[0-9]{1,4}$' AND s.value::integer >= 1");
  });
});
