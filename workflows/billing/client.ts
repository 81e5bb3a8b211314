/**
 * The one place that starts, signals and queries the subscription workflows (used by the
 * webhook, the manual refresh and the nightly reconcile activity). Client side only; the
 * workflow is imported as a type.
 *
 * Id policy: `subscription-<userId>`, one per user. signalWithStart hands an event to the
 * running run or starts one; a closed earlier run is followed by a new one (ALLOW_DUPLICATE).
 */
import type { Client } from '@temporalio/client';
import type { BillingEventRef } from '../../domain/subscription';
import type { Plan } from '../../domain/plans';
import type { subscriptionLifecycle } from './subscriptionLifecycle';
import { stateQuery, stripeEventSignal, type SubscriptionLiveState } from './messages';
import { subscriptionWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import { PlanKey, UserIdKey } from '../search-attributes';

export async function deliverBillingEvent(client: Client, userId: string, event: BillingEventRef, plan: Plan, graceDays: number): Promise<void> {
  await client.workflow.signalWithStart<typeof subscriptionLifecycle, [BillingEventRef]>('subscriptionLifecycle', {
    workflowId: subscriptionWorkflowId(userId),
    taskQueue: TaskQueue.billing,
    signal: stripeEventSignal,
    signalArgs: [event],
    args: [{ userId, graceDays }],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [
      { key: UserIdKey, value: userId },
      { key: PlanKey, value: plan },
    ],
  });
}

export function querySubscriptionState(client: Client, userId: string): Promise<SubscriptionLiveState> {
  return client.workflow.getHandle<typeof subscriptionLifecycle>(subscriptionWorkflowId(userId)).query(stateQuery);
}
