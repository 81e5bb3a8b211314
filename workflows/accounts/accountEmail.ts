import { proxyActivities } from '@temporalio/workflow';
import type { AccountEmailActivities } from '../../activities/accounts/emails';
import type { AccountEmailInput, AccountEmailResult } from './messages';
import { NOTIFY_ACTIVITY_OPTIONS } from '../shared/notify-policy';

// A notice (NOTIFY_ACTIVITY_OPTIONS: few attempts); the outbox key and the provider's
// idempotency key make every retry send the same single email.
const { deliverAccountEmail } = proxyActivities<Pick<AccountEmailActivities, 'deliverAccountEmail'>>(NOTIFY_ACTIVITY_OPTIONS);

/**
 * One account email (verification link, reset link, reset notice, invitation). Started by
 * the API after the row it refers to is committed; its id is the kind + row id, so one
 * request makes one email even if the start is retried.
 */
export async function accountEmail(input: AccountEmailInput): Promise<AccountEmailResult> {
  return deliverAccountEmail(input);
}
