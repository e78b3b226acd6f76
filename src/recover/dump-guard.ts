import { Transform, type TransformCallback } from 'node:stream';
import { dumpCompleteMarker } from './admin-dump.js';

// What stands between a snapshot's dump and psql, which runs it as the database's superuser: the
// repository is not trusted (a tampered or forged snapshot), so the dump is read line by line and
// passed on only while it looks like what pg_dump writes for the admin schema. A line outside COPY
// data that is a psql meta-command (\! sh, \copy, \connect…), ends or splits the transaction,
// runs a program or a file, touches roles or the server's settings, loads code (extensions, C
// functions, LOAD) or runs dynamic SQL in a DO block is refused: nothing after it reaches psql and
// the restore rolls back. The guard also keeps what recover must know before it commits: whether
// the dump ends with pg_dump's closing line (a cut-off snapshot does not) and the master-key check
// value in admin_settings (the key is checked before COMMIT, not after).

const copyStart = /^COPY "public"\."([a-z0-9_]+)" \(([^)]*)\) FROM stdin;$/;
// psql 15.14+ guards its dumps with \restrict <key> … \unrestrict <key>: those two are pg_dump's own.
const allowedMeta = /^\\(un)?restrict [A-Za-z0-9]+$/;
const refusals: Array<[RegExp, string]> = [
  [/\b(COMMIT|ROLLBACK|ABORT|SAVEPOINT|RELEASE|START\s+TRANSACTION|PREPARE\s+TRANSACTION)\b/i, 'ends or splits the transaction'],
  [/\bPROGRAM\b/i, 'runs a program'],
  [/\bROLE\b|\bSESSION\s+AUTHORIZATION\b|\bRESET\b/i, 'changes roles or the session\'s identity'],
  [/\bALTER\s+SYSTEM\b/i, 'changes the server\'s settings'],
  [/\b(CREATE|ALTER)\s+(EXTENSION|LANGUAGE|SERVER|FOREIGN|SUBSCRIPTION|PUBLICATION|EVENT\s+TRIGGER|DATABASE|TABLESPACE)\b/i, 'creates what the admin schema never has'],
  [/\bLOAD\b|\blo_(import|export)\b|\bpg_(read_file|read_binary_file|ls_dir|stat_file|file_write)\b|\bdblink/i, 'reads, writes or loads server files'],
  [/^\s*DO\b|\bDO\s+(LANGUAGE\b|\$)/i, 'runs an anonymous code block'],
  [/\bEXECUTE\b(?!\s+(FUNCTION|PROCEDURE|ON)\b)/i, 'runs dynamic SQL'],
  [/\bCOPY\b/i, 'copies other than from the dump itself'],
];

/** Why a line outside COPY data is refused, or undefined when it may run. */
export function refusalOf(line: string): string | undefined {
  if (line.trimStart().startsWith('--') || line.trim() === '') return undefined;
  if (line.startsWith('\\')) return allowedMeta.test(line) ? undefined : 'is a psql meta-command';
  // Identifiers are double-quoted (pg_dump --quote-all-identifiers): a column named "role" is not a statement.
  if (/\bLANGUAGE\s+(?!"?(plpgsql|sql)"?(\s|;|$))/i.test(line)) return 'defines a function in a language other than SQL or PL/pgSQL';
  // String literals and a trailing comment are not statements either: a function's body (kept
  // verbatim by PostgreSQL, comments too) may say "role" in a message or a comment (026's guard does).
  const code = line.replace(/"(?:[^"]|"")*"/g, '""').replace(/'(?:[^']|'')*'/g, "''").replace(/--.*$/, '');
  for (const [pattern, why] of refusals) if (pattern.test(code)) return why;
  return undefined;
}

/** One field of COPY's text format, its backslash escapes undone. */
function copyField(text: string): string | null {
  if (text === '\\N') return null;
  return text.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v' } as Record<string, string>)[c] ?? c);
}

export class DumpGuard extends Transform {
  /** Why the dump was refused (then nothing after the refused line was passed on). */
  refused?: string;
  /** admin_settings' master_key_check, as the dump holds it. */
  masterKeyCheck?: string;
  private pending = '';
  private cut = false;
  private lineNo = 0;
  private tail = '';
  private copy?: { table: string; columns: string[] };

  /** Whether the dump's last bytes hold pg_dump's closing line (a cut-off dump's do not). */
  get complete(): boolean {
    return this.refused === undefined && !this.cut && this.copy === undefined && this.tail.includes(dumpCompleteMarker);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.refused) return callback();
    this.pending += chunk.toString('utf8');
    let newline: number;
    const out: string[] = [];
    while ((newline = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, newline);
      this.pending = this.pending.slice(newline + 1);
      if (!this.accept(line)) break;
      out.push(line, '\n');
    }
    if (this.refused) this.pending = '';
    callback(null, out.length ? out.join('') : undefined);
  }

  override _flush(callback: TransformCallback): void {
    // A last line without its newline is a cut-off dump's: not passed on (psql would run it), and not complete.
    if (this.pending !== '') this.cut = true;
    callback();
  }

  private accept(line: string): boolean {
    this.lineNo++;
    this.tail = (this.tail + line + '\n').slice(-512);
    if (this.copy) {
      if (line === '\\.') {
        this.copy = undefined;
      } else if (this.copy.table === 'admin_settings') {
        const fields = line.split('\t').map(copyField);
        const row = Object.fromEntries(this.copy.columns.map((c, i) => [c, fields[i]]));
        if (row.key === 'master_key_check' && typeof row.value === 'string') this.masterKeyCheck = row.value;
      }
      return true;
    }
    const copy = copyStart.exec(line);
    if (copy) {
      this.copy = { table: copy[1]!, columns: copy[2]!.split(',').map((c) => c.trim().replace(/^"|"$/g, '')) };
      return true;
    }
    const why = refusalOf(line);
    if (why) {
      this.refused = `line ${this.lineNo} ${why}: ${JSON.stringify(line.slice(0, 80))}`;
      return false;
    }
    return true;
  }
}
