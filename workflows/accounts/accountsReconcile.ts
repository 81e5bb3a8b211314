import { proxyActivities, startChild, ParentClosePolicy } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { AccountsActivities } from '../../activities/accounts';
import { welcomeWorkflow } from './welcome';
import { welcomeWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import type { AccountsReconcileInput } from './messages';

const { findUsersMissingWelcome } = proxyActivities<Pick<AccountsActivities, 'findUsersMissingWelcome'>>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 5 } });

/**
 * Run by the `accounts-reconcile` Schedule: starts the welcome workflow of users whose
 * register could not reach Temporal. The welcome id is the user's, so a user whose welcome
 * already ran (or runs) is skipped, never emailed twice.
 */
export async function accountsReconcile(input: AccountsReconcileInput = {}): Promise<{ checked: number; started: number }> {
  const userIds = await findUsersMissingWelcome({
    olderThanMinutes: input.olderThanMinutes ?? 10,
    withinDays: input.withinDays ?? 7,
    limit: input.limit ?? 500,
  });
  let started = 0;
  for (const userId of userIds) {
    try {
      await startChild(welcomeWorkflow, {
        workflowId: welcomeWorkflowId(userId),
        taskQueue: TaskQueue.accounts,
        args: [{ userId }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      started += 1;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return { checked: userIds.length, started };
}
