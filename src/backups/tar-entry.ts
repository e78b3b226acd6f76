// One regular file as a ustar entry (header and padded body), for files tenantctl holds in memory
// (pg_backup_stop's backup_label and tablespace_map) put in front of a tar streamed from a container:
// nothing is written to the container's disk (its /tmp may be a small tmpfs) to make them files.

const block = 512;

/** A ustar header and body for `name` (relative, < 100 bytes), owned numerically by uid:gid, with `mode`. */
export function tarEntry(name: string, body: string, owner: { uid: number; gid: number; mode: number; mtime: number }): Buffer {
  const data = Buffer.from(body, 'utf8');
  if (Buffer.byteLength(name) >= 100) throw new Error(`tar entry name too long: ${name}`);
  const header = Buffer.alloc(block, 0);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, '0') + '\0';
  header.write(name, 0, 100, 'utf8');
  header.write(octal(owner.mode & 0o7777, 8), 100, 'latin1');
  header.write(octal(owner.uid, 8), 108, 'latin1');
  header.write(octal(owner.gid, 8), 116, 'latin1');
  header.write(octal(data.length, 12), 124, 'latin1');
  header.write(octal(Math.floor(owner.mtime), 12), 136, 'latin1');
  header.write(' '.repeat(8), 148, 'latin1');
  header.write('0', 156, 'latin1');
  header.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const padding = Buffer.alloc((block - (data.length % block)) % block, 0);
  return Buffer.concat([header, data, padding]);
}
