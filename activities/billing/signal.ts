import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { MikroORM } from '../../entities/orm';
import { User } from '../../entities';
import { deliverBillingEvent } from '../../workflows/billing/client';
import type { BillingDrift } from './index';

/**
 * The billing activity that talks to Temporal (through the billing workflow client). Kept
 * apart from the Stripe/database activities so the subscription workflow, which imports
 * their types, is not on an import loop with the client that starts it.
 */
export function createBillingSignalActivities(deps: { orm: MikroORM; config: Config; logger: Logger }) {
  const { orm, config, logger } = deps;
  return {
    /** Nudges the workflows of drifted users; each re-fetches Stripe and converges. */
    async signalSubscriptionWorkflows(input: { drifts: BillingDrift[]; runKey: string }): Promise<{ signalled: number }> {
      const client = Context.current().client;
      const em = orm.em.fork();
      let signalled = 0;
      for (const drift of input.drifts) {
        const user = await em.findOne(User, { id: drift.userId });
        if (!user) continue;
        await deliverBillingEvent(
          client,
          drift.userId,
          { eventId: `reconcile:${input.runKey}:${drift.subscriptionId}`, type: 'reconcile', objectId: drift.subscriptionId, created: Math.floor(Date.now() / 1000) },
          user.plan,
          config.BILLING_GRACE_DAYS,
        );
        logger.info({ userId: drift.userId, subscriptionId: drift.subscriptionId, reason: drift.reason }, 'billing drift: workflow signalled');
        signalled += 1;
      }
      return { signalled };
    },
  };
}

export type BillingSignalActivities = ReturnType<typeof createBillingSignalActivities>;
