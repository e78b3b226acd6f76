// Bundles the reference tenant app (apps/tenant-app) into two self-contained CommonJS files that the
// tenantctl/app image runs with a plain `node`: npm cannot run inside our images (no registry),
// so pg and ioredis are bundled in. Called by `npm run build` and by scripts/build-images.sh.
//   apps/tenant-app/server.ts      -> dist/app/server.cjs
//   apps/tenant-app/healthcheck.ts -> dist/app/healthcheck.cjs
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'app');

const common = {
  bundle: true,
  platform: 'node',
  // The image runs Debian bookworm's nodejs (18.x), not the host's Node.
  target: 'node18',
  format: 'cjs',
  // pg only loads pg-native when asked to (pg.native); it is not installed and never used.
  external: ['pg-native'],
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: root,
};

// Start clean so a renamed entry never leaves a stale bundle behind in the image.
rmSync(outdir, { recursive: true, force: true });

const entries = [
  ['apps/tenant-app/server.ts', 'server.cjs'],
  ['apps/tenant-app/healthcheck.ts', 'healthcheck.cjs'],
];
try {
  await Promise.all(
    entries.map(([entry, out]) => build({ ...common, entryPoints: [entry], outfile: path.join(outdir, out) })),
  );
} catch {
  // esbuild has already printed the errors.
  process.exitCode = 1;
}
if (!process.exitCode) console.log(`bundle-app: wrote ${entries.map(([, out]) => `dist/app/${out}`).join(', ')}`);
