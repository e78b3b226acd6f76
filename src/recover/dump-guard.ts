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
  // USER and GROUP are ROLE's other names; a GRANT without ON grants a role (membership), not a privilege.
  [/\b(CREATE|ALTER|DROP)\s+(USER|GROUP)\b|\bUSER\s+MAPPING\b|\bGRANT\b(?![^;]*\bON\b)/i, 'changes roles or the session\'s identity'],
  [/\bALTER\s+SYSTEM\b/i, 'changes the server\'s settings'],
  [/\b(CREATE|ALTER)\s+(EXTENSION|LANGUAGE|SERVER|FOREIGN|SUBSCRIPTION|PUBLICATION|EVENT\s+TRIGGER|DATABASE|TABLESPACE)\b/i, 'creates what the admin schema never has'],
  [/\bLOAD\b|\blo_(import|export)\b|\bpg_(read_file|read_binary_file|ls_dir|stat_file|file_write)\b|\bdblink/i, 'reads, writes or loads server files'],
  [/^\s*DO\b|\bDO\s+(LANGUAGE\b|\$)/i, 'runs an anonymous code block'],
  [/\bEXECUTE\b(?!\s+(FUNCTION|PROCEDURE|ON)\b)/i, 'runs dynamic SQL'],
  [/\bCOPY\b/i, 'copies other than from the dump itself'],
  // SET NAMES is client_encoding's other name (lexicalSettings below).
  [/(^|;)\s*SET\s+((SESSION|LOCAL)\s+)?NAMES\b/i, 'changes how the dump is read'],
];
// Roles whose membership reaches the server's files or programs: named anywhere (quoted too), refused.
const serverRoles = /pg_(execute_server_program|read_server_files|write_server_files)/i;
// The settings that decide how a string literal is read (and set_config, which sets any setting by a
// computed name): only pg_dump's own lines may touch them, else a later line's quotes mean otherwise
// to the guard than to the server.
const lexicalSettings = /standard_conforming_strings|backslash_quote|client_encoding|set_config|\bU&/i;
// The same names quoted ("set_config"(…), SET "client_encoding" …): the code has its quoted names blanked.
const quotedLexicalSettings = /"[^"]*(standard_conforming_strings|backslash_quote|client_encoding|set_config)[^"]*"/i;
const pgDumpSettingLines = new Set([
  'SET standard_conforming_strings = on;',
  "SET client_encoding = 'UTF8';",
  "SELECT pg_catalog.set_config('search_path', '', false);",
]);

const identChar = /[A-Za-z0-9_$\u0080-\uffff]/;
const dollarTag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;
type LexState =
  | { kind: 'code' }
  | { kind: 'string'; escapes: boolean }
  | { kind: 'ident' }
  | { kind: 'block'; depth: number }
  | { kind: 'dollar'; tag: string; body: SqlLexer };

/**
 * SQL's lexical state carried from line to line, as the server reads it: a string, quoted name or
 * block comment opened on one line goes on over the next, and E'' strings take backslash escapes
 * (E'\'' is one quote, not an empty string). code() gives what a line is as statements: string
 * literals and quoted names blanked ('' and ""), comments dropped. A dollar-quoted body is a
 * function's code: it is read by a lexer of its own (its quotes end with it) and kept as code, so
 * its EXECUTE or COMMIT is refused too.
 */
export class SqlLexer {
  private state: LexState = { kind: 'code' };

  /** Whether the line that comes next starts as code (not inside a string, name, comment or body). */
  get atCode(): boolean {
    return this.state.kind === 'code';
  }

  code(line: string): string {
    let out = '';
    let i = 0;
    while (i < line.length) {
      const s = this.state;
      const c = line[i]!;
      if (s.kind === 'string') {
        if (s.escapes && c === '\\') i += 2;
        else if (c === "'" && line[i + 1] === "'") i += 2;
        else if (c === "'") { this.state = { kind: 'code' }; out += "''"; i += 1; }
        else i += 1;
      } else if (s.kind === 'ident') {
        if (c === '"' && line[i + 1] === '"') i += 2;
        else if (c === '"') { this.state = { kind: 'code' }; out += '""'; i += 1; }
        else i += 1;
      } else if (s.kind === 'block') {
        if (line.startsWith('/*', i)) { s.depth += 1; i += 2; }
        else if (line.startsWith('*/', i)) { i += 2; s.depth -= 1; if (s.depth === 0) { this.state = { kind: 'code' }; out += ' '; } }
        else i += 1;
      } else if (s.kind === 'dollar') {
        const end = line.indexOf(s.tag, i);
        out += s.body.code(line.slice(i, end < 0 ? line.length : end));
        if (end < 0) { out += ' '; i = line.length; }
        else { this.state = { kind: 'code' }; out += ' '; i = end + s.tag.length; }
      } else if (line.startsWith('--', i)) {
        i = line.length;
      } else if (line.startsWith('/*', i)) {
        this.state = { kind: 'block', depth: 1 };
        i += 2;
      } else if (c === '"') {
        this.state = { kind: 'ident' };
        i += 1;
      } else if (c === "'") {
        const escapes = /[Ee]/.test(line[i - 1] ?? '') && !identChar.test(line[i - 2] ?? '');
        this.state = { kind: 'string', escapes };
        i += 1;
      } else {
        const tag = c === '$' && !identChar.test(line[i - 1] ?? '') ? dollarTag.exec(line.slice(i)) : null;
        if (tag) { this.state = { kind: 'dollar', tag: tag[0], body: new SqlLexer() }; out += ' '; i += tag[0].length; }
        else { out += c; i += 1; }
      }
    }
    return out;
  }
}

/**
 * Why a line outside COPY data is refused, or undefined when it may run. lexer carries what the
 * lines before it left open (a dump's lines are read through one); a line alone gets a fresh one.
 */
export function refusalOf(line: string, lexer: SqlLexer = new SqlLexer()): string | undefined {
  if (lexer.atCode && line.startsWith('\\')) return allowedMeta.test(line) ? undefined : 'is a psql meta-command';
  // Identifiers are double-quoted (pg_dump --quote-all-identifiers): a column named "role" is not a statement.
  if (/\bLANGUAGE\s+(?!"?(plpgsql|sql)"?(\s|;|$))/i.test(line)) return 'defines a function in a language other than SQL or PL/pgSQL';
  if (serverRoles.test(line)) return 'names a role that reaches the server\'s files or programs';
  // String literals and comments are not statements: a function's body (kept verbatim by
  // PostgreSQL, comments too) may say "role" in a message or a comment (026's guard does).
  const code = lexer.code(line);
  if ((lexicalSettings.test(code) || quotedLexicalSettings.test(line)) && !pgDumpSettingLines.has(line.trim())) return 'changes how the dump is read';
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
  private readonly lexer = new SqlLexer();

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
    // A COPY line inside a string the lines before opened is no COPY to the server: read as SQL.
    const copy = this.lexer.atCode ? copyStart.exec(line) : null;
    if (copy) {
      this.copy = { table: copy[1]!, columns: copy[2]!.split(',').map((c) => c.trim().replace(/^"|"$/g, '')) };
      return true;
    }
    const why = refusalOf(line, this.lexer);
    if (why) {
      this.refused = `line ${this.lineNo} ${why}: ${JSON.stringify(line.slice(0, 80))}`;
      return false;
    }
    return true;
  }
}
