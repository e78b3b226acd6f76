// Colour codes take no room on screen: widths count what is visible, or coloured cells misalign.
const visibleLength = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').length;

/** A plain left-aligned text table; width-aware enough for a terminal, no borders to break copy-paste. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const pad = (cell: string, width: number) => cell + ' '.repeat(Math.max(0, width - visibleLength(cell)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
