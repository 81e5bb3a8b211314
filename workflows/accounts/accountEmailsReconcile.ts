import { proxyActivities, startChild, ParentClosePolicy } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { AccountEmailActivities } from '../../activities/accounts/emails';
import { accountEmail } from './accountEmail';
import { accountEmailWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import type { AccountEmailsReconcileInput } from './messages';

const { findUnsentAccountEmails } = proxyActivities<Pick<AccountEmailActivities, 'findUnsentAccountEmails'>>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 5 } });

/**
 * Run by the `account-emails-reconcile` Schedule: starts the email of verification and
 * reset links and invitations whose request committed but whose workflow never started,
 * so each request ends with its one email. The child id is the row's: a run that already
 * finished is never repeated (only a failed one may run again), a running one is skipped.
 */
export async function accountEmailsReconcile(input: AccountEmailsReconcileInput = {}): Promise<{ checked: number; started: number }> {
  const unsent = await findUnsentAccountEmails({ olderThanMinutes: input.olderThanMinutes ?? 5, limit: input.limit ?? 500 });
  let started = 0;
  for (const email of unsent) {
    try {
      await startChild(accountEmail, {
        workflowId: accountEmailWorkflowId(email.kind, email.id),
        taskQueue: TaskQueue.accounts,
        args: [email],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      });
      started += 1;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return { checked: unsent.length, started };
}
