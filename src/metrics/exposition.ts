// The Prometheus text exposition format (version 0.0.4), written by hand: a few gauges, counters
// and histograms computed at scrape time from the admin database and Docker, which is what the
// format is for; a client library's registry of in-process observations would add nothing here.
// Escaping per the format: label values escape \ " and newline; HELP escapes \ and newline.

export type Labels = Record<string, string>;

export interface Sample {
  labels?: Labels;
  value: number;
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelText(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  for (const [name] of entries) if (!labelName.test(name) || name.startsWith('__')) throw new Error(`bad label name ${name}`);
  return `{${entries.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

export class Exposition {
  private readonly lines: string[] = [];
  private readonly seen = new Set<string>();

  private header(name: string, type: string, help: string): void {
    if (!metricName.test(name)) throw new Error(`bad metric name ${name}`);
    if (this.seen.has(name)) throw new Error(`metric ${name} written twice`);
    this.seen.add(name);
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  gauge(name: string, help: string, samples: readonly Sample[]): this {
    this.header(name, 'gauge', help);
    for (const s of samples) this.lines.push(`${name}${labelText(s.labels)} ${formatValue(s.value)}`);
    return this;
  }

  counter(name: string, help: string, samples: readonly Sample[]): this {
    if (!name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
    this.header(name, 'counter', help);
    for (const s of samples) this.lines.push(`${name}${labelText(s.labels)} ${formatValue(s.value)}`);
    return this;
  }

  /** A histogram from all observations (cumulative buckets, +Inf, _sum, _count) per label set. */
  histogram(name: string, help: string, buckets: readonly number[], series: ReadonlyArray<{ labels: Labels; observations: readonly number[] }>): this {
    this.header(name, 'histogram', help);
    const sorted = [...buckets].sort((a, b) => a - b);
    for (const { labels, observations } of series) {
      for (const le of sorted) {
        this.lines.push(`${name}_bucket${labelText({ ...labels, le: formatValue(le) })} ${observations.filter((o) => o <= le).length}`);
      }
      this.lines.push(`${name}_bucket${labelText({ ...labels, le: '+Inf' })} ${observations.length}`);
      this.lines.push(`${name}_sum${labelText(labels)} ${formatValue(observations.reduce((a, b) => a + b, 0))}`);
      this.lines.push(`${name}_count${labelText(labels)} ${observations.length}`);
    }
    return this;
  }

  /**
   * A histogram already bucketed (in SQL, over every row on record): `cumulative[i]` observations
   * are <= buckets[i]; `count` and `sum` are all of them. Nothing is held in memory per row.
   */
  histogramCounts(name: string, help: string, buckets: readonly number[], series: ReadonlyArray<{ labels: Labels; cumulative: readonly number[]; count: number; sum: number }>): this {
    this.header(name, 'histogram', help);
    for (const { labels, cumulative, count, sum } of series) {
      buckets.forEach((le, i) => this.lines.push(`${name}_bucket${labelText({ ...labels, le: formatValue(le) })} ${cumulative[i] ?? 0}`));
      this.lines.push(`${name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`);
      this.lines.push(`${name}_sum${labelText(labels)} ${formatValue(sum)}`);
      this.lines.push(`${name}_count${labelText(labels)} ${count}`);
    }
    return this;
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export const contentType = 'text/plain; version=0.0.4; charset=utf-8';
