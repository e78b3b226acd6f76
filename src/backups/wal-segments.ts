import { TenantctlError } from '../common/errors.js';

// WAL segment file names (TTTTTTTTXXXXXXXXYYYYYYYY: timeline, then the segment number split in
// two by how many segments one 4 GiB "log id" holds). A file-level physical backup copies every
// segment from the one its start LSN is in to the one its stop LSN is in: PostgreSQL replays
// exactly those to make the copied files consistent. Pure: unit-tested.

const segmentName = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

/** Every segment from `first` to `last` (both included), on one timeline, for segments of `segmentBytes`. */
export function walSegmentsBetween(first: string, last: string, segmentBytes: number): string[] {
  const a = segmentName.exec(first);
  const b = segmentName.exec(last);
  if (!a || !b) throw new TenantctlError('internal', `not WAL segment names: ${JSON.stringify(first)}, ${JSON.stringify(last)}`);
  if (a[1] !== b[1]) throw new TenantctlError('docker', `the backup's WAL spans two timelines (${first} .. ${last}): the server was promoted while it ran; run the backup again`);
  if (!Number.isInteger(segmentBytes) || segmentBytes < 1024 * 1024 || (segmentBytes & (segmentBytes - 1)) !== 0) throw new TenantctlError('internal', `not a WAL segment size: ${segmentBytes}`);
  const perId = 0x1_0000_0000n / BigInt(segmentBytes);
  const number = (m: RegExpExecArray) => BigInt(`0x${m[2]}`) * perId + BigInt(`0x${m[3]}`);
  const from = number(a);
  const to = number(b);
  if (to < from) throw new TenantctlError('internal', `the backup's stop segment ${last} is before its start segment ${first}`);
  if (to - from > 100_000n) throw new TenantctlError('internal', `the backup's WAL from ${first} to ${last} is implausibly long`);
  const hex8 = (n: bigint) => n.toString(16).toUpperCase().padStart(8, '0');
  const names: string[] = [];
  for (let n = from; n <= to; n++) names.push(`${a[1]}${hex8(n / perId)}${hex8(n % perId)}`);
  return names;
}
