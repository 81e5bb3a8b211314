import { proxyActivities } from '@temporalio/workflow';
import type { AccountEmailActivities } from '../../activities/accounts/emails';
import type { AccountEmailInput, AccountEmailResult } from './messages';

// Few attempts for email, to avoid spamming if a provider misbehaves; the outbox key and the
// provider's idempotency key make every retry send the same single email.
const { deliverAccountEmail } = proxyActivities<AccountEmailActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
});

/**
 * One account email (verification link, reset link, reset notice, invitation). Started by
 * the API after the row it refers to is committed; its id is the kind + row id, so one
 * request makes one email even if the start is retried.
 */
export async function accountEmail(input: AccountEmailInput): Promise<AccountEmailResult> {
  return deliverAccountEmail(input);
}
