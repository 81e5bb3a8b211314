import type { Client } from '@temporalio/client';
import type { BillingEventRef } from '../../domain/subscription';
import type { Plan } from '../../domain/plans';
import type { subscriptionLifecycle } from '../../workflows/billing/subscriptionLifecycle';
import { stripeEventSignal } from '../../workflows/billing/messages';
import { subscriptionWorkflowId } from '../../workflows/ids';
import { TaskQueue } from '../../workflows/queues';
import { PlanKey, UserIdKey } from '../../workflows/search-attributes';

/**
 * Hands a billing event to the user's subscription workflow, starting it when none runs
 * (a closed earlier run is followed by a new one). Used by the webhook, the manual refresh
 * and the nightly reconcile.
 */
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
