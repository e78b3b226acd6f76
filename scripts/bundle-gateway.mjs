// Bundles tenantctl's gateway (apps/gateway: the front door's API key check and usage meter) into
// one self-contained CommonJS file for Debian's Node 18 in tenantctl/gateway, pg included: npm
// cannot run inside our images. Called by `npm run build` and by scripts/build-images.sh.
//   apps/gateway/server.ts -> dist/gateway/server.cjs
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'gateway');
rmSync(outdir, { recursive: true, force: true });
try {
  await build({
    absWorkingDir: root,
    entryPoints: ['apps/gateway/server.ts'],
    outfile: path.join(outdir, 'server.cjs'),
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    external: ['pg-native'],
    legalComments: 'none',
    logLevel: 'warning',
  });
  console.log('bundle-gateway: wrote dist/gateway/server.cjs');
} catch (error) {
  if (!error?.errors) console.error(`bundle-gateway: ${error.message}`);
  process.exitCode = 1;
}
