// .env files: KEY=value lines, as compose and tenantctl's own state files read them.

/** KEY=value lines. Values are alphanumeric by construction; anything else is refused, not quoted. */
export function formatEnvFile(values: Record<string, string>, header: string): string {
  const lines = Object.entries(values).map(([key, value]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(key) || !/^[0-9A-Za-z._:/-]*$/.test(value)) throw new Error(`refusing to write ${key} to an env file: unsafe characters`);
    return `${key}=${value}`;
  });
  return `# ${header}\n${lines.join('\n')}\n`;
}

export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) values[match[1]!] = match[2]!;
  }
  return values;
}
