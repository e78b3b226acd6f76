// Bundles the reference tenant app (apps/tenant-app) into one self-contained CommonJS file that the
// tenantctl/app image runs with a plain `node`: npm cannot run inside our images (no registry),
// so pg and ioredis are bundled in. Called by `npm run build` and by scripts/build-images.sh.
//   apps/tenant-app/server.ts       -> dist/app/server.cjs
//   apps/tenant-app/healthcheck.sh  -> dist/app/healthcheck.sh (copied: the container health check
//                                      is a shell script, so no node process starts per check)
//   apps/tenant-app/entrypoint.sh   -> dist/app/entrypoint.sh (copied: secret files, then the app as
//                                      user app)
import { build } from 'esbuild';
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
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

try {
  await build({ ...common, entryPoints: ['apps/tenant-app/server.ts'], outfile: path.join(outdir, 'server.cjs') });
  for (const script of ['healthcheck.sh', 'entrypoint.sh']) {
    copyFileSync(path.join(root, 'apps/tenant-app', script), path.join(outdir, script));
    chmodSync(path.join(outdir, script), 0o755);
  }
} catch (error) {
  // esbuild has already printed its errors.
  if (!error?.errors) console.error(`bundle-app: ${error.message}`);
  process.exitCode = 1;
}
if (!process.exitCode) console.log('bundle-app: wrote dist/app/server.cjs, dist/app/healthcheck.sh, dist/app/entrypoint.sh');
