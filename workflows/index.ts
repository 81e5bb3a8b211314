/** Every workflow the workers run. One workflow per file; this file only re-exports. */
export { welcomeWorkflow } from './accounts/welcome';
export { reconcileWelcomes } from './accounts/reconcileWelcomes';
export { grantFreePlanCredits } from './accounts/grantFreePlanCredits';
export { subscriptionLifecycle } from './billing/subscriptionLifecycle';
export { billingReconcile } from './billing/billingReconcile';
export { listingLifecycle } from './marketplace/listingLifecycle';
export { reconcileListings } from './marketplace/reconcileListings';
export { gestationTracking } from './breeding/gestationTracking';
export { analyzeVideo } from './analysis/analyzeVideo';
export { reconcileAnalyses } from './analysis/reconcile';
