/** Every workflow the workers run. One workflow per file; this file only re-exports. */
export { welcomeWorkflow } from './accounts/welcome';
export { subscriptionLifecycle } from './billing/subscriptionLifecycle';
export { billingReconcile } from './billing/billingReconcile';
export { gestationTracking } from './breeding/gestationTracking';
export { listingLifecycle } from './marketplace/listingLifecycle';
export { analyzeVideo } from './analysis/analyzeVideo';
export { reconcileAnalyses } from './analysis/reconcile';
