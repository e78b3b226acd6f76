// Memory sizes as Docker and the plans write them, to bytes and back: placement by memory and
// `hosts list` add limits ("512m", "1g") and what `docker stats` reports ("12.5MiB", "1.9GiB").

const units: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4,
};

/** "512m" -> 536870912, "12.5MiB" -> 13107200; 0 for anything unreadable (a "--" from docker stats). */
export function parseMemory(text: string): number {
  const match = /^\s*([\d.]+)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return 0;
  const factor = units[match[2]!.toLowerCase()];
  return factor === undefined ? 0 : Math.round(Number(match[1]) * factor);
}

/** 536870912 -> "512 MiB", for tables. */
export function formatMemory(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}
