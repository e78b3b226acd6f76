// Bundles the CLI (src/cli/main.ts and everything it imports, node_modules included) into dist/, one
// ES module plus chunks for what commands load lazily. Start-up time is the point: Node loading
// hundreds of small ESM files from node_modules cost ~0.6 s before `list` could do anything;
// one bundle loads in a fraction of that. tsc still type-checks (npm run typecheck).
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');

// Start clean so stale chunks never linger next to new ones (dist/app and dist/gateway are the app's and the gateway's own bundles).
if (existsSync(outdir)) {
  for (const entry of readdirSync(outdir)) if (entry !== 'app' && entry !== 'gateway') rmSync(path.join(outdir, entry), { recursive: true, force: true });
}

await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // pg loads pg-native only when asked to (pg.native); it is not installed and never used.
  external: ['pg-native'],
  // CommonJS dependencies (pg, ioredis) call require() for Node built-ins; give the bundle one.
  banner: { js: "import { createRequire as __tenantctlCreateRequire } from 'node:module'; const require = __tenantctlCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
