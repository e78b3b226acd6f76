// Retention's one exception (--keep N, --keep-daily/weekly/monthly, plans' backupKeep/backupRetention).

/**
 * The chosen ids without the tenant's newest succeeded logical backup: physical backups (the
 * cluster's files, restorable only under the same PostgreSQL major and without pitr) never push out
 * the last logical dump, which restores anywhere, whatever --keep or the retention rules say. Pure: unit-tested.
 */
export function sparingNewestLogical(doomed: readonly string[], backups: ReadonlyArray<{ id: string; time: string; method: 'logical' | 'physical' }>): string[] {
  const newestLogical = [...backups].filter((b) => b.method === 'logical')
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || b.id.localeCompare(a.id))[0];
  return doomed.filter((id) => id !== newestLogical?.id);
}
