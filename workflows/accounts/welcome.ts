import { proxyActivities } from '@temporalio/workflow';
import type { AccountsActivities } from '../../activities/accounts';
import type { NotifyActivities } from '../../activities/notify';
import { WELCOME_SUBJECT } from '../../domain/messages';
import type { WelcomeInput } from './messages';

// Few attempts for email, to avoid spamming if a provider misbehaves. A user that does not
// exist is a non-retryable NotFound.
const { sendWelcomeEmail } = proxyActivities<AccountsActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
});
const { notifyInApp } = proxyActivities<NotifyActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
});

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
