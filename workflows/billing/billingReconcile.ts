import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { BillingActivities, BillingDrift } from '../../activities/billing';
import type { BillingSignalActivities } from '../../activities/billing/signal';
import type { BillingReconcileResult } from './messages';

const reconcilePolicy = { startToCloseTimeout: '5 minutes', retry: { initialInterval: '10 seconds', maximumAttempts: 5 } } as const;
const { findBillingDrift, findUntrackedSubscriptions } = proxyActivities<Pick<BillingActivities, 'findBillingDrift' | 'findUntrackedSubscriptions'>>(reconcilePolicy);
const { signalSubscriptionWorkflows } = proxyActivities<BillingSignalActivities>(reconcilePolicy);

/**
 * Run nightly by the `billing-reconcile` Schedule: compares Stripe with the database page by
 * page and nudges the subscription workflow of every user that drifted (a missed or failed
 * webhook); the workflow then re-fetches Stripe and converges. Idempotent per run.
 */
export async function billingReconcile(input: { pageSize?: number } = {}): Promise<BillingReconcileResult> {
  const runKey = `${workflowInfo().workflowId}:${workflowInfo().runId}`;
  let cursor: string | null = null;
  let checked = 0;
  let signalled = 0;
  const drifted: BillingDrift[] = [];
  do {
    const page: { drifts: BillingDrift[]; checked: number; nextCursor: string | null } = await findBillingDrift({ cursor, limit: input.pageSize ?? 100 });
    checked += page.checked;
    drifted.push(...page.drifts);
    if (page.drifts.length) signalled += (await signalSubscriptionWorkflows({ drifts: page.drifts, runKey })).signalled;
    cursor = page.nextCursor;
  } while (cursor);
  const untracked = await findUntrackedSubscriptions();
  if (untracked.length) signalled += (await signalSubscriptionWorkflows({ drifts: untracked, runKey })).signalled;
  return { checked, drifted: drifted.length + untracked.length, signalled };
}
