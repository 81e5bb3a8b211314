/**
 * The gestation worker's own workflow bundle (queue `gestation`, and the legacy `reminders`
 * queue): only the gestation workflow, so each of the thousands of sleeping workflows a
 * worker caches carries no other feature's code (bench/gestation-workflows.ts).
 */
export { gestationTracking } from './gestationTracking';
