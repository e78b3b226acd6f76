// One JSON object per line on stdout/stderr, so `docker logs` output can be parsed.
// Callers pass messages and non-secret fields only.

let context: Record<string, unknown> = {};

export function setLogContext(fields: Record<string, unknown>): void {
  context = { ...context, ...fields };
}

function write(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, ...context, msg, ...fields });
  (level === 'info' ? process.stdout : process.stderr).write(line + '\n');
}

export const log = {
  info: (msg: string, fields?: Record<string, unknown>) => write('info', msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write('warn', msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write('error', msg, fields),
};
