import { proxyActivities } from '@temporalio/workflow';
import type { AccountsActivities } from '../../activities/accounts';
import type { NotifyActivities } from '../../activities/notify';
import { welcomeMessage } from '../../domain/messages';
import type { WelcomeInput } from './messages';

const { getUserProfile } = proxyActivities<AccountsActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 10 },
});
// Few attempts for email, to avoid spamming if a provider misbehaves.
const { sendEmail, notifyInApp } = proxyActivities<NotifyActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
});

/** Sends the welcome email and the first in-app notification after a register. */
export async function welcomeWorkflow({ userId }: WelcomeInput): Promise<{ emailed: boolean }> {
  const profile = await getUserProfile(userId);
  const message = welcomeMessage(profile.firstName);
  const email = await sendEmail({ key: `welcome:${userId}`, userId, to: profile.email, ...message });
  await notifyInApp({
    key: `welcome:${userId}`,
    userId,
    kind: 'welcome',
    title: message.subject,
    body: 'Your stable is ready: add your first horse.',
  });
  return { emailed: email.status === 'sent' || email.status === 'already-sent' };
}
