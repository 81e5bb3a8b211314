import { expect } from 'chai';
import {
  addMonths,
  applyDeadline,
  applyStripeTruth,
  billingMessage,
  driftBetween,
  initialSubscriptionState,
  isHandledStripeEvent,
  nextDeadline,
  statusFromStripe,
  DUNNING_DAYS,
  DEFAULT_GRACE_DAYS,
  type StripeSubscriptionSnapshot,
  type SubscriptionState,
} from '../../domain/subscription';
import { loadConfig } from '../../config';
import { missingBillingSettings, assertBillingConfigured, planForPrice, subscriptionSnapshot, invoiceSubscriptionId, type Stripe } from '../../adapters/stripe';
import { DomainError, ErrorType } from '../../domain/errors';
import sinon from 'sinon';
import { ApplicationFailure } from '@temporalio/common';
import { createBillingActivities, UNTRACKED_SCAN_STATUSES } from '../../activities/billing';
import { ensurePortalConfiguration, portalConfigurationParams, PORTAL_CONFIGURATION_METADATA_KEY } from '../../adapters/stripe/portal';
import type { MikroORM } from '../../entities/orm';
import type { Logger } from 'pino';

const DAY = 86_400_000;
const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);
const iso = (days: number) => at(days).toISOString();

function snap(over: Partial<StripeSubscriptionSnapshot> = {}): StripeSubscriptionSnapshot {
  return {
    subscriptionId: 'sub_1',
    customerId: 'cus_1',
    stripeStatus: 'active',
    plan: 'premium',
    interval: 'month',
    currentPeriodStart: iso(0),
    currentPeriodEnd: iso(31),
    cancelAtPeriodEnd: false,
    trialEnd: null,
    ...over,
  };
}

function active(over: Partial<StripeSubscriptionSnapshot> = {}): SubscriptionState {
  return applyStripeTruth(initialSubscriptionState('u1'), snap(over), at(0)).state;
}

describe('subscription rules (domain/subscription)', () => {
  it('maps every Stripe status onto the state machine and knows which events it handles', () => {
    expect(statusFromStripe('trialing')).to.equal('trialing');
    expect(statusFromStripe('active')).to.equal('active');
    expect(statusFromStripe('past_due')).to.equal('past_due');
    expect(statusFromStripe('unpaid')).to.equal('past_due');
    expect(statusFromStripe('canceled')).to.equal('canceled');
    expect(statusFromStripe('incomplete_expired')).to.equal('expired');
    expect(isHandledStripeEvent('invoice.paid')).to.equal(true);
    expect(isHandledStripeEvent('customer.subscription.trial_will_end')).to.equal(true);
    expect(isHandledStripeEvent('charge.refunded')).to.equal(false);
    expect(DUNNING_DAYS).to.deep.equal([0, 3, 7]);
    expect(DEFAULT_GRACE_DAYS).to.equal(14);
  });

  it('activates on the first paid subscription: plan applied, credits granted once for the period', () => {
    const t = applyStripeTruth(initialSubscriptionState('u1'), snap(), at(0));
    expect(t.state).to.include({ status: 'active', plan: 'premium', subscriptionId: 'sub_1', pendingPlan: null });
    expect(t.effects).to.deep.include({ kind: 'grantCredits', plan: 'premium', key: `grant:u1:${iso(0)}`, reason: 'subscription started' });
    expect(t.effects.find((e) => e.kind === 'notify')).to.include({ message: 'activated' });
    expect(t.newPeriod).to.equal(false);
    const again = applyStripeTruth(t.state, snap(), at(1));
    expect(again.effects).to.deep.equal([]);
    expect(again.state).to.deep.equal(t.state);
  });

  it('resets credits on renewal with a key per period and reports the new period', () => {
    const t = applyStripeTruth(active(), snap({ currentPeriodStart: iso(31), currentPeriodEnd: iso(59) }), at(31));
    expect(t.newPeriod).to.equal(true);
    expect(t.effects).to.deep.equal([{ kind: 'grantCredits', plan: 'premium', key: `grant:u1:${iso(31)}`, reason: 'new billing period' }]);
  });

  it('applies an upgrade at once with a top-up, and holds a downgrade until the period end', () => {
    const up = applyStripeTruth(active(), snap({ plan: 'pro' }), at(10));
    expect(up.state.plan).to.equal('pro');
    expect(up.effects).to.deep.include({ kind: 'grantCredits', plan: 'pro', topUpFrom: 'premium', key: `upgrade:sub_1:${iso(0)}:pro`, reason: 'upgraded to pro' });

    const down = applyStripeTruth(up.state, snap({ plan: 'premium' }), at(12));
    expect(down.state).to.include({ plan: 'pro', pendingPlan: 'premium' });
    expect(down.effects.map((e) => e.kind === 'notify' && e.message)).to.deep.equal(['downgrade_scheduled']);
    expect(nextDeadline(down.state)).to.deep.include({ kind: 'periodEnd', at: at(31) });

    const early = applyDeadline(down.state, { kind: 'periodEnd', at: at(31) }, at(30));
    expect(early.state.plan).to.equal('pro');
    const due = applyDeadline(down.state, { kind: 'periodEnd', at: at(31) }, at(31));
    expect(due.state).to.include({ plan: 'premium', pendingPlan: null });
    expect(due.effects[0]).to.deep.equal({ kind: 'grantCredits', plan: 'premium', key: `grant:u1:${iso(31)}`, reason: 'plan changed to premium' });
    // The renewal webhook for the same boundary grants nothing more.
    const renewal = applyStripeTruth(due.state, snap({ plan: 'premium', currentPeriodStart: iso(31), currentPeriodEnd: iso(59) }), at(31));
    expect(renewal.effects.filter((e) => e.kind === 'grantCredits')).to.deep.equal([]);
  });

  it('tops up an upgrade once per subscription, period and plan (the difference, not a reset); the next period resets', () => {
    const up = applyStripeTruth(active(), snap({ plan: 'pro' }), at(10));
    const topUps = up.effects.filter((e) => e.kind === 'grantCredits');
    expect(topUps).to.deep.equal([{ kind: 'grantCredits', plan: 'pro', topUpFrom: 'premium', key: `upgrade:sub_1:${iso(0)}:pro`, reason: 'upgraded to pro' }]);
    // Down (scheduled) and up again in the same period: the same key, so the ledger adds nothing more.
    const down = applyStripeTruth(up.state, snap({ plan: 'premium' }), at(11)).state;
    const upAgain = applyStripeTruth(down, snap({ plan: 'pro' }), at(12));
    expect(upAgain.effects.filter((e) => e.kind === 'grantCredits').map((e) => e.key)).to.deep.equal([]);
    expect(upAgain.state).to.include({ plan: 'pro', pendingPlan: null });
    // The renewal resets to the full allowance as usual.
    const renewal = applyStripeTruth(up.state, snap({ plan: 'pro', currentPeriodStart: iso(31), currentPeriodEnd: iso(59) }), at(31));
    expect(renewal.effects).to.deep.equal([{ kind: 'grantCredits', plan: 'pro', key: `grant:u1:${iso(31)}`, reason: 'new billing period' }]);
  });

  it('applies a pending downgrade when the renewal is first seen as past_due (it does not slip a period)', () => {
    const pro = active({ plan: 'pro' });
    const pending = applyStripeTruth(pro, snap({ plan: 'premium' }), at(12)).state;
    expect(pending).to.include({ plan: 'pro', pendingPlan: 'premium' });
    const renewedUnpaid = applyStripeTruth(pending, snap({ plan: 'premium', stripeStatus: 'past_due', currentPeriodStart: iso(31), currentPeriodEnd: iso(59) }), at(31));
    expect(renewedUnpaid.state).to.include({ status: 'past_due', plan: 'premium', pendingPlan: null, pastDueSince: iso(31) });
    expect(renewedUnpaid.effects).to.deep.equal([{ kind: 'notify', message: 'plan_downgraded', key: `plan:sub_1:${iso(31)}:premium` }]);
    // No period-end timer at the end of the new period for the old change.
    expect(nextDeadline(renewedUnpaid.state)).to.deep.include({ kind: 'dunning', day: 0 });
    // Paid later: premium credits for the period, no second "plan changed" message.
    const paid = applyStripeTruth(renewedUnpaid.state, snap({ plan: 'premium', currentPeriodStart: iso(31), currentPeriodEnd: iso(59) }), at(33));
    expect(paid.state).to.include({ status: 'active', plan: 'premium', pendingPlan: null });
    expect(paid.effects.map((e) => (e.kind === 'notify' ? e.message : e.kind))).to.deep.equal(['payment_recovered', 'grantCredits']);
    expect(paid.effects.find((e) => e.kind === 'grantCredits')).to.include({ plan: 'premium', key: `grant:u1:${iso(31)}` });
    // A renewal Stripe made on the old plan after all: the pending change is dropped, Stripe's plan stays.
    const keptPro = applyStripeTruth(pending, snap({ plan: 'pro', stripeStatus: 'past_due', currentPeriodStart: iso(31), currentPeriodEnd: iso(59) }), at(31));
    expect(keptPro.state).to.include({ plan: 'pro', pendingPlan: null });
  });

  it('takes the plan from Stripe when a past_due subscription is first seen, but never gives it back after a downgrade for non-payment', () => {
    // A workflow that knows nothing (restarted without a stored row) sees payment_failed: no instant downgrade.
    const fresh = applyStripeTruth(initialSubscriptionState('u1'), snap({ plan: 'pro', stripeStatus: 'past_due' }), at(40));
    expect(fresh.state).to.include({ status: 'past_due', plan: 'pro', pastDueSince: iso(40) });
    expect(fresh.effects).to.deep.equal([]);
    // Another subscription than the one the state knows.
    const other = applyStripeTruth(active(), snap({ subscriptionId: 'sub_2', plan: 'pro', stripeStatus: 'past_due' }), at(40));
    expect(other.state).to.include({ subscriptionId: 'sub_2', plan: 'pro', pendingPlan: null });
    // Already past_due on the same subscription: the running dunning is kept.
    const pastDue = applyStripeTruth(active(), snap({ stripeStatus: 'past_due' }), at(31)).state;
    const again = applyStripeTruth(pastDue, snap({ stripeStatus: 'past_due' }), at(35));
    expect(again.state).to.deep.equal(pastDue);
    // Grace over, we downgraded: Stripe still saying past_due (cancel not through yet) changes nothing back.
    const downgraded = applyDeadline(pastDue, { kind: 'grace', at: at(45) }, at(45)).state;
    expect(applyStripeTruth(downgraded, snap({ stripeStatus: 'past_due' }), at(46)).state.plan).to.equal('free');
  });

  it('converges with the reconcile: after applying a past_due snapshot the row shows no drift (no nightly repeat)', () => {
    const pastDueSnap = snap({ plan: 'premium', stripeStatus: 'past_due', currentPeriodStart: iso(31), currentPeriodEnd: iso(59) });
    const pendingDowngrade = applyStripeTruth(active({ plan: 'pro' }), snap({ plan: 'premium' }), at(12)).state;
    const expired = { ...initialSubscriptionState('u1'), status: 'expired' as const, subscriptionId: 'sub_0' };
    for (const prev of [initialSubscriptionState('u1'), expired, pendingDowngrade, active()]) {
      const applied = applyStripeTruth(prev, pastDueSnap, at(31)).state;
      expect(driftBetween(applied, pastDueSnap), `from ${prev.status}/${prev.plan}`).to.equal(null);
      // Applying it again (the reconcile's nudge) changes nothing.
      expect(applyStripeTruth(applied, pastDueSnap, at(32)).state).to.deep.equal(applied);
    }
  });

  it('runs dunning on days 0, 3 and 7 and downgrades to free when the grace period ends unpaid', () => {
    const pastDue = applyStripeTruth(active(), snap({ stripeStatus: 'past_due', currentPeriodStart: iso(31), currentPeriodEnd: iso(59) }), at(31));
    let state = pastDue.state;
    expect(state).to.include({ status: 'past_due', plan: 'premium', pastDueSince: iso(31) });
    const sent: number[] = [];
    for (;;) {
      const d = nextDeadline(state, 14)!;
      if (d.kind !== 'dunning') {
        expect(d).to.deep.include({ kind: 'grace', at: at(45) });
        break;
      }
      const t = applyDeadline(state, d, d.at);
      sent.push(...t.effects.flatMap((e) => (e.kind === 'notify' ? [e.day!] : [])));
      state = t.state;
    }
    expect(sent).to.deep.equal([0, 3, 7]);
    const grace = applyDeadline(state, { kind: 'grace', at: at(45) }, at(45));
    expect(grace.state).to.include({ status: 'expired', plan: 'free', pendingPlan: null });
    expect(grace.effects.map((e) => e.kind)).to.deep.equal(['grantCredits', 'notify', 'cancelStripe']);
    expect(nextDeadline(grace.state)).to.equal(null);
  });

  it('recovers from past_due on payment and drops the pending dunning', () => {
    const pastDue = applyStripeTruth(active(), snap({ stripeStatus: 'past_due', currentPeriodStart: iso(31), currentPeriodEnd: iso(59) }), at(31)).state;
    const paid = applyStripeTruth(pastDue, snap({ currentPeriodStart: iso(31), currentPeriodEnd: iso(59) }), at(36));
    expect(paid.state).to.include({ status: 'active', pastDueSince: null });
    expect(paid.effects.map((e) => (e.kind === 'notify' ? e.message : e.kind))).to.deep.equal(['payment_recovered', 'grantCredits']);
    expect(nextDeadline(paid.state)).to.equal(null);
  });

  it('keeps the plan to the period end on cancel-at-period-end, then expires to free', () => {
    const t = applyStripeTruth(active(), snap({ cancelAtPeriodEnd: true }), at(5));
    expect(t.state).to.include({ status: 'active', plan: 'premium', pendingPlan: 'free', cancelAtPeriodEnd: true });
    expect(t.effects.map((e) => e.kind === 'notify' && e.message)).to.deep.equal(['cancel_scheduled']);
    const end = applyDeadline(t.state, nextDeadline(t.state)!, at(31));
    expect(end.state).to.include({ status: 'expired', plan: 'free' });
    // Stripe's deletion arriving afterwards changes nothing.
    const deleted = applyStripeTruth(end.state, snap({ stripeStatus: 'canceled', cancelAtPeriodEnd: true }), at(31));
    expect(deleted.effects).to.deep.equal([]);
    expect(deleted.state.plan).to.equal('free');
  });

  it('on deletion keeps a paid period, but takes the plan at once from an unpaid subscription', () => {
    const paid = applyStripeTruth(active(), snap({ stripeStatus: 'canceled' }), at(10));
    expect(paid.state).to.include({ status: 'canceled', plan: 'premium', pendingPlan: 'free' });
    const pastDue = applyStripeTruth(active(), snap({ stripeStatus: 'past_due' }), at(10)).state;
    const unpaid = applyStripeTruth(pastDue, snap({ stripeStatus: 'canceled' }), at(12));
    expect(unpaid.state).to.include({ status: 'expired', plan: 'free' });
  });

  it('ignores a late event about an older subscription while a newer one is live', () => {
    const live = active({ subscriptionId: 'sub_new' });
    const stale = applyStripeTruth(live, snap({ subscriptionId: 'sub_old', stripeStatus: 'canceled' }), at(3));
    expect(stale.state).to.deep.equal(live);
    expect(stale.effects).to.deep.equal([]);
  });

  it('resets credits monthly inside a yearly period', () => {
    const yearly = active({ interval: 'year', currentPeriodEnd: new Date('2027-01-01T00:00:00Z').toISOString() });
    const first = nextDeadline(yearly)!;
    expect(first).to.deep.include({ kind: 'creditReset', at: new Date('2026-02-01T00:00:00Z') });
    const t = applyDeadline(yearly, first, first.at);
    expect(t.effects).to.deep.equal([{ kind: 'grantCredits', plan: 'premium', key: 'grant:u1:2026-02-01T00:00:00.000Z', reason: 'monthly credits' }]);
    expect(nextDeadline(t.state)!.at.toISOString()).to.equal('2026-03-01T00:00:00.000Z');
    expect(addMonths(new Date('2026-01-31T00:00:00Z'), 1).toISOString()).to.equal('2026-02-28T00:00:00.000Z');
  });

  it('detects drift between the stored row and Stripe, and accepts settled endings', () => {
    const stored = active();
    expect(driftBetween(stored, snap())).to.equal(null);
    expect(driftBetween(stored, snap({ stripeStatus: 'past_due' }))).to.match(/status active locally, past_due at Stripe/);
    expect(driftBetween(stored, snap({ currentPeriodEnd: iso(62) }))).to.match(/period/);
    expect(driftBetween(stored, snap({ plan: 'pro' }))).to.match(/plan premium locally, pro at Stripe/);
    expect(driftBetween({ ...stored, status: 'expired', plan: 'free' }, snap({ stripeStatus: 'canceled' }))).to.equal(null);
    expect(driftBetween(initialSubscriptionState('u1'), snap())).to.match(/unknown locally/);
  });

  it('words the dunning email with the days left', () => {
    expect(billingMessage('payment_failed', { plan: 'premium', day: 3, graceDays: 14 }).text).to.contain('11 more days');
    expect(billingMessage('trial_will_end', { plan: 'pro', trialEnd: '2026-02-01T00:00:00Z' }).text).to.contain('2026-02-01');
  });
});

describe('Stripe adapter mapping (adapters/stripe)', () => {
  const config = loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_PRICE_PREMIUM_MONTHLY: 'price_pm', STRIPE_PRICE_PRO_YEARLY: 'price_py' });

  it('names every missing setting and answers 503 through a ServiceUnavailable error', () => {
    expect(missingBillingSettings(loadConfig({}), ['api', 'webhook', { plan: 'pro', interval: 'month' }])).to.deep.equal([
      'STRIPE_SECRET_KEY',
      'STRIPE_WEBHOOK_SECRET',
      'STRIPE_PRICE_PRO_MONTHLY',
    ]);
    expect(missingBillingSettings(config, ['api', { plan: 'premium', interval: 'month' }])).to.deep.equal([]);
    const err = (() => {
      try {
        assertBillingConfigured(config, [{ plan: 'premium', interval: 'year' }]);
      } catch (e) {
        return e as DomainError;
      }
    })();
    expect(err).to.be.instanceOf(DomainError);
    expect(err!.type).to.equal(ErrorType.ServiceUnavailable);
    expect(err!.message).to.equal('Billing is not configured: set STRIPE_PRICE_PREMIUM_YEARLY');
  });

  it('maps a subscription to a plan by price id first, then by the checkout metadata', () => {
    expect(planForPrice(config, 'price_py')).to.deep.equal({ plan: 'pro', interval: 'year' });
    expect(planForPrice(config, 'price_unknown')).to.equal(null);
    const sub = (priceId: string, metadata: Record<string, string> = {}) =>
      ({
        id: 'sub_9',
        customer: 'cus_9',
        status: 'active',
        cancel_at_period_end: false,
        trial_end: null,
        start_date: 1767225600,
        metadata,
        items: { data: [{ price: { id: priceId, recurring: { interval: 'month' } }, current_period_start: 1767225600, current_period_end: 1769904000 }] },
      }) as unknown as Stripe.Subscription;
    expect(subscriptionSnapshot(config, sub('price_pm'))).to.deep.equal({
      subscriptionId: 'sub_9',
      customerId: 'cus_9',
      stripeStatus: 'active',
      plan: 'premium',
      interval: 'month',
      currentPeriodStart: '2026-01-01T00:00:00.000Z',
      currentPeriodEnd: '2026-02-01T00:00:00.000Z',
      cancelAtPeriodEnd: false,
      trialEnd: null,
    });
    expect(subscriptionSnapshot(config, sub('price_retired', { plan: 'pro', interval: 'year' }))).to.include({ plan: 'pro', interval: 'year' });
    expect(subscriptionSnapshot(config, sub('price_retired'))).to.include({ plan: null, interval: 'month' });
    expect(invoiceSubscriptionId({ parent: { subscription_details: { subscription: 'sub_7' } } } as unknown as Stripe.Invoice)).to.equal('sub_7');
  });
});

describe('billing activities against a fake Stripe (activities/billing)', () => {
  const config = loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_PRICE_PREMIUM_MONTHLY: 'price_pm' });
  const stripeError = (statusCode: number, code?: string) => Object.assign(new Error(`stripe says ${statusCode}`), { type: 'StripeInvalidRequestError', statusCode, code });
  /** An EntityManager that knows no rows (the paths under test never need one). */
  const orm = { em: { fork: () => ({ findOne: async () => null, find: async () => [] }) } } as unknown as MikroORM;
  const logger = () => ({ info: sinon.spy(), warn: sinon.spy(), error: sinon.spy() });
  const activities = (stripe: object, log = logger()) => createBillingActivities({ orm, config, stripe: stripe as never, logger: log as unknown as Logger });
  const failureOf = async (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);

  it('turns a permanent Stripe refusal (4xx but 409/429) into a non-retryable failure; 404 is "no object"; 409, 429 and 5xx stay retryable', async () => {
    const retrieve = sinon.stub();
    const acts = activities({ subscriptions: { retrieve } });
    const fetch = () => acts.fetchStripeSubscription({ userId: 'u1', type: 'customer.subscription.updated', objectId: 'sub_1', knownSubscriptionId: 'sub_1' });
    retrieve.rejects(stripeError(400));
    const refused = await failureOf(fetch());
    expect(refused).to.be.instanceOf(ApplicationFailure);
    expect(refused).to.include({ nonRetryable: true, type: 'StripeRejected' });
    expect((refused as Error).message).to.match(/Stripe refused to read the subscription \(400\)/);
    retrieve.rejects(stripeError(403));
    expect(await failureOf(fetch())).to.include({ nonRetryable: true });
    retrieve.rejects(stripeError(404, 'resource_missing'));
    expect(await fetch()).to.equal(null);
    for (const status of [409, 429, 500]) {
      retrieve.rejects(stripeError(status));
      const err = await failureOf(fetch());
      expect(err, String(status)).to.not.be.instanceOf(ApplicationFailure);
      expect(err).to.include({ statusCode: status });
    }
  });

  it('reads a deleted customer’s subscription list as "none" instead of retrying forever', async () => {
    const list = sinon.stub().rejects(stripeError(404, 'resource_missing'));
    const ormWithCustomer = { em: { fork: () => ({ findOne: async (_: unknown, where: { id?: string }) => (where.id ? { stripeCustomerId: 'cus_gone' } : null) }) } } as unknown as MikroORM;
    const acts = createBillingActivities({ orm: ormWithCustomer, config, stripe: { subscriptions: { list } } as never, logger: logger() as unknown as Logger });
    expect(await acts.fetchStripeSubscription({ userId: 'u1', type: 'reconcile', objectId: '', knownSubscriptionId: null })).to.equal(null);
    expect(list.calledOnceWith(sinon.match({ customer: 'cus_gone' }))).to.equal(true);
  });

  it('scans trialing, active, past_due and unpaid subscriptions for untracked ones, and logs when a status hits the cap', async () => {
    const asked: string[] = [];
    const list = (params: { status: string }) => {
      asked.push(params.status);
      return (async function* () {
        for (let i = 0; i < 5; i++) yield { id: `sub_${params.status}_${i}`, status: params.status, customer: null };
      })();
    };
    const log = logger();
    const acts = activities({ subscriptions: { list } }, log);
    expect(await acts.findUntrackedSubscriptions({ capPerStatus: 3 })).to.deep.equal([]);
    expect(asked).to.deep.equal([...UNTRACKED_SCAN_STATUSES]);
    expect(asked).to.include.members(['trialing', 'past_due']);
    expect(log.warn.callCount).to.equal(4);
    expect(log.warn.firstCall.args[0]).to.deep.equal({ status: 'trialing', cap: 3 });
    expect(log.warn.firstCall.args[1]).to.match(/reached its cap/);
    log.warn.resetHistory();
    await acts.findUntrackedSubscriptions({ capPerStatus: 10 });
    expect(log.warn.called).to.equal(false);
  });
});

describe('customer-portal configuration (adapters/stripe/portal)', () => {
  const config = loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_PRICE_PREMIUM_MONTHLY: 'price_pm', STRIPE_PRICE_PRO_MONTHLY: 'price_prm', STRIPE_PRICE_PRO_YEARLY: 'price_pry' });

  it('invoices plan changes at once with proration and schedules downgrades at the period end, for our products only', () => {
    const params = portalConfigurationParams(config, [{ product: 'prod_pro', prices: ['price_prm', 'price_pry'] }]);
    expect(params.features.subscription_update).to.deep.include({
      enabled: true,
      default_allowed_updates: ['price'],
      proration_behavior: 'always_invoice',
      schedule_at_period_end: { conditions: [{ type: 'decreasing_item_amount' }, { type: 'shortening_interval' }] },
      products: [{ product: 'prod_pro', prices: ['price_prm', 'price_pry'] }],
    });
    expect(params.features.subscription_cancel).to.include({ enabled: true, mode: 'at_period_end' });
  });

  it('uses STRIPE_PORTAL_CONFIGURATION when set; otherwise reuses its own configuration by fingerprint, or creates it', async () => {
    const api = {
      prices: { retrieve: sinon.stub().callsFake(async (id: string) => ({ id, product: id.startsWith('price_pr') ? 'prod_pro' : 'prod_premium' })) },
      billingPortal: { configurations: { list: sinon.stub(), create: sinon.stub().resolves({ id: 'bpc_new' }) } },
    };
    expect(await ensurePortalConfiguration(api as never, loadConfig({ STRIPE_PORTAL_CONFIGURATION: 'bpc_dashboard' }))).to.equal('bpc_dashboard');
    expect(api.prices.retrieve.called).to.equal(false);

    api.billingPortal.configurations.list.returns((async function* () {
      yield { id: 'bpc_other', metadata: {} };
    })());
    expect(await ensurePortalConfiguration(api as never, config)).to.equal('bpc_new');
    const [created, opts] = api.billingPortal.configurations.create.firstCall.args;
    expect(created.features.subscription_update.products).to.deep.equal([
      { product: 'prod_premium', prices: ['price_pm'] },
      { product: 'prod_pro', prices: ['price_prm', 'price_pry'] },
    ]);
    const fingerprint = created.metadata[PORTAL_CONFIGURATION_METADATA_KEY];
    expect(fingerprint).to.be.a('string').with.length(24);
    expect(opts).to.deep.equal({ idempotencyKey: `portal-configuration:${fingerprint}` });

    api.billingPortal.configurations.list.returns((async function* () {
      yield { id: 'bpc_ours', metadata: { [PORTAL_CONFIGURATION_METADATA_KEY]: fingerprint } };
    })());
    expect(await ensurePortalConfiguration(api as never, config)).to.equal('bpc_ours');
    expect(api.billingPortal.configurations.create.callCount).to.equal(1);
  });
});
