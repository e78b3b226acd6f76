// The suspension policy (config suspension.deprovisionAfterDays, off by default), as a pure
// decision: given the suspended tenants and the time, which are due for deprovisioning now and
// which become due within the next day (the agent's warning alert, a day before). It decides; it
// does nothing. What acting on it removes is `deprovision --keep-data` (README, "Suspension"):
// containers and network, the ports and subnet, the API keys (revoked); the volumes, customers/<id>/
// and the sealed secrets stay, so `provision <id>` brings the tenant back with its data.

const dayMs = 24 * 60 * 60 * 1000;

export interface SuspendedEntry {
  id: string;
  /** ISO time the suspension began. */
  suspendedAt: string;
}

export interface PolicyVerdict {
  id: string;
  /** Whole days since it was suspended. */
  daysSuspended: number;
  /** When the policy deprovisions it (ISO); null when the policy is off. */
  deprovisionAt: string | null;
  /** Its time has come. */
  due: boolean;
  /** Not due yet, but within the next 24 hours: the warning's moment. */
  dueWithinADay: boolean;
}

export interface PolicyDecision {
  verdicts: PolicyVerdict[];
  /** Ids due now. */
  due: string[];
  /** Ids due within the next 24 hours (not due yet). */
  warn: string[];
}

export function decideSuspensions(tenants: readonly SuspendedEntry[], { deprovisionAfterDays, now }: { deprovisionAfterDays: number | null; now: number }): PolicyDecision {
  const verdicts = tenants.map((t): PolicyVerdict => {
    const since = Date.parse(t.suspendedAt);
    const daysSuspended = Math.max(0, Math.floor((now - since) / dayMs));
    if (deprovisionAfterDays === null || !Number.isFinite(since)) return { id: t.id, daysSuspended, deprovisionAt: null, due: false, dueWithinADay: false };
    const at = since + deprovisionAfterDays * dayMs;
    const due = now >= at;
    return { id: t.id, daysSuspended, deprovisionAt: new Date(at).toISOString(), due, dueWithinADay: !due && at - now <= dayMs };
  }).sort((a, b) => a.id.localeCompare(b.id));
  return { verdicts, due: verdicts.filter((v) => v.due).map((v) => v.id), warn: verdicts.filter((v) => v.dueWithinADay).map((v) => v.id) };
}
