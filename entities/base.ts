import { randomUUID } from 'node:crypto';
import { p } from '@mikro-orm/core';

/**
 * The small base every entity shares: a UUID assigned in the app (so a workflow id can
 * be derived before the row is flushed) and creation/update timestamps.
 */
export const baseProperties = {
  id: p.uuid().primary().onCreate(() => randomUUID()),
  createdAt: p.datetime().onCreate(() => new Date()),
  updatedAt: p
    .datetime()
    .onCreate(() => new Date())
    .onUpdate(() => new Date()),
};
