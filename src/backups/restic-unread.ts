// restic backup exits 3 when it wrote the snapshot but could not read some source files. On a live
// PostgreSQL data directory a file vanishing mid-walk is normal (a temporary table's, a dropped or
// truncated relation's, a truncated pg_xact/pg_multixact segment): WAL replay from the backup's start
// recreates or drops it, as pg_basebackup tolerates. Anything else left unread fails the backup.

export interface UnreadFiles {
  /** Files restic could not read because they no longer existed (ENOENT), under the data directory. */
  files: string[];
  /** Every stderr line was such a file or restic's closing warning: the snapshot is a usable base backup. */
  vanishedOnly: boolean;
}

const closingWarning = /^Warning: at least one source file could not be read$/;

/** What restic's --json stderr says it left unread below `mount`. */
export function unreadFiles(stderrLines: readonly string[], mount: string): UnreadFiles {
  const files: string[] = [];
  let vanishedOnly = true;
  for (const raw of stderrLines) {
    const line = raw.trim();
    if (!line || closingWarning.test(line)) continue;
    const item = vanishedItem(line);
    if (item !== undefined && item.startsWith(`${mount}/`)) files.push(item.slice(mount.length + 1));
    else vanishedOnly = false;
  }
  return { files, vanishedOnly };
}

/** The path of a "no such file or directory" error line (restic's JSON: error.Err 2 is ENOENT), else undefined. */
function vanishedItem(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const j = JSON.parse(line) as { message_type?: string; item?: unknown; error?: unknown };
    if (j.message_type !== 'error' || typeof j.item !== 'string') return undefined;
    const error = j.error as { Err?: unknown } | string | undefined;
    const enoent = (typeof error === 'object' && error !== null && error.Err === 2) || /no such file or directory/i.test(JSON.stringify(error ?? ''));
    return enoent ? j.item : undefined;
  } catch {
    return undefined;
  }
}

/** restic's first error line (the cause; later ones are often its echoes; a vanished file's only when nothing else failed), one line, bounded. */
export function firstResticError(stderrLines: readonly string[]): string {
  const all = stderrLines.map((l) => l.trim()).filter((l) => l && !closingWarning.test(l));
  const others = all.filter((l) => vanishedItem(l) === undefined);
  const lines = others.length > 0 ? others : all;
  const first = lines.find((l) => /error|denied|fatal|failed|invalid|no such|unable/i.test(l)) ?? lines[0] ?? '';
  return first.replace(/\s+/g, ' ').slice(0, 400);
}
