// The suspension policy (config suspension.deprovisionAfterDays, off by default), as a pure
// decision: given the suspended tenants and the time, which are due for deprovisioning now and
// which the agent must warn of (its 'suspension.deprovision-soon' alert). The warning cannot be
// skipped: a tenant is due at the later of (suspended + N days) and (warned + 1 day), and a tenant
// never warned is never due, however long it has been suspended (an agent that was down for the
// warning's day warns first and deprovisions a day later). It decides; it does nothing. What acting on it removes is `deprovision --keep-data` (README, "Suspension"):
// containers and network, the ports and subnet, the API keys (revoked); the volumes, customers/<id>/
// and the sealed secrets stay, so `provision <id>` brings the tenant back with its data.

const dayMs = 24 * 60 * 60 * 1000;

export interface SuspendedEntry {
  id: string;
  /** ISO time the suspension began. */
  suspendedAt: string;
  /** ISO time the agent raised the warning (admin_customers.deprovision_warned_at); null: not yet. */
  warnedAt: string | null;
}

export interface PolicyVerdict {
  id: string;
  /** Whole days since it was suspended. */
  daysSuspended: number;
  /**
   * When the policy deprovisions it (ISO): max(suspended + N days, warned + 1 day); before the
   * warning, the earliest it could be (suspended + N days, or now + 1 day if that has passed).
   * Null when the policy is off.
   */
  deprovisionAt: string | null;
  /** Its time has come (it was warned at least a day ago, and N days have passed). */
  due: boolean;
  /** Within the next 24 hours of suspended + N days (or past it) and not warned yet: the agent warns now. */
  dueWithinADay: boolean;
  /** When the warning was raised; null: not yet. */
  warnedAt: string | null;
}

export interface PolicyDecision {
  verdicts: PolicyVerdict[];
  /** Ids due now. */
  due: string[];
  /** Ids to warn of now (due within 24 hours of suspended + N days, or past it, and not warned yet). */
  warn: string[];
}

export function decideSuspensions(tenants: readonly SuspendedEntry[], { deprovisionAfterDays, now }: { deprovisionAfterDays: number | null; now: number }): PolicyDecision {
  const verdicts = tenants.map((t): PolicyVerdict => {
    const since = Date.parse(t.suspendedAt);
    const warned = t.warnedAt === null ? null : Date.parse(t.warnedAt);
    const daysSuspended = Math.max(0, Math.floor((now - since) / dayMs));
    const off = { id: t.id, daysSuspended, deprovisionAt: null, due: false, dueWithinADay: false, warnedAt: t.warnedAt };
    if (deprovisionAfterDays === null || !Number.isFinite(since)) return off;
    const byAge = since + deprovisionAfterDays * dayMs;
    if (warned === null || !Number.isFinite(warned)) {
      // Never warned: never due. The warning's moment is the day before byAge (or now, if late).
      const warnNow = byAge - now <= dayMs;
      return { ...off, deprovisionAt: new Date(Math.max(byAge, now + dayMs)).toISOString(), dueWithinADay: warnNow, warnedAt: null };
    }
    const at = Math.max(byAge, warned + dayMs);
    return { ...off, deprovisionAt: new Date(at).toISOString(), due: now >= at };
  }).sort((a, b) => a.id.localeCompare(b.id));
  return { verdicts, due: verdicts.filter((v) => v.due).map((v) => v.id), warn: verdicts.filter((v) => v.dueWithinADay).map((v) => v.id) };
}
