/**
 * `npm run build`: the production build in dist/, run with plain `node` (no tsx):
 *   dist/api.js, dist/worker.js, dist/migrate.js   one ESM bundle per process, npm packages
 *                                                  left as imports (resolved from node_modules)
 *   dist/chunk-*.js                                modules the entry points import() on demand
 *                                                  (each queue's activities, the AI/Stripe adapters)
 *   dist/migrations/*.js                           the migrations, one file each (MikroORM
 *                                                  finds them by folder, next to the bundles)
 *   dist/workflow-bundle.js                        the workflow code, bundled once here so the
 *                                                  worker loads a file instead of running
 *                                                  webpack at every start
 * All three bundles sit in dist/ itself, so `new URL('./migrations', import.meta.url)` and
 * `./workflow-bundle.js` resolve the same way from each of them.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { build, type BuildOptions } from 'esbuild';
import { bundleWorkflowCode } from '@temporalio/worker';
import { OWN_BUNDLE_PATHS, workflowsPath } from '../workers/run';

const started = Date.now();
rmSync('dist', { recursive: true, force: true });
mkdirSync('dist/migrations', { recursive: true });

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
};
await build({
  ...common,
  entryPoints: { api: 'api/server.ts', worker: 'workers/main.ts', migrate: 'scripts/migrate.ts' },
  outdir: 'dist',
  // Modules imported with import() (each queue's activities, the AI/Stripe/storage adapters:
  // workers/activities.ts, workers/main.ts) become chunks next to the entry points, loaded
  // only when a worker polls their queue. Without splitting, esbuild would inline them and
  // hoist their packages' imports (AI and Stripe SDKs) into dist/worker.js.
  splitting: true,
  // In dist/ itself: modules that resolve files from import.meta.url (./migrations, ./workflow-bundle.js) may land in a chunk.
  chunkNames: 'chunk-[name]-[hash]',
});
await build({
  ...common,
  entryPoints: readdirSync('entities/migrations')
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => `entities/migrations/${f}`),
  outdir: 'dist/migrations',
  sourcemap: false,
});

const { code } = await bundleWorkflowCode({
  workflowsPath,
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
});
writeFileSync('dist/workflow-bundle.js', code);
// Queues whose worker runs only its own workflows (workers/run.ts OWN_BUNDLE_PATHS).
for (const [queue, path] of Object.entries(OWN_BUNDLE_PATHS)) {
  const own = await bundleWorkflowCode({ workflowsPath: path, logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } });
  writeFileSync(`dist/workflow-bundle-${queue}.js`, own.code);
}
console.log(`built dist/ (api.js, worker.js, migrate.js, migrations/, workflow-bundle.js, workflow-bundle-<queue>.js) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
