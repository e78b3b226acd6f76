import { usageError } from '../common/errors.js';
import { humanBytes } from '../common/human-bytes.js';

// Sizes as operators write them in plans.<plan>.diskQuota: "10GiB", "500MiB", "2TB", "1.5GB".
// Binary units (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB, TB) of 1000.

const units: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

export function parseSize(raw: string, what = 'size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)\s*$/i.exec(raw);
  const factor = match ? units[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) throw usageError(`${what} ${JSON.stringify(raw)}: expected a size such as 10GiB, 500MiB or 2TB`);
  return Math.round(Number(match[1]) * factor);
}

/** Bytes in binary units, one decimal: 1.5 GiB. */
export function formatSize(bytes: number): string {
  return humanBytes(bytes, ' ');
}
