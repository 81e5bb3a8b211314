/** Every workflow the workers run. One workflow per file; this file only re-exports. */
export { welcomeWorkflow } from './accounts/welcome';
export { gestationTracking } from './breeding/gestationTracking';
export { listingLifecycle } from './marketplace/listingLifecycle';
export { analyzeVideo } from './analysis/analyzeVideo';
export { reconcileAnalyses } from './analysis/reconcile';
