import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { routeBuilder } from '../http/route';
import { HttpError } from '../http/errors';
import { isHandledStripeEvent } from '../../domain/subscription';
import { assertBillingConfigured, verifyWebhook } from '../../adapters/stripe';
import { deliverBillingEvent } from '../../workflows/billing/client';
import { claimAndDeliverStripeEvent } from './stripe-event-claim';

const WebhookAnswer = z.object({
  received: z.literal(true),
  duplicate: z.boolean().optional(),
  ignored: z.string().optional(),
});

interface EventObject {
  id?: string;
  customer?: string | { id: string } | null;
  client_reference_id?: string | null;
  metadata?: Record<string, string> | null;
  parent?: { subscription_details?: { metadata?: Record<string, string> | null } | null } | null;
}

/**
 * Stripe webhooks: verify the signature over the raw body, record the event id (a
 * redelivery is a no-op), signal the user's subscription workflow, answer. No Stripe API
 * call happens here: the workflow re-fetches what it needs.
 */
export function createBillingWebhookRouter(deps: AppDeps, ctx: Pick<MountContext, 'registry' | 'authenticate'>) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/billing', tag: 'billing', authenticate: ctx.authenticate });

  r.post(
    '/webhook',
    {
      summary: 'Stripe webhook endpoint (signed with STRIPE_WEBHOOK_SECRET)',
      description: 'Raw JSON body, Stripe-Signature header. Unknown event types are acknowledged and ignored; a redelivered event answers duplicate: true.',
      auth: false,
      headers: z.object({ 'stripe-signature': z.string().min(1).describe('Stripe\'s signature over the raw body (t=…,v1=…)') }),
      rawBody: { contentTypes: ['application/json'], description: 'The Stripe event, exactly as Stripe sent it (the signature covers these bytes)' },
      response: WebhookAnswer,
      // 401: the signature does not match the body (or is too old): the sender is not Stripe.
      errors: [401, 503],
    },
    async ({ req }) => {
      assertBillingConfigured(deps.config, ['webhook']);
      const signature = req.get('stripe-signature');
      if (!signature) throw new HttpError(400, 'Missing Stripe-Signature header', [{ location: 'headers', field: 'stripe-signature', message: 'is required' }]);
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let event;
      try {
        event = verifyWebhook(raw, signature, deps.config.STRIPE_WEBHOOK_SECRET!);
      } catch (err) {
        // Our own wording, not the SDK's (which quotes the expected signature scheme and payload hints).
        const stale = /tolerance/i.test((err as Error).message);
        throw new HttpError(401, stale ? 'Invalid Stripe signature: the timestamp is outside the tolerance (a delayed or replayed event)' : 'Invalid Stripe signature', [{ location: 'headers', field: 'stripe-signature', message: 'does not match the body, or is too old' }]);
      }
      // Built only when a line is written: the signalled path logs nothing at info.
      const log = () => req.log.child({ stripeEventId: event.id, stripeEventType: event.type });
      if (!isHandledStripeEvent(event.type)) {
        log().info('stripe event type not handled: ignored');
        return { received: true as const, ignored: 'event type not handled' };
      }
      const obj = event.data.object as EventObject;
      const ref = { eventId: event.id, type: event.type, objectId: obj.id ?? '', created: event.created };
      const claim = await claimAndDeliverStripeEvent(
        deps.orm,
        { id: event.id, type: event.type, objectId: obj.id ?? null },
        {
          customer: (typeof obj.customer === 'string' ? obj.customer : obj.customer?.id) ?? null,
          userIds: [obj.client_reference_id, obj.metadata?.userId, obj.parent?.subscription_details?.metadata?.userId],
        },
        async (user) => {
          try {
            const client = await deps.temporal.client();
            await deliverBillingEvent(client, user.id, ref, user.plan, deps.config.BILLING_GRACE_DAYS);
          } catch (err) {
            // Nothing is committed: Stripe's retry (or a concurrent delivery waiting on the row) signals.
            log().error({ err }, 'could not signal the subscription workflow');
            throw new HttpError(503, 'Could not hand the event to the workflow engine; retry later');
          }
        },
      );
      if (claim.kind === 'duplicate') {
        log().info('stripe event redelivered: no-op');
        return { received: true as const, duplicate: true };
      }
      if (claim.kind === 'no-user') {
        log().warn('stripe event for a customer we do not know: ignored');
        return { received: true as const, ignored: 'no user for this customer' };
      }
      return { received: true as const };
    },
  );

  return router;
}
