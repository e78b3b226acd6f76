import type { AdminDb } from '../admin-db/database.js';
import type pg from 'pg';
import { TenantctlError } from '../common/errors.js';
import type { DesiredSchedule, ScheduleKind } from './desired.js';
import type { RecordedFindings, ScheduleFreshness } from './alerts.js';

/** The session holding a host's leader lock (src/agent/leader.ts): a backend pid and its start. */
export interface LeaderSession {
  pid: number;
  started: string;
}

/**
 * The fence of a claim or finish: inside its transaction, pg_locks must show the host's leader lock
 * (space 4, lockSpaces.agentLeader) held by `leader`'s session. An agent whose session is gone (or
 * that another agent replaced) changes nothing, even before it notices.
 */
async function requireLeader(client: pg.ClientBase, host: string, leader: LeaderSession): Promise<void> {
  const { rows } = await client.query(
    `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid::bigint = 4
        AND l.objid::bigint = (hashtext($1)::bigint & 4294967295) AND l.pid = $2 AND a.backend_start::text = $3`,
    [host, leader.pid, leader.started],
  );
  if (!rows[0]) throw new TenantctlError('adminDb', `this agent no longer leads host ${host} (its leader lock's session ${leader.pid} is gone): nothing claimed or finished`);
}

// admin_schedules and admin_schedule_runs (migration 017). A schedule is claimed by one agent in
// one transaction (the row locked with SKIP LOCKED, its run row inserted, running_run set), so a
// due job runs once whoever asks; when the run ends its next run is due `every` after that moment
// (not after the missed due time: an agent back after a day runs a daily job once, not once per
// day missed). Every write is a fenced transaction (admin-db): an agent that lost its leadership
// lock cannot claim or finish anything.

export type RunOutcome = 'succeeded' | 'failed';

export interface Schedule {
  id: number;
  host: string;
  kind: ScheduleKind;
  target: string;
  spec: string;
  everySeconds: number;
  keep: number | null;
  nextRunAt: string;
  runningRun: number | null;
  lastStartedAt: string | null;
  lastFinishedAt: string | null;
  lastOutcome: RunOutcome | null;
  lastError: string | null;
  /** The last finished run's one-line account (what it backed up, what doctor found). */
  lastSummary: string | null;
  /** Removed by `agent up` while it ran: deleted when that run finishes, never claimed again. */
  disabled: boolean;
}

export interface ScheduleRun {
  id: number;
  scheduleId: number;
  state: 'running' | RunOutcome;
  actor: string;
  detail: Record<string, unknown>;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

const iso = (value: Date | null) => (value ? value.toISOString() : null);

const toSchedule = (row: any): Schedule => ({
  id: Number(row.id),
  host: row.host,
  kind: row.kind,
  target: row.target,
  spec: row.spec,
  everySeconds: row.every_seconds,
  keep: row.keep,
  nextRunAt: (row.next_run_at as Date).toISOString(),
  runningRun: row.running_run === null ? null : Number(row.running_run),
  lastStartedAt: iso(row.last_started_at),
  lastFinishedAt: iso(row.last_finished_at),
  lastOutcome: row.last_outcome,
  lastError: row.last_error,
  lastSummary: row.last_summary ?? null,
  disabled: row.disabled ?? false,
});

const toRun = (row: any): ScheduleRun => ({
  id: Number(row.id),
  scheduleId: Number(row.schedule_id),
  state: row.state,
  actor: row.actor,
  detail: row.detail ?? {},
  error: row.error,
  startedAt: (row.started_at as Date).toISOString(),
  finishedAt: iso(row.finished_at),
});

export class ScheduleStore {
  constructor(readonly db: AdminDb) {}

  /**
   * Makes the host's schedules what the configuration asks (agent up, as the database's owner): new
   * ones are due at once, a changed interval counts from the last run, and schedules no longer
   * asked for go (with their runs) unless one is running now.
   */
  async sync(host: string, wanted: DesiredSchedule[]): Promise<{ added: number; changed: number; removed: number }> {
    return this.db.withTransaction(async (client) => {
      let added = 0;
      let changed = 0;
      for (const s of wanted) {
        const { rows } = await client.query(
          `INSERT INTO admin_schedules (host, kind, target, spec, every_seconds, keep) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (host, kind, target) DO UPDATE SET disabled = false, spec = EXCLUDED.spec, every_seconds = EXCLUDED.every_seconds, keep = EXCLUDED.keep,
             next_run_at = CASE WHEN admin_schedules.every_seconds = EXCLUDED.every_seconds THEN admin_schedules.next_run_at
                                ELSE COALESCE(admin_schedules.last_finished_at + make_interval(secs => EXCLUDED.every_seconds), now()) END
           RETURNING (xmax = 0) AS inserted, (SELECT every_seconds FROM admin_schedules o WHERE o.id = admin_schedules.id) AS before`,
          [host, s.kind, s.target, s.spec, s.everySeconds, s.keep],
        );
        if (rows[0].inserted) added += 1;
        else if (rows[0].before !== s.everySeconds) changed += 1;
      }
      const keys = wanted.map((s) => `${s.kind}:${s.target}`);
      const { rowCount } = await client.query(
        "DELETE FROM admin_schedules WHERE host = $1 AND running_run IS NULL AND NOT (kind || ':' || target = ANY($2::text[]))",
        [host, keys],
      );
      // One running now is disabled instead: its agent deletes it when the run ends (finish).
      const { rowCount: disabled } = await client.query(
        "UPDATE admin_schedules SET disabled = true WHERE host = $1 AND running_run IS NOT NULL AND NOT (kind || ':' || target = ANY($2::text[]))",
        [host, keys],
      );
      return { added, changed, removed: (rowCount ?? 0) + (disabled ?? 0) };
    });
  }

  /** The schedules of one host (or all), with the last run's summary. */
  async list(host?: string): Promise<Schedule[]> {
    const { rows } = await this.db.pool.query(
      `SELECT s.*, (SELECT r.detail->>'summary' FROM admin_schedule_runs r WHERE r.schedule_id = s.id AND r.state <> 'running' ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS last_summary
         FROM admin_schedules s ${host === undefined ? '' : 'WHERE s.host = $1'} ORDER BY s.host, s.kind, s.target`,
      host === undefined ? [] : [host],
    ).catch(this.db.unreachable);
    return rows.map(toSchedule);
  }

  /**
   * The host's schedules with their newest succeeded run's end (for admin-backup, or the newest
   * admin backup anyone made: admin_last_admin_backup(), migration 029), for the missed-run alerts.
   * `adminBackups: false` leaves that function out (a role without its grant still reads the rest).
   */
  async freshness(host: string, { adminBackups = true }: { adminBackups?: boolean } = {}): Promise<ScheduleFreshness[]> {
    const { rows } = await this.db.pool.query(
      `SELECT s.kind, s.target, s.spec, s.every_seconds, s.created_at,
              greatest((SELECT max(r.finished_at) FROM admin_schedule_runs r WHERE r.schedule_id = s.id AND r.state = 'succeeded'),
                       ${adminBackups ? "CASE WHEN s.kind = 'admin-backup' THEN admin_last_admin_backup() END" : 'NULL'}) AS last_ok
         FROM admin_schedules s WHERE s.host = $1 AND NOT s.disabled ORDER BY s.kind, s.target`,
      [host],
    ).catch(this.db.unreachable);
    return rows.map((r) => ({
      kind: r.kind, target: r.target, spec: r.spec, everySeconds: r.every_seconds,
      createdAt: (r.created_at as Date).toISOString(), lastSucceededAt: iso(r.last_ok),
    }));
  }

  /**
   * The set of findings the schedule's newest earlier doctor run recorded (its findingsKey and the
   * findings it compared, once its alert was queued), or null: none recorded one.
   */
  async previousFindings(scheduleId: number, beforeRun: number): Promise<RecordedFindings | null> {
    const { rows } = await this.db.pool.query(
      `SELECT detail->>'findingsKey' AS key, detail->'findingsCompared' AS compared FROM admin_schedule_runs
        WHERE schedule_id = $1 AND id <> $2 AND detail ? 'findingsKey' ORDER BY started_at DESC, id DESC LIMIT 1`,
      [scheduleId, beforeRun],
    ).catch(this.db.unreachable);
    if (!rows[0]) return null;
    const compared = Array.isArray(rows[0].compared) ? (rows[0].compared as Array<{ kind: string; tenant: string; host?: string }>).map((f) => ({ ...f, detail: '' })) : null;
    return { key: rows[0].key as string, compared };
  }

  async runs(scheduleId: number): Promise<ScheduleRun[]> {
    const { rows } = await this.db.pool.query('SELECT * FROM admin_schedule_runs WHERE schedule_id = $1 ORDER BY started_at DESC, id DESC', [scheduleId]).catch(this.db.unreachable);
    return rows.map(toRun);
  }

  /**
   * Claims the host's most overdue schedule that is due and not running, with a new run row; none
   * when nothing is due. UPDATE ... RETURNING on a row locked FOR UPDATE SKIP LOCKED in one
   * transaction: two agents asking at once never claim the same run.
   */
  async claimDue(host: string, actor: string, leader: LeaderSession): Promise<{ schedule: Schedule; run: ScheduleRun } | undefined> {
    return this.db.withTransaction(async (client) => {
      await requireLeader(client, host, leader);
      const { rows: due } = await client.query(
        `SELECT id FROM admin_schedules WHERE host = $1 AND running_run IS NULL AND NOT disabled AND next_run_at <= now()
          ORDER BY next_run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [host],
      );
      if (!due[0]) return undefined;
      const { rows: runs } = await client.query('INSERT INTO admin_schedule_runs (schedule_id, host, actor, leader_pid, leader_started) VALUES ($1, $2, $3, $4, $5) RETURNING *',
        [due[0].id, host, actor, leader.pid, leader.started],
      );
      const { rows } = await client.query(
        'UPDATE admin_schedules SET running_run = $2, last_started_at = now() WHERE id = $1 AND running_run IS NULL RETURNING *',
        [due[0].id, runs[0].id],
      );
      return { schedule: toSchedule(rows[0]), run: toRun(runs[0]) };
    });
  }

  /** Merges what a run learned so far into its detail (e.g. which tenants are done). */
  async note(runId: number, patch: Record<string, unknown>): Promise<void> {
    await this.db.withTransaction((client) => client.query('UPDATE admin_schedule_runs SET detail = detail || $2::jsonb WHERE id = $1', [runId, JSON.stringify(patch)]));
  }

  /**
   * Ends a run and schedules the next one `every` from now, or at once when the run was interrupted
   * (`soon`: the tenants it did not reach are backed up on the next tick, as a missed run is).
   * Fenced by the leader: `leader` must hold the host's leader lock (pg_locks), and a run is finished
   * by the session that claimed it unless `settling` (its session is gone: settleInterruptedRuns).
   * A schedule disabled while the run was in flight (agent up removed it) is deleted now.
   */
  async finish(
    schedule: Pick<Schedule, 'id' | 'host'>, runId: number, outcome: RunOutcome, summary: string, error: string | null,
    leader: LeaderSession, { soon = false, settling = false }: { soon?: boolean; settling?: boolean } = {},
  ): Promise<'finished' | 'not ours'> {
    return this.db.withTransaction(async (client) => {
      await requireLeader(client, schedule.host, leader);
      const { rowCount } = await client.query(
        `UPDATE admin_schedule_runs SET state = $2, error = $3, detail = detail || jsonb_build_object('summary', $4::text), finished_at = now()
          WHERE id = $1 AND state = 'running' AND ($5::boolean OR (leader_pid = $6 AND leader_started = $7))`,
        [runId, outcome, error?.slice(0, 2000) ?? null, summary.slice(0, 500), settling, leader.pid, leader.started],
      );
      if (!rowCount) return 'not ours';
      const { rows } = await client.query(
        `UPDATE admin_schedules SET running_run = NULL, last_finished_at = now(), last_outcome = $3, last_error = $4,
           next_run_at = CASE WHEN $5::boolean THEN now() ELSE now() + make_interval(secs => every_seconds) END
         WHERE id = $1 AND running_run = $2 RETURNING disabled`,
        [schedule.id, runId, outcome, error?.slice(0, 2000) ?? null, soon],
      );
      // Through a function of the owner's that deletes only a disabled, idle schedule: the agent's role
      // has no DELETE on the table (migration 017).
      if (rows[0]?.disabled) await client.query('SELECT admin_drop_disabled_schedule($1)', [schedule.id]);
      return 'finished';
    });
  }

  /**
   * The host's schedules whose run was claimed and never finished: its claiming session (the leader
   * lock's backend) is gone (its agent died), or it is `mine` (this leader's own run it could not
   * record the end of: the caller has no run in flight). A live agent's run is never listed.
   */
  async interrupted(host: string, mine: LeaderSession): Promise<Array<{ schedule: Schedule; run: ScheduleRun }>> {
    const { rows } = await this.db.pool.query(
      `SELECT to_jsonb(s) AS s, to_jsonb(r) AS r FROM admin_schedules s JOIN admin_schedule_runs r ON r.id = s.running_run
        WHERE s.host = $1 AND r.state = 'running'
          AND ((r.leader_pid = $2 AND r.leader_started = $3)
               OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.leader_pid AND (a.backend_start IS NULL OR a.backend_start::text = r.leader_started)))`,
      [host, mine.pid, mine.started],
    ).catch(this.db.unreachable);
    const dated = (o: any) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, /_at$/.test(k) && typeof v === 'string' ? new Date(v) : v]));
    return rows.map((row) => ({ schedule: toSchedule(dated(row.s)), run: toRun(dated(row.r)) }));
  }
}
