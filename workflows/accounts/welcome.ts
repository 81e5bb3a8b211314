import { proxyActivities } from '@temporalio/workflow';
import type { AccountsActivities } from '../../activities/accounts';
import type { NotifyActivities } from '../../activities/notify';
import { WELCOME_SUBJECT } from '../../domain/messages';
import type { WelcomeInput } from './messages';
import { NOTIFY_ACTIVITY_OPTIONS } from '../shared/notify-policy';

// Notices (NOTIFY_ACTIVITY_OPTIONS: few attempts). A user that does not exist is a non-retryable NotFound.
const { sendWelcomeEmail } = proxyActivities<Pick<AccountsActivities, 'sendWelcomeEmail'>>(NOTIFY_ACTIVITY_OPTIONS);
const { notifyInApp } = proxyActivities<Pick<NotifyActivities, 'notifyInApp'>>(NOTIFY_ACTIVITY_OPTIONS);

/**
 * Sends the welcome email and the first in-app notification after a register. Only the user
 * id goes through the workflow: the activity reads the address and name itself, so no
 * personal data is written to the workflow history.
 */
export async function welcomeWorkflow({ userId }: WelcomeInput): Promise<{ emailed: boolean }> {
  const email = await sendWelcomeEmail({ userId });
  await notifyInApp({
    key: `welcome:${userId}`,
    userId,
    kind: 'welcome',
    title: WELCOME_SUBJECT,
    body: 'Your stable is ready: add your first horse.',
  });
  return { emailed: email.status === 'sent' || email.status === 'already-sent' };
}
