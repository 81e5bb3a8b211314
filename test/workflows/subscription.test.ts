import { expect } from 'chai';
import sinon from 'sinon';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { subscriptionLifecycle } from '../../workflows/billing/subscriptionLifecycle';
import { billingReconcile } from '../../workflows/billing/billingReconcile';
import { stateQuery, stripeEventSignal, type SubscriptionLiveState } from '../../workflows/billing/messages';
import type { BillingActivities, BillingDrift } from '../../activities/billing';
import type { BillingSignalActivities } from '../../activities/billing/signal';
import type { NotifyActivities } from '../../activities/notify';
import { initialSubscriptionState, type BillingEventRef, type BillingEventType, type StripeSubscriptionSnapshot, type SubscriptionState } from '../../domain/subscription';
import { DAY_MS } from '../../domain/time';
import { createTimeSkippingEnv, uniqueQueue, workflowBundle } from '../support/temporal-env';
import { waitFor } from '../support/wait';

type Acts = Pick<BillingActivities, 'fetchStripeSubscription' | 'applyEntitlements' | 'grantPlanCredits' | 'cancelStripeSubscription' | 'loadSubscriptionState'> & Pick<NotifyActivities, 'sendEmail' | 'notifyInApp'>;
type Stubbed<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? sinon.SinonStub<A, R> : never };

/** A fake Stripe holding "the truth" about one subscription; the test edits it, then signals. */
function fakeStripe(start: number) {
  const truth: { sub: StripeSubscriptionSnapshot | null } = {
    sub: {
      subscriptionId: 'sub_1',
      customerId: 'cus_1',
      stripeStatus: 'active',
      plan: 'premium',
      interval: 'month',
      currentPeriodStart: new Date(start).toISOString(),
      currentPeriodEnd: new Date(start + 30 * DAY_MS).toISOString(),
      cancelAtPeriodEnd: false,
      trialEnd: null,
    },
  };
  const acts: Stubbed<Acts> = {
    fetchStripeSubscription: sinon.stub<Parameters<Acts['fetchStripeSubscription']>, ReturnType<Acts['fetchStripeSubscription']>>().callsFake(async () => (truth.sub ? { ...truth.sub } : null)),
    applyEntitlements: sinon.stub<Parameters<Acts['applyEntitlements']>, ReturnType<Acts['applyEntitlements']>>().callsFake(async (s) => ({ plan: s.plan })),
    grantPlanCredits: sinon.stub<Parameters<Acts['grantPlanCredits']>, ReturnType<Acts['grantPlanCredits']>>().resolves({ balance: 30, reserved: 0 }),
    cancelStripeSubscription: sinon.stub<Parameters<Acts['cancelStripeSubscription']>, ReturnType<Acts['cancelStripeSubscription']>>().resolves({ status: 'canceled' }),
    sendEmail: sinon.stub<Parameters<Acts['sendEmail']>, ReturnType<Acts['sendEmail']>>().resolves({ status: 'sent', outboxId: 'o1' }),
    notifyInApp: sinon.stub<Parameters<Acts['notifyInApp']>, ReturnType<Acts['notifyInApp']>>().resolves({ notificationId: 'n1', created: true }),
    // No Subscription row by default (a first run).
    loadSubscriptionState: sinon.stub<Parameters<Acts['loadSubscriptionState']>, ReturnType<Acts['loadSubscriptionState']>>().resolves(null),
  };
  /** Moves the subscription to the next period (a renewal at Stripe). */
  const renew = () => {
    const s = truth.sub!;
    const length = new Date(s.currentPeriodEnd).getTime() - new Date(s.currentPeriodStart).getTime();
    s.currentPeriodStart = s.currentPeriodEnd;
    s.currentPeriodEnd = new Date(new Date(s.currentPeriodEnd).getTime() + length).toISOString();
  };
  return { truth, acts, renew };
}

/** Waits for a condition (10 s, as before the shared helper). */
const until = (what: string, check: () => Promise<boolean>) => waitFor(what, check, { timeoutMs: 10_000 });

/**
 * Ends a past_due scenario with the payment going through (no timer left). A run terminated
 * with its dunning and grace timers pending stalls the time-skipping server's clock for the
 * long env.sleep() of later tests in this file (seen with the Java test server).
 */
async function recover(fake: ReturnType<typeof fakeStripe>, send: (type: BillingEventType) => Promise<void>, settle: (what: string, ok: (s: SubscriptionLiveState) => boolean) => Promise<SubscriptionLiveState>) {
  fake.truth.sub!.stripeStatus = 'active';
  await send('invoice.paid');
  await settle('recovered, no timer left', (s) => s.status === 'active' && s.nextDeadline === null);
}

const emailSubjects = (acts: Stubbed<Acts>) => acts.sendEmail.getCalls().map((c) => c.args[0].subject);
const lastPlan = (acts: Stubbed<Acts>) => acts.applyEntitlements.lastCall?.args[0].plan;

describe('subscriptionLifecycle (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  let n = 0;
  /** Runs a scenario with a worker on a fresh queue and a fake Stripe starting "now". */
  async function scenario(body: (ctx: { fake: ReturnType<typeof fakeStripe>; handle: WorkflowHandle<typeof subscriptionLifecycle>; send: (type: BillingEventType, id?: string) => Promise<void>; settle: (what: string, ok: (s: SubscriptionLiveState) => boolean) => Promise<SubscriptionLiveState> }) => Promise<void>) {
    const start = await env.currentTimeMs();
    const fake = fakeStripe(start);
    const taskQueue = uniqueQueue('subscription');
    const workflowId = `subscription-${taskQueue}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: fake.acts });
    await worker.runUntil(async () => {
      const send = async (type: BillingEventType, id = `evt_${++n}`) => {
        const event: BillingEventRef = { eventId: id, type, objectId: type.startsWith('invoice') ? 'in_1' : type.startsWith('checkout') ? 'cs_1' : 'sub_1', created: Math.floor(Date.now() / 1000) };
        await env.client.workflow.signalWithStart(subscriptionLifecycle, { workflowId, taskQueue, signal: stripeEventSignal, signalArgs: [event], args: [{ userId: 'u1', graceDays: 14 }] });
      };
      const handle = env.client.workflow.getHandle<typeof subscriptionLifecycle>(workflowId);
      /**
       * Polls the state query until every queued event is applied and `ok` holds. It asks
       * the run that is RUNNING (by run id): the time-skipping server never answers a query
       * to a run that just continued-as-new, and that stuck query would hold its clock.
       */
      const settle = async (what: string, ok: (s: SubscriptionLiveState) => boolean) => {
        let last: SubscriptionLiveState | undefined;
        try {
          return await waitFor(
            `state ${what}`,
            async () => {
              const { runId, status } = await handle.describe();
              if (status.name !== 'RUNNING') return null;
              last = await env.client.workflow.getHandle<typeof subscriptionLifecycle>(workflowId, runId).query(stateQuery);
              return last.pendingEvents === 0 && ok(last) ? last : null;
            },
            { timeoutMs: 10_000 },
          );
        } catch (err) {
          throw new Error(`state never became ${what}: ${JSON.stringify(last)}`, { cause: err });
        }
      };
      try {
        await body({ fake, handle, send, settle });
      } finally {
        // A run left behind with an activity in flight, or with timers on a queue nobody polls
        // any more, stalls the shared time-skipping clock of later tests: let its activities
        // finish while the worker still runs, then terminate it.
        await waitFor(
          'the scenario run to be idle or closed',
          async () => {
            const d = await handle.describe().catch(() => null);
            if (d?.status.name !== 'RUNNING') return true;
            if (d.raw.pendingActivities?.length || d.raw.pendingWorkflowTask) return false;
            await handle.terminate('scenario over');
            return true;
          },
          { timeoutMs: 5_000 },
        ).catch(() => undefined); // best effort: a run that stays busy is left to the shared server's teardown, as before
      }
    });
  }

  it('renews monthly for a year: credits reset every period with a key per period, one run per cycle', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, handle, send, settle }) => {
      await send('checkout.session.completed');
      await settle('active', (s) => s.status === 'active' && s.plan === 'premium');
      const firstRun = (await handle.describe()).runId;
      let run = firstRun;
      for (let month = 1; month <= 12; month++) {
        await env.sleep('30 days');
        fake.renew();
        await send('invoice.paid');
        // The renewal is applied (credits granted), then the run continues as new.
        await until(`credits of month ${month}`, async () => fake.acts.grantPlanCredits.callCount === month + 1);
        await until(`run after month ${month}`, async () => (await handle.describe()).runId !== run);
        run = (await handle.describe()).runId;
        await settle(`renewed ${month}`, (s) => s.currentPeriodStart === fake.truth.sub!.currentPeriodStart);
      }
      const keys = fake.acts.grantPlanCredits.getCalls().map((c) => c.args[0].key);
      expect(keys).to.have.length(13);
      expect(new Set(keys).size).to.equal(13);
      expect(keys.every((k) => k.startsWith('grant:u1:'))).to.equal(true);
      expect(fake.acts.grantPlanCredits.getCalls().every((c) => c.args[0].plan === 'premium')).to.equal(true);
      expect(emailSubjects(fake.acts)).to.deep.equal(['Your Premium plan is active']);
      // continueAsNew per billing cycle: the first run ended as continued-as-new.
      const first = await env.client.workflow.getHandle(handle.workflowId, firstRun).describe();
      expect(first.status.name).to.equal('CONTINUED_AS_NEW');
      expect((await handle.describe()).runId).to.not.equal(firstRun);
      expect((await handle.describe()).historyLength).to.be.lessThan(60);
    });
  });

  it('recovers a failed payment paid on day 5: dunning on days 0 and 3 only, no downgrade', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, send, settle }) => {
      await send('checkout.session.completed');
      await settle('active', (s) => s.status === 'active');
      await env.sleep('30 days');
      fake.renew();
      fake.truth.sub!.stripeStatus = 'past_due';
      await send('invoice.payment_failed');
      const pastDue = await settle('past due, day-0 email sent', (s) => s.status === 'past_due' && s.dunningSent.includes(0));
      expect(pastDue.plan).to.equal('premium');
      expect(pastDue.nextDeadline).to.include({ kind: 'dunning', day: 3 });
      await env.sleep('5 days');
      await settle('day-3 email sent', (s) => s.dunningSent.includes(3));
      fake.truth.sub!.stripeStatus = 'active';
      await send('invoice.paid');
      const recovered = await settle('active again', (s) => s.status === 'active');
      expect(recovered).to.include({ plan: 'premium', pastDueSince: null });
      expect(recovered.nextDeadline).to.equal(null);
      await env.sleep('12 days');
      await settle('still active', (s) => s.status === 'active');
      expect(emailSubjects(fake.acts)).to.deep.equal([
        'Your Premium plan is active',
        'Your payment failed',
        'Reminder: your payment is still outstanding (day 3)',
        'Payment received',
      ]);
      expect(fake.acts.cancelStripeSubscription.called).to.equal(false);
      expect(lastPlan(fake.acts)).to.equal('premium');
      // Paying the renewal grants the new period's credits.
      expect(fake.acts.grantPlanCredits.lastCall.args[0].key).to.equal(`grant:u1:${fake.truth.sub!.currentPeriodStart}`);
    });
  });

  it('downgrades an unpaid subscription to free on day 14 after dunning on days 0, 3 and 7', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, handle, send, settle }) => {
      await send('checkout.session.completed');
      await settle('active', (s) => s.status === 'active');
      fake.renew();
      fake.truth.sub!.stripeStatus = 'past_due';
      await send('invoice.payment_failed');
      const pastDue = await settle('past due', (s) => s.status === 'past_due' && s.dunningSent.includes(0));
      await env.sleep('13 days');
      const day13 = await settle('day-7 email sent', (s) => s.dunningSent.includes(7));
      expect(day13).to.include({ status: 'past_due', plan: 'premium' });
      expect(day13.nextDeadline).to.include({ kind: 'grace' });
      const final = await handle.result();
      expect(final).to.include({ status: 'expired', plan: 'free', pendingPlan: null });
      expect(lastPlan(fake.acts)).to.equal('free');
      expect(fake.acts.cancelStripeSubscription.calledOnceWith({ subscriptionId: 'sub_1' })).to.equal(true);
      expect(fake.acts.grantPlanCredits.lastCall.args[0].plan).to.equal('free');
      expect(emailSubjects(fake.acts).slice(1)).to.deep.equal([
        'Your payment failed',
        'Reminder: your payment is still outstanding (day 3)',
        'Reminder: your payment is still outstanding (day 7)',
        'Your plan was downgraded to Free',
      ]);
      expect((await env.currentTimeMs()) - new Date(pastDue.pastDueSince!).getTime()).to.be.at.least(14 * DAY_MS);
    });
  });

  it('applies an upgrade at once and a downgrade at the period end', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, send, settle }) => {
      await send('checkout.session.completed');
      await settle('active', (s) => s.plan === 'premium');
      await env.sleep('10 days');
      fake.truth.sub!.plan = 'pro';
      await send('customer.subscription.updated');
      await settle('pro now', (s) => s.plan === 'pro');
      expect(fake.acts.grantPlanCredits.lastCall.args[0]).to.include({ plan: 'pro', reason: 'upgraded to pro' });

      fake.truth.sub!.plan = 'premium';
      await send('customer.subscription.updated');
      const scheduled = await settle('downgrade pending', (s) => s.pendingPlan === 'premium');
      expect(scheduled.plan).to.equal('pro');
      expect(scheduled.nextDeadline).to.deep.include({ kind: 'periodEnd', at: fake.truth.sub!.currentPeriodEnd });
      await env.sleep('15 days');
      await settle('still pro before the period end', (s) => s.plan === 'pro');
      await env.sleep('6 days');
      await settle('premium after the period end', (s) => s.plan === 'premium' && s.pendingPlan === null);
      expect(emailSubjects(fake.acts)).to.deep.equal(['Your Premium plan is active', 'Upgraded to Pro', 'Plan change to Premium scheduled', 'Your plan is now Premium']);
    });
  });

  it('cancels at the period end: the plan stays until then, then free and the workflow ends', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, handle, send, settle }) => {
      await send('checkout.session.completed');
      await settle('active', (s) => s.status === 'active');
      fake.truth.sub!.cancelAtPeriodEnd = true;
      await send('customer.subscription.updated');
      const canceling = await settle('cancel scheduled', (s) => s.cancelAtPeriodEnd);
      expect(canceling).to.include({ status: 'active', plan: 'premium', pendingPlan: 'free' });
      // At the period end Stripe deletes the subscription.
      await env.sleep('29 days');
      await settle('still premium', (s) => s.plan === 'premium');
      fake.truth.sub!.stripeStatus = 'canceled';
      const final = await handle.result();
      expect(final).to.include({ status: 'expired', plan: 'free' });
      expect(lastPlan(fake.acts)).to.equal('free');
      expect(emailSubjects(fake.acts)).to.deep.equal(['Your Premium plan is active', 'Your subscription will end', 'Your subscription has ended']);
      expect(fake.acts.cancelStripeSubscription.called).to.equal(false);
    });
  });

  it('treats customer.subscription.deleted mid-period as canceled with the plan kept until the period end', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, handle, send, settle }) => {
      await send('checkout.session.completed');
      await settle('active', (s) => s.status === 'active');
      fake.truth.sub!.stripeStatus = 'canceled';
      await send('customer.subscription.deleted');
      const canceled = await settle('canceled', (s) => s.status === 'canceled');
      expect(canceled).to.include({ plan: 'premium', pendingPlan: 'free' });
      expect(await handle.result()).to.include({ status: 'expired', plan: 'free' });
    });
  });

  it('ignores duplicate deliveries of the same event and converges on repeated truths', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, send, settle }) => {
      await send('checkout.session.completed', 'evt_dup');
      await send('checkout.session.completed', 'evt_dup');
      await settle('active', (s) => s.status === 'active');
      await send('checkout.session.completed', 'evt_dup');
      await send('customer.subscription.created', 'evt_other');
      await settle('both applied', (s) => s.eventsApplied === 2);
      expect(fake.acts.fetchStripeSubscription.callCount).to.equal(2);
      expect(fake.acts.grantPlanCredits.callCount).to.equal(1);
      expect(fake.acts.applyEntitlements.callCount).to.equal(1);
      expect(emailSubjects(fake.acts)).to.deep.equal(['Your Premium plan is active']);
    });
  });

  it('handles invoice.paid arriving before checkout.session.completed', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, send, settle }) => {
      await send('invoice.paid');
      await settle('active from the invoice', (s) => s.status === 'active' && s.plan === 'premium');
      await send('checkout.session.completed');
      await settle('checkout applied', (s) => s.eventsApplied === 2);
      expect(fake.acts.fetchStripeSubscription.getCalls().map((c) => c.args[0].type)).to.deep.equal(['invoice.paid', 'checkout.session.completed']);
      expect(fake.acts.grantPlanCredits.callCount).to.equal(1);
      expect(emailSubjects(fake.acts)).to.deep.equal(['Your Premium plan is active']);
    });
  });

  it('sends a trial-ending reminder once, and starts paid credits when the trial converts', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, send, settle }) => {
      const sub = fake.truth.sub!;
      sub.stripeStatus = 'trialing';
      sub.trialEnd = sub.currentPeriodEnd;
      await send('customer.subscription.created');
      await settle('trialing', (s) => s.status === 'trialing' && s.plan === 'premium');
      await send('customer.subscription.trial_will_end', 'evt_trial');
      await send('customer.subscription.trial_will_end', 'evt_trial');
      await settle('reminded', () => fake.acts.sendEmail.callCount === 2);
      fake.renew();
      sub.stripeStatus = 'active';
      await send('invoice.paid');
      await settle('active', (s) => s.status === 'active');
      expect(emailSubjects(fake.acts)).to.deep.equal(['Your Premium plan is active', 'Your trial ends soon']);
      expect(fake.acts.grantPlanCredits.callCount).to.equal(2);
    });
  });

  it('keeps every timer when emails fail for good: dunning and the grace downgrade still happen', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, handle, send, settle }) => {
      // Resend rejects the address (non-retryable), on every message.
      fake.acts.sendEmail.rejects(ApplicationFailure.nonRetryable('invalid `to` address', 'PermanentEmailError'));
      fake.acts.notifyInApp.rejects(ApplicationFailure.nonRetryable('notifications table unavailable', 'Boom'));
      await send('checkout.session.completed');
      await settle('active despite the failed activation email', (s) => s.status === 'active' && s.plan === 'premium');
      expect(fake.acts.grantPlanCredits.callCount).to.equal(1);
      fake.renew();
      fake.truth.sub!.stripeStatus = 'past_due';
      await send('invoice.payment_failed');
      await settle('past due', (s) => s.status === 'past_due' && s.dunningSent.includes(0));
      const final = await handle.result();
      expect(final).to.include({ status: 'expired', plan: 'free' });
      expect(fake.acts.cancelStripeSubscription.calledOnceWith({ subscriptionId: 'sub_1' })).to.equal(true);
      // Every message was attempted (and failed) once: activation, days 0/3/7, the downgrade.
      expect(emailSubjects(fake.acts)).to.deep.equal([
        'Your Premium plan is active',
        'Your payment failed',
        'Reminder: your payment is still outstanding (day 3)',
        'Reminder: your payment is still outstanding (day 7)',
        'Your plan was downgraded to Free',
      ]);
    });
  });

  it('carries on when the user no longer exists (entitlements not found): the state still follows Stripe', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, send, settle }) => {
      fake.acts.applyEntitlements.rejects(ApplicationFailure.nonRetryable('user u1 not found', 'NotFound'));
      await send('checkout.session.completed');
      await settle('active', (s) => s.status === 'active' && s.plan === 'premium');
      fake.truth.sub!.cancelAtPeriodEnd = true;
      await send('customer.subscription.updated');
      await settle('cancel scheduled', (s) => s.pendingPlan === 'free');
      expect(fake.acts.applyEntitlements.callCount).to.equal(2);
    });
  });

  it('skips an event Stripe refuses for good (4xx) and keeps applying later events and timers', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, handle, send, settle }) => {
      await send('checkout.session.completed');
      await settle('active', (s) => s.status === 'active');
      fake.acts.fetchStripeSubscription.withArgs(sinon.match({ type: 'invoice.paid' })).rejects(ApplicationFailure.nonRetryable('Stripe refused to read the invoice (400): No such invoice', 'StripeRejected'));
      await send('invoice.paid');
      await settle('refused event skipped', (s) => s.eventsApplied === 2);
      fake.truth.sub!.cancelAtPeriodEnd = true;
      await send('customer.subscription.updated');
      await settle('later event applied', (s) => s.pendingPlan === 'free' && s.eventsApplied === 3);
      // The period-end timer still runs.
      expect(await handle.result()).to.include({ status: 'expired', plan: 'free' });
    });
  });

  it('restarted without a carried state: loads the stored row, so a failed payment neither downgrades nor restarts the grace period', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, send, settle }) => {
      const sub = fake.truth.sub!;
      const since = new Date(new Date(sub.currentPeriodStart).getTime() - 3 * DAY_MS).toISOString();
      const stored: SubscriptionState = {
        ...initialSubscriptionState('u1'),
        status: 'past_due',
        plan: 'pro',
        interval: 'month',
        subscriptionId: 'sub_1',
        customerId: 'cus_1',
        currentPeriodStart: sub.currentPeriodStart,
        currentPeriodEnd: sub.currentPeriodEnd,
        pastDueSince: since,
      };
      fake.acts.loadSubscriptionState.resolves(stored);
      sub.plan = 'pro';
      sub.stripeStatus = 'past_due';
      await send('invoice.payment_failed');
      const state = await settle('still past due on pro', (s) => s.status === 'past_due' && s.dunningSent.includes(3));
      expect(fake.acts.loadSubscriptionState.calledOnceWith({ userId: 'u1' })).to.equal(true);
      expect(state).to.include({ plan: 'pro', pastDueSince: since });
      expect(state.nextDeadline).to.deep.include({ kind: 'dunning', day: 7 });
      // The grace period runs from the first failure, not from the restart.
      expect(new Date(since).getTime() + 14 * DAY_MS).to.be.greaterThan(await env.currentTimeMs());
      expect(fake.acts.applyEntitlements.getCalls().every((c) => c.args[0].plan === 'pro')).to.equal(true);
      // Days 0 and 3 were due already: re-sent with the same keys (the outbox makes them no-ops).
      await until('the day-3 email', async () => fake.acts.sendEmail.callCount === 2);
      expect(fake.acts.sendEmail.getCalls().map((c) => c.args[0].key)).to.deep.equal([`billing:dunning:sub_1:${since}:0`, `billing:dunning:sub_1:${since}:3`]);
      await recover(fake, send, settle);
    });
  });

  it('restarted with no stored row: a failed payment keeps the plan Stripe bills for', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, send, settle }) => {
      fake.truth.sub!.stripeStatus = 'past_due';
      await send('invoice.payment_failed');
      // (Waits for the day-0 email too: a scenario must not end with an activity in flight.)
      const state = await settle('past due', (s) => s.status === 'past_due' && s.dunningSent.includes(0));
      expect(state.plan).to.equal('premium');
      expect(lastPlan(fake.acts)).to.equal('premium');
      await recover(fake, send, settle);
    });
  });

  it('continues-as-new when the period-end timer finds the renewal (no webhook), applying the pending downgrade', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, handle, send, settle }) => {
      fake.truth.sub!.plan = 'pro';
      await send('checkout.session.completed');
      await settle('pro', (s) => s.plan === 'pro');
      fake.truth.sub!.plan = 'premium';
      await send('customer.subscription.updated');
      await settle('downgrade pending', (s) => s.pendingPlan === 'premium');
      const firstRun = (await handle.describe()).runId;
      // Stripe renews on premium; the renewal webhook is lost.
      fake.renew();
      await env.sleep('29 days');
      await settle('still pro before the period end', (s) => s.plan === 'pro' && s.pendingPlan === 'premium');
      expect((await handle.describe()).runId).to.equal(firstRun);
      await env.sleep('2 days');
      await until('a new run', async () => (await handle.describe()).runId !== firstRun);
      const state = await settle('premium in the new period', (s) => s.plan === 'premium');
      expect(state).to.include({ pendingPlan: null, currentPeriodStart: fake.truth.sub!.currentPeriodStart });
      expect((await env.client.workflow.getHandle(handle.workflowId, firstRun).describe()).status.name).to.equal('CONTINUED_AS_NEW');
      expect(emailSubjects(fake.acts).filter((t) => t === 'Your plan is now Premium')).to.have.length(1);
    });
  });

  it('carries a signal that arrives while a renewal is applied into the continued-as-new run, applied once', async function () {
    this.timeout(60_000);
    await scenario(async ({ fake, handle, send, settle }) => {
      await send('checkout.session.completed');
      await settle('active', (s) => s.status === 'active');
      const firstRun = (await handle.describe()).runId;
      // Hold the renewal's Stripe read until a second event has arrived.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      fake.acts.fetchStripeSubscription.callsFake(async (input) => {
        const now = fake.truth.sub ? { ...fake.truth.sub } : null;
        if (input.type === 'invoice.paid') await gate;
        return now;
      });
      fake.renew();
      await send('invoice.paid');
      await until('the renewal is being applied', async () => fake.acts.fetchStripeSubscription.calledWithMatch({ type: 'invoice.paid' }));
      fake.truth.sub!.cancelAtPeriodEnd = true;
      await send('customer.subscription.updated', 'evt_during_can');
      await until('the second event is queued', async () => (await handle.query(stateQuery)).pendingEvents === 2);
      release();
      await until('a new run', async () => (await handle.describe()).runId !== firstRun);
      const state = await settle('the carried event applied in the new run', (s) => s.cancelAtPeriodEnd && s.eventsApplied === 1);
      expect(state).to.include({ pendingPlan: 'free', currentPeriodStart: fake.truth.sub!.currentPeriodStart });
      expect(fake.acts.fetchStripeSubscription.getCalls().map((c) => c.args[0].type)).to.deep.equal(['checkout.session.completed', 'invoice.paid', 'customer.subscription.updated']);
      expect(emailSubjects(fake.acts)).to.deep.equal(['Your Premium plan is active', 'Your subscription will end']);
    });
  });
});

describe('billingReconcile (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('pages through the subscriptions, signals every drifted user once, and reports the counts', async () => {
    type R = Pick<BillingActivities, 'findBillingDrift' | 'findUntrackedSubscriptions'> & BillingSignalActivities;
    const drift = (userId: string): BillingDrift => ({ userId, subscriptionId: `sub_${userId}`, reason: 'status active locally, past_due at Stripe' });
    const findBillingDrift = sinon.stub<Parameters<R['findBillingDrift']>, ReturnType<R['findBillingDrift']>>();
    findBillingDrift.onFirstCall().resolves({ drifts: [drift('a')], checked: 2, nextCursor: 'row-2' });
    findBillingDrift.onSecondCall().resolves({ drifts: [], checked: 2, nextCursor: 'row-4' });
    findBillingDrift.onThirdCall().resolves({ drifts: [drift('b'), drift('c')], checked: 1, nextCursor: null });
    const findUntrackedSubscriptions = sinon.stub<Parameters<R['findUntrackedSubscriptions']>, ReturnType<R['findUntrackedSubscriptions']>>().resolves([drift('d')]);
    const signalSubscriptionWorkflows = sinon
      .stub<Parameters<R['signalSubscriptionWorkflows']>, ReturnType<R['signalSubscriptionWorkflows']>>()
      .callsFake(async ({ drifts }) => ({ signalled: drifts.length }));
    const taskQueue = uniqueQueue('reconcile');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { findBillingDrift, findUntrackedSubscriptions, signalSubscriptionWorkflows },
    });
    const result = await worker.runUntil(env.client.workflow.execute(billingReconcile, { taskQueue, workflowId: `billing-reconcile-${taskQueue}`, args: [{ pageSize: 2 }] }));
    expect(result).to.deep.equal({ checked: 5, drifted: 4, signalled: 4 });
    expect(findBillingDrift.getCalls().map((c) => c.args[0])).to.deep.equal([
      { cursor: null, limit: 2 },
      { cursor: 'row-2', limit: 2 },
      { cursor: 'row-4', limit: 2 },
    ]);
    const signalled = signalSubscriptionWorkflows.getCalls().flatMap((c) => c.args[0].drifts.map((d) => d.userId));
    expect(signalled).to.deep.equal(['a', 'b', 'c', 'd']);
    const runKeys = new Set(signalSubscriptionWorkflows.getCalls().map((c) => c.args[0].runKey));
    expect(runKeys.size).to.equal(1);
  });
});
