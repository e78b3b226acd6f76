import type { Command } from 'commander';
import { withContext } from '../run.js';

/** Reads the whole of stdin (a password piped in): never from a terminal, never echoed. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    const { usageError } = await import('../../common/errors.js');
    throw usageError('--password-stdin reads a piped password, not a terminal (e.g. tenantctl repository init --password-stdin < file)');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function define(command: Command): void {
  command
    .command('init')
    .description('create the restic repository at backups.repository (or adopt an existing one) and seal its password in the admin database')
    .option('--password-file <file>', 'use this password (a file only its owner may read, mode 0600) instead of a generated one')
    .option('--password-stdin', 'read the password from stdin (piped) instead of generating one')
    .addHelpText('after', `
Examples:
  $ TENANTCTL_BACKUP_REPOSITORY=sftp:backup@vault.example.com:/srv/restic tenantctl repository init
  $ tenantctl repository init --password-file ./repo.pass        # adopt a repository made with restic
  $ pass show restic | tenantctl repository init --password-stdin --json

The password is generated (32 random bytes) unless given; it is sealed with the master key in the
admin database and never printed. Keep a copy outside this machine (tenantctl secrets cannot show
it): tenantctl recover on a new machine reads it from TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE.
Run again, it changes nothing (exit 0). A password that does not open an existing repository: exit 2.
`)
    .action(async (options, sub: Command) => {
      const { repositoryInit } = await import('../../repository/commands.js');
      const { renderInit } = await import('../../repository/render.js');
      const password = options.passwordStdin ? await readStdin() : undefined;
      await withContext(sub, (ctx) => repositoryInit(ctx, { passwordFile: options.passwordFile, password }), renderInit);
    });
  command
    .command('status')
    .description('where the repository is, how many snapshots it holds (and of how many tenants), its size')
    .addHelpText('after', `
Examples:
  $ tenantctl repository status
  $ tenantctl repository status --json | jq .storedBytes
`)
    .action(async (_options, sub: Command) => {
      const { repositoryStatus } = await import('../../repository/commands.js');
      const { renderStatus } = await import('../../repository/render.js');
      await withContext(sub, (ctx) => repositoryStatus(ctx), renderStatus, { onInterrupt: 'end' });
    });
  command
    .command('check')
    .description('restic check of the repository: its structure, and with --read-data-subset that share of the data')
    .option('--read-data-subset <subset>', 'also read and verify this much of the data: 5% or 1/10')
    .addHelpText('after', `
Examples:
  $ tenantctl repository check
  $ tenantctl repository check --read-data-subset 10% --json

A damaged or unreadable repository exits 13 with restic's first error line.
`)
    .action(async (options, sub: Command) => {
      const { repositoryCheck } = await import('../../repository/commands.js');
      const { renderCheck } = await import('../../repository/render.js');
      await withContext(sub, (ctx) => repositoryCheck(ctx, { readDataSubset: options.readDataSubset }), renderCheck, { onInterrupt: 'end' });
    });
}
