/**
 * The health worker's own workflow bundle (queue `health`): only the health workflows, so
 * each of the thousands of sleeping per-horse workflows a worker caches carries no other
 * feature's code (bench/health-workflows.ts measures the difference).
 */
export { healthReminders } from './healthReminders';
export { healthReconcile } from './healthReconcile';
