// Byte counts for people, in binary units: what stats shows (12.5MiB, as Docker shows memory) and
// what quota shows (12.5 MiB). Here, not in a renderer, so quota's size parsing needs no chalk or table.

/** Bytes in binary units, one decimal: 12.5MiB, or with `separator` ' ': 12.5 MiB. */
export function humanBytes(n: number, separator = ''): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)}${separator}${units[unit]}`;
}
