/**
 * Workflow ids are business ids: a retried API call or a redelivered webhook finds the
 * same workflow instead of starting a second one. Each helper has a parser.
 */
function idHelper<P extends string>(prefix: P) {
  const head = `${prefix}-`;
  return {
    build: (id: string): string => {
      if (!id) throw new Error(`${prefix} workflow id needs a non-empty id`);
      return `${head}${id}`;
    },
    parse: (workflowId: string): string | null =>
      workflowId.startsWith(head) && workflowId.length > head.length ? workflowId.slice(head.length) : null,
  };
}

const welcome = idHelper('welcome');
const analysis = idHelper('analysis');
const subscription = idHelper('subscription');
const gestation = idHelper('gestation');
const listing = idHelper('listing');
const health = idHelper('health');
const accountEmail = idHelper('account-email');

export const welcomeWorkflowId = welcome.build;
export const parseWelcomeWorkflowId = welcome.parse;
export const analysisWorkflowId = analysis.build;
export const parseAnalysisWorkflowId = analysis.parse;
export const subscriptionWorkflowId = subscription.build;
export const parseSubscriptionWorkflowId = subscription.parse;
export const gestationWorkflowId = gestation.build;
export const parseGestationWorkflowId = gestation.parse;
export const listingWorkflowId = listing.build;
export const parseListingWorkflowId = listing.parse;
export const healthWorkflowId = health.build;
export const parseHealthWorkflowId = health.parse;
/** `account-email-<kind>-<row id>`: one email per verification/reset token or invitation. */
export const accountEmailWorkflowId = (kind: string, id: string) => accountEmail.build(`${kind}-${id}`);
export const parseAccountEmailWorkflowId = accountEmail.parse;
