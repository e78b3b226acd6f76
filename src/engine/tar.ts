// A POSIX ustar archive in memory, for the few small files tenantctl ships to a remote engine
// (secrets, initdb scripts): enough of the format for `tar -x`, no dependency for it.

export interface TarEntry {
  /** Path inside the archive; a trailing slash makes it a directory. At most 100 bytes. */
  name: string;
  mode: number;
  content?: Buffer;
  /** Owner (root when absent), kept by `tar -x --same-owner`. */
  uid?: number;
  gid?: number;
}

export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const isDir = entry.name.endsWith('/');
    const content = isDir ? Buffer.alloc(0) : (entry.content ?? Buffer.alloc(0));
    blocks.push(header(entry.name, entry.mode, content.length, isDir, entry.uid ?? 0, entry.gid ?? 0));
    if (content.length > 0) {
      blocks.push(content, Buffer.alloc((512 - (content.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return Buffer.concat(blocks);
}

function header(name: string, mode: number, size: number, isDir: boolean, uid: number, gid: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name longer than 100 bytes: ${name}`);
  const block = Buffer.alloc(512);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, '0') + '\0';
  block.write(name, 0, 100, 'utf8');
  block.write(octal(mode & 0o7777, 8), 100, 'ascii');
  block.write(octal(uid, 8), 108, 'ascii');
  block.write(octal(gid, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(0, 12), 136, 'ascii'); // mtime: fixed, so the same files make the same archive
  block.write('        ', 148, 'ascii'); // checksum field counts as spaces while summing
  block.write(isDir ? '5' : '0', 156, 'ascii');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}
