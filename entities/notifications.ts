import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { baseProperties } from './base';

export const EMAIL_STATUSES = ['pending', 'sent', 'failed'] as const;

/**
 * Every email goes through this outbox: one row per idempotency key, so an activity
 * retried after a crash finds the row and never sends twice.
 */
export const EmailOutbox = defineEntity({
  name: 'EmailOutbox',
  tableName: 'email_outbox',
  properties: {
    ...baseProperties,
    key: p.string().unique(),
    userId: p.uuid().nullable().index(),
    to: p.string(),
    subject: p.string(),
    text: p.text(),
    html: p.text().nullable(),
    status: p.enum(EMAIL_STATUSES).default('pending'),
    provider: p.string().nullable(),
    providerMessageId: p.string().nullable(),
    attempts: p.integer().default(0),
    lastError: p.text().nullable(),
    sentAt: p.datetime().nullable(),
  },
});
export type EmailOutbox = InferEntity<typeof EmailOutbox>;

/** In-app notifications; unique per key so a retried activity adds one only. */
export const Notification = defineEntity({
  name: 'Notification',
  tableName: 'notifications',
  indexes: [{ properties: ['userId', 'createdAt'] }],
  properties: {
    ...baseProperties,
    key: p.string().unique(),
    userId: p.uuid(),
    kind: p.string(),
    title: p.string(),
    body: p.text(),
    data: p.json<Record<string, unknown>>().nullable(),
    readAt: p.datetime().nullable(),
  },
});
export type Notification = InferEntity<typeof Notification>;
