// Negative control for the replay test: the welcome workflow with its activities in a
// different order. Replaying a real welcome history against it must fail.
import { proxyActivities } from '@temporalio/workflow';
import type { AccountsActivities } from '../../../activities/accounts';
import type { NotifyActivities } from '../../../activities/notify';

const a = proxyActivities<AccountsActivities & NotifyActivities>({ startToCloseTimeout: '1 minute' });

export async function welcomeWorkflow({ userId }: { userId: string }) {
  await a.notifyInApp({ key: `welcome:${userId}`, userId, kind: 'welcome', title: 't', body: 'b' });
  await a.sendWelcomeEmail({ userId });
  return { emailed: false };
}
