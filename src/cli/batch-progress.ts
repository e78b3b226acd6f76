import chalk from 'chalk';
import type { Reporter } from '../context.js';

type Line = { id: string; text: string; since: number; started: number; finished?: string };

/**
 * Progress of a batch: on a terminal, one live line per tenant (its current step and elapsed time),
 * redrawn in place; elsewhere (CI logs, pipes), plain "id: step" lines as they happen.
 */
export class BatchProgress {
  private readonly lines: Line[] = [];
  private drawn = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, private readonly quiet = false) {}

  private get live(): boolean {
    return !this.quiet && this.out.isTTY === true;
  }

  reporterFor(id: string): Reporter & { done(outcome: string): void } {
    const line: Line = { id, text: 'waiting', since: Date.now(), started: Date.now() };
    this.lines.push(line);
    if (this.live && !this.timer) this.timer = setInterval(() => this.draw(), 250);
    const say = (text: string) => {
      line.text = text;
      line.since = Date.now();
      if (!this.quiet && !this.live) this.out.write(`${id}: ${text}\n`);
    };
    return {
      step: say,
      info: (message) => {
        if (!this.quiet && !this.live) this.out.write(`${id}:   ${message}\n`);
      },
      detail: () => {},
      end: () => {},
      done: (outcome) => {
        line.finished = outcome;
        if (!this.quiet && !this.live) this.out.write(`${id}: ${outcome} (${seconds(Date.now() - line.started)})\n`);
      },
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.live) this.draw();
  }

  private draw(): void {
    const width = Math.max(...this.lines.map((l) => l.id.length));
    const now = Date.now();
    const rows = this.lines.map((l) => {
      const state = l.finished
        ? l.finished.startsWith('failed') ? chalk.red(l.finished) : chalk.green(l.finished)
        : `${chalk.cyan('›')} ${l.text} ${chalk.dim(seconds(now - l.since))}`;
      return truncate(`${l.id.padEnd(width)}  ${state}  ${chalk.dim(seconds(now - l.started))}`, (this.out.columns ?? 100) - 1);
    });
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A`);
    this.out.write(rows.map((r) => `\x1b[2K${r}\n`).join(''));
    this.drawn = rows.length;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
// Drawn lines must not wrap, or moving the cursor up by the line count would miss.
const truncate = (text: string, max: number) => {
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
  return plain.length <= max ? text : `${plain.slice(0, max - 1)}…`;
};
