#!/usr/bin/env node
// Entry point. `--version` is answered here, before loading the CLI, because scripts call it often.
import { readFileSync } from 'node:fs';

// A reader that stops early (`tenantctl --help | head`) closes the pipe, and a terminal or ssh
// session that goes away makes writes fail (EIO): neither is a crash, and neither may stop a verb
// half-way (it finishes, or rolls back on the SIGHUP that comes with it): the stream goes quiet.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE' || error.code === 'EIO') {
      stream.write = () => true;
      return;
    }
    throw error;
  });
}

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else {
  // pg decides whether it runs on Cloudflare by reading navigator.userAgent, and where Node has no
  // navigator (Node 20; 21+ defines it) it constructs a fetch Response instead, which loads all of
  // undici: ~45 ms of every command. Node 21+'s own value, given here.
  globalThis.navigator ??= { userAgent: `Node.js/${process.versions.node.split('.')[0]}` };
  const { main } = await import('../dist/cli.js');
  process.exitCode = await main(process.argv);
}
