/**
 * The one place that starts the accounts workflows from outside Temporal (the register
 * endpoint). Client side only; the workflow is imported as a type.
 *
 * Id policy: `welcome-<userId>`: a second start finds the running run (USE_EXISTING) and a
 * closed one is never re-run (REJECT_DUPLICATE), so a user is welcomed once.
 */
import type { Client } from '@temporalio/client';
import { accountEmailWorkflowId, welcomeWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import type { welcomeWorkflow } from './welcome';
import type { accountEmail } from './accountEmail';
import type { AccountEmailInput } from './messages';

export async function startWelcome(client: Client, userId: string) {
  return client.workflow.start<typeof welcomeWorkflow>('welcomeWorkflow', {
    taskQueue: TaskQueue.accounts,
    workflowId: welcomeWorkflowId(userId),
    args: [{ userId }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
  });
}

/**
 * Starts the email of one account token or invitation (ids only in the history). The id is
 * the row's: a repeated start finds the same run and a finished one is never re-run.
 */
export async function startAccountEmail(client: Client, input: AccountEmailInput) {
  return client.workflow.start<typeof accountEmail>('accountEmail', {
    taskQueue: TaskQueue.accounts,
    workflowId: accountEmailWorkflowId(input.kind, input.id),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
  });
}
