import type { AdminDb } from '../admin-db/database.js';
import type { SnapshotSummary } from './repo.js';

// The WAL batches a shipper has in flight (admin_wal_shipping.batches_in_flight, 028): each batch is
// written there, with every file it holds, before restic is started, and taken off once its files
// have left the archive volume. A batch still listed when the next shipper (under the tenant's
// shipping lock: no other is running) begins belongs to a run that was killed (-9, a lost machine,
// a failed forget of a truncated tar): restic may have recorded a cut-off tar, which every later
// to-time restore would fail to extract. What to do with it is decided here, purely (the unit
// tests give it batches, snapshots and the volume's listing); ship.ts does it and records why.

export interface InFlightBatch {
  /** The batch's one path in the repository (wal-<first>-<last>-<nonce>.tar): unique per run. */
  file: string;
  names: string[];
  startedAt: string;
  /**
   * Its restic had recorded nothing when the next shipper looked, and that shipper shipped its files
   * again in a batch of its own: a snapshot of this one that appears later is redundant (and maybe cut off).
   */
  reshipped?: boolean;
  /**
   * The incarnation of the cluster its files came from (incarnation.ts); unset in entries written
   * before incarnations. Files of its names in the volume of another incarnation's cluster are not its.
   */
  incarnation?: string;
  /** Its files' aside folder in the archive volume (archive.ts asideFolder); unset: the volume's root. */
  folder?: string;
}

export interface InFlightDecision {
  batch: InFlightBatch;
  /** Snapshots of the batch to forget (its files all still in the volume: they ship again). */
  forget: string[];
  /** Files of a batch that was recorded whole to remove from the volume (its removal was cut short). */
  removeRest: string[];
  /** Off the in-flight list after this. */
  settled: boolean;
  cause: string;
}

/** A batch whose restic recorded nothing by then never will (its stream ended with the process that fed it). */
export const inFlightForgottenAfterMs = 60 * 60_000;

const pathOf = (p: string) => p.replace(/^\/+/, '');

/**
 * `current`: the incarnation of the cluster running now. A batch of another one was left by a run of
 * an earlier cluster (its database has been made anew since, and recover brought the list back with
 * the admin database): the volume's files of the same names are the new cluster's segments, which
 * must neither be taken for the batch's (it would be forgotten, and its cluster's history cut) nor
 * removed for it (the new cluster's WAL lost).
 */
export function decideInFlight(batches: readonly InFlightBatch[], walSnapshots: readonly SnapshotSummary[], inVolume: ReadonlySet<string>, now: number, current?: string): InFlightDecision[] {
  return batches.map((batch) => {
    const found = walSnapshots.filter((s) => s.paths.length === 1 && pathOf(s.paths[0]!) === batch.file).map((s) => s.id);
    const range = `${batch.names.length} file${batch.names.length === 1 ? '' : 's'} (${batch.names[0]}..${batch.names.at(-1)})`;
    if (batch.incarnation !== undefined && current !== undefined && batch.incarnation !== current) {
      const same = batch.names.filter((n) => inVolume.has(n)).length;
      const theirs = same === 0 ? '' : `; the ${same} file${same === 1 ? '' : 's'} of those names in the archive volume ${same === 1 ? 'is' : 'are'} the new database's and stay${same === 1 ? 's' : ''}`;
      const made = `the tenant's database has been made anew since (incarnation ${batch.incarnation.slice(0, 8)}, now ${current.slice(0, 8)})`;
      if (found.length === 0) return { batch, forget: [], removeRest: [], settled: true, cause: `a shipment of ${range} stopped before restic recorded its batch, and ${made}: its files went with its cluster${theirs}` };
      if (batch.reshipped) return { batch, forget: found, removeRest: [], settled: true, cause: `a shipment of ${range} was cut off and its files shipped again by a later batch before restic recorded this one, and ${made}: forgotten (redundant, and maybe cut off)${theirs}` };
      // Nothing left to ship again, and nothing in the volume tells whether its tar ended well: kept (forgetting it could cut its cluster's history short).
      return { batch, forget: [], removeRest: [], settled: true, cause: `a shipment of ${range} stopped after restic recorded its batch (${found.join(', ')}), and ${made}: the batch is kept${theirs} (if that shipment was killed mid-stream it may be cut off: restic dump ${found[0]} /${batch.file} | tar -t tells)` };
    }
    const left = batch.names.filter((n) => inVolume.has(n));
    if (found.length === 0) {
      const old = now - Date.parse(batch.startedAt) > inFlightForgottenAfterMs;
      return { batch, forget: [], removeRest: [], settled: old, cause: `a shipment of ${range} stopped before restic recorded its batch${old ? '' : ' (its restic may still be ending: looked at again next time)'}` };
    }
    if (batch.reshipped) {
      return { batch, forget: found, removeRest: [], settled: true, cause: `a shipment of ${range} was cut off and its files shipped again by a later batch before restic recorded this one: forgotten (redundant, and maybe cut off)` };
    }
    if (left.length === batch.names.length) {
      return {
        batch, forget: found, removeRest: [], settled: true,
        cause: `a shipment of ${range} stopped after restic recorded its batch and before its files left the archive volume (killed, or its tar failed and the forget did not run): the batch may be cut off, which no to-time restore could extract; forgotten, its files ship again`,
      };
    }
    // Files leave the volume only once the batch was read to its end by a tar that exited 0: it is whole.
    return { batch, forget: [], removeRest: left, settled: true, cause: `a shipment of ${range} stopped while removing its shipped files (its batch is whole): the rest removed` };
  });
}

export async function batchesInFlight(db: AdminDb, tenant: string): Promise<InFlightBatch[]> {
  const { rows } = await db.pool.query('SELECT batches_in_flight FROM admin_wal_shipping WHERE customer_id = $1', [tenant]).catch(db.unreachable);
  return (rows[0]?.batches_in_flight as InFlightBatch[] | undefined) ?? [];
}

/** Written before restic starts: the row is created when the tenant has none yet. */
export async function markInFlight(db: AdminDb, tenant: string, batch: InFlightBatch): Promise<void> {
  await db.pool.query(
    `INSERT INTO admin_wal_shipping (customer_id, batches_in_flight) VALUES ($1, jsonb_build_array($2::jsonb))
     ON CONFLICT (customer_id) DO UPDATE SET batches_in_flight = admin_wal_shipping.batches_in_flight || jsonb_build_array($2::jsonb)`,
    [tenant, JSON.stringify(batch)],
  ).catch(db.unreachable);
}

/** A batch whose restic recorded nothing yet, marked before its files ship again (decideInFlight then forgets a late snapshot of it). */
export async function markReshipped(db: AdminDb, tenant: string, file: string): Promise<void> {
  await db.pool.query(
    `UPDATE admin_wal_shipping SET batches_in_flight = (SELECT jsonb_agg(CASE WHEN b->>'file' = $2 THEN b || '{"reshipped": true}'::jsonb ELSE b END) FROM jsonb_array_elements(batches_in_flight) b)
     WHERE customer_id = $1 AND jsonb_array_length(batches_in_flight) > 0`,
    [tenant, file],
  ).catch(db.unreachable);
}

export async function clearInFlight(db: AdminDb, tenant: string, file: string): Promise<void> {
  await db.pool.query(
    `UPDATE admin_wal_shipping SET batches_in_flight = COALESCE((SELECT jsonb_agg(b) FROM jsonb_array_elements(batches_in_flight) b WHERE b->>'file' <> $2), '[]'::jsonb)
     WHERE customer_id = $1`,
    [tenant, file],
  ).catch(db.unreachable);
}
