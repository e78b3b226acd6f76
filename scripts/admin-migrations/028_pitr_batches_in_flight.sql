-- Point-in-time recovery (issue 23, src/pitr/ship.ts, ship-in-flight.ts): the WAL batches a shipper
-- has in flight, each {file, names, startedAt, reshipped?}, written before restic starts and taken
-- off once the batch's files left the archive volume. A batch a killed shipper left here is settled
-- by the next shipment (its possibly cut-off snapshot forgotten, audited with the cause) instead of
-- blocking every later to-time restore. The agent ships (017/023 gave it UPDATE on the table).
ALTER TABLE admin_wal_shipping
  ADD COLUMN batches_in_flight jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(batches_in_flight) = 'array');
