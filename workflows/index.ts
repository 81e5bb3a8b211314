/** Every workflow the workers run. One workflow per file; this file only re-exports. */
export { welcomeWorkflow } from './accounts/welcome';
export { accountEmail } from './accounts/accountEmail';
export { accountEmailsReconcile } from './accounts/accountEmailsReconcile';
export { accountsReconcile } from './accounts/accountsReconcile';
export { grantFreePlanCredits } from './accounts/grantFreePlanCredits';
export { subscriptionLifecycle } from './billing/subscriptionLifecycle';
export { billingReconcile } from './billing/billingReconcile';
export { listingLifecycle } from './marketplace/listingLifecycle';
export { marketplaceReconcile } from './marketplace/marketplaceReconcile';
export { gestationTracking } from './gestation/gestationTracking';
export { analyzeVideo } from './analysis/analyzeVideo';
export { analysisReconcile } from './analysis/analysisReconcile';
export { healthReminders } from './health/healthReminders';
export { healthReconcile } from './health/healthReconcile';
