import type { ActivityOptions } from '@temporalio/workflow';

/**
 * The one retry policy of a one-off notice (email and/or in-app: welcome, account emails,
 * analysis outcome, billing messages, listing notices): few attempts, so a provider that
 * misbehaves (accepts then errors) cannot turn one notice into a spam run. Every notice is
 * keyed (outbox, provider idempotency key, notification key), so a retry re-sends nothing
 * that already went out. Reminders that must eventually go out (gestation, health) retry
 * until their deadline instead and do not use this.
 */
export const NOTIFY_ACTIVITY_OPTIONS = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
} as const satisfies ActivityOptions;
