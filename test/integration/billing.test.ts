import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import Stripe from 'stripe';
import { startTestStack, TEST_BILLING, type TestStack } from '../support/stack';
import { useTestStack } from '../support/use-test-stack';
import { apiClient, eventually, registerUser, type ApiClient } from '../support/http';
import { testTemporal } from '../support/infra';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import type { StripeMock } from '../../scripts/standins/stripe-mock';
import { BILLING_RECONCILE_SCHEDULE_ID, billingReconcileSchedule, ensureSchedule } from '../../workers/schedules';
import { billingReconcile } from '../../workflows/billing/billingReconcile';
import { TaskQueue } from '../../workflows/queues';

const DAY_S = 86_400;

/** A Stripe subscription object as the API returns it (what the workflow re-fetches). */
function subscriptionObject(o: { id: string; customer: string; status?: string; price?: string; start: number; days?: number; cancelAtPeriodEnd?: boolean }) {
  const end = o.start + (o.days ?? 30) * DAY_S;
  return {
    id: o.id,
    object: 'subscription',
    customer: o.customer,
    status: o.status ?? 'active',
    cancel_at_period_end: o.cancelAtPeriodEnd ?? false,
    trial_end: null,
    start_date: o.start,
    metadata: {},
    items: {
      object: 'list',
      data: [{ id: `si_${o.id}`, object: 'subscription_item', current_period_start: o.start, current_period_end: end, price: { id: o.price ?? TEST_BILLING.STRIPE_PRICE_PREMIUM_MONTHLY, object: 'price', recurring: { interval: 'month' } } }],
    },
  };
}

describe('billing through the HTTP API (stripe-mock, signed webhooks)', () => {
  let mock: StripeMock;

  // STRIPE_PRICE_PRO_YEARLY is left unset on purpose (503 naming it).
  const { stack, api } = useTestStack({ billing: true, env: { STRIPE_PRICE_PRO_YEARLY: '' }, queues: [TaskQueue.accounts, TaskQueue.billing] });
  before(async () => {
    mock = stack.stripeMock!;
  });

  const event = (type: string, object: object, id = `evt_${randomUUID()}`) => ({
    id,
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    api_version: Stripe.API_VERSION,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object },
  });
  function deliver(body: object, opts: { secret?: string; timestamp?: number; signature?: string | null } = {}) {
    const payload = JSON.stringify(body);
    const header = opts.signature !== undefined ? opts.signature : Stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? TEST_BILLING.STRIPE_WEBHOOK_SECRET, timestamp: opts.timestamp });
    return api.call('POST', '/api/billing/webhook', { raw: payload, headers: { 'content-type': 'application/json', ...(header ? { 'stripe-signature': header } : {}) } });
  }
  const customerOf = async (userId: string) => (await stack.orm.em.fork().getConnection().execute('select stripe_customer_id from users where id = ?', [userId]))[0].stripe_customer_id as string | null;
  const count = async (sql: string, params: unknown[]) => Number((await stack.orm.em.fork().getConnection().execute(sql, params))[0].n);

  /** A user who went through checkout, with Stripe's truth pinned on stripe-mock. */
  async function checkedOut(plan = 'premium') {
    const reg = await registerUser(api);
    const checkout = await api.post('/api/billing/checkout', { plan, interval: 'month' }, reg.accessToken);
    expect(checkout.status, JSON.stringify(checkout.body)).to.equal(200);
    const customer = (await customerOf(reg.user.id))!;
    const subId = `sub_${randomUUID().slice(0, 8)}`;
    const start = Math.floor(Date.now() / 1000);
    const sub = subscriptionObject({ id: subId, customer, start });
    mock.setObject(`/v1/subscriptions/${subId}`, sub);
    const session = { id: checkout.body.sessionId, object: 'checkout.session', mode: 'subscription', status: 'complete', customer, subscription: subId, client_reference_id: reg.user.id, metadata: { userId: reg.user.id } };
    mock.setObject(`/v1/checkout/sessions/${checkout.body.sessionId}`, session);
    return { reg, checkout: checkout.body, customer, subId, start, sub, session };
  }

  const subscriptionOf = (token: string) => api.get('/api/billing/subscription', token);
  /** Pins what Stripe lists for one customer (what checkout's "already subscribed" guard reads). */
  const listFor = (customer: string, data: object[]) => mock.setObject(`/v1/subscriptions?customer=${customer}`, { object: 'list', url: '/v1/subscriptions', has_more: false, data });
  const activate = async (c: Awaited<ReturnType<typeof checkedOut>>) => {
    await deliver(event('checkout.session.completed', c.session));
    // pendingEvents counts the event in progress: 0 once its credits and messages are done too.
    await eventually(async () => {
      const state = (await subscriptionOf(c.reg.accessToken)).body.workflow.state;
      return state?.status === 'active' && state.pendingEvents === 0;
    }, 30_000, 'active');
  };

  it('checkout → signed webhook → the workflow applies the plan: GET /api/billing/subscription shows it, credits reset', async function () {
    this.timeout(60_000);
    const before = mock.requests.length;
    const { reg, checkout, customer, session, start } = await checkedOut();
    expect(checkout.url).to.match(/^https:\/\//);
    expect(checkout).to.include({ plan: 'premium', interval: 'month' });
    const calls = mock.requests.slice(before);
    const created = calls.find((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions')!;
    const form = new URLSearchParams(created.body);
    expect(form.get('line_items[0][price]')).to.equal(TEST_BILLING.STRIPE_PRICE_PREMIUM_MONTHLY);
    expect(form.get('client_reference_id')).to.equal(reg.user.id);
    expect(form.get('customer')).to.equal(customer);
    expect(form.get('subscription_data[metadata][plan]')).to.equal('premium');

    const pending = await subscriptionOf(reg.accessToken);
    expect(pending.body).to.deep.include({ plan: 'free', status: 'none', checkout: { plan: 'premium', interval: 'month', sessionId: checkout.sessionId } });

    const res = await deliver(event('checkout.session.completed', session));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.deep.equal({ received: true });

    const view = await eventually(async () => {
      const r = await subscriptionOf(reg.accessToken);
      // The period grant is the workflow's next activity after the state turns active.
      return r.body.status === 'active' && r.body.workflow.state?.status === 'active' && r.body.credits?.balance === 30 ? r.body : null;
    }, 30_000, 'the subscription to become active with its period credits');
    expect(view).to.deep.include({ plan: 'premium', interval: 'month', cancelAtPeriodEnd: false, pendingPlan: null });
    expect(view.currentPeriodEnd).to.equal(new Date((start + 30 * DAY_S) * 1000).toISOString());
    expect(view.credits).to.deep.equal({ balance: 30, reserved: 0 });
    expect(view.entitlements).to.deep.equal({ monthlyAnalysisCredits: 30, maxActiveListings: 10, listingDurationDays: 60 });
    expect(view.workflow.workflowId).to.equal(`subscription-${reg.user.id}`);
    expect((await api.get('/api/auth/me', reg.accessToken)).body.plan).to.equal('premium');
    await eventually(async () => stack.resend.emails.some((m) => m.to.includes(reg.email) && m.subject === 'Your Premium plan is active'), 20_000, 'the activation email');

    // Already subscribed (Stripe lists the live subscription): the portal is the way to change plans.
    listFor(customer, [subscriptionObject({ id: session.subscription, customer, start })]);
    const again = await api.post('/api/billing/checkout', { plan: 'pro', interval: 'month' }, reg.accessToken);
    expect(again.status).to.equal(409);
    expect(again.body.message).to.match(/Already subscribed.*customer portal/);
    expect(again.body.details).to.deep.include({ portal: '/api/billing/portal', status: 'active', plan: 'premium' });
    const portalCalls = mock.requests.length;
    const portal = await api.post('/api/billing/portal', undefined, reg.accessToken);
    expect(portal.status).to.equal(200);
    expect(portal.body.url).to.be.a('string').and.match(/^https?:\/\//);
    const sessionCall = mock.requests.slice(portalCalls).find((r) => r.path === '/v1/billing_portal/sessions')!;
    expect(new URLSearchParams(sessionCall.body).get('customer')).to.equal(customer);
    // The portal runs with our configuration: plan changes invoiced at once, downgrades at the period end.
    const configuration = new URLSearchParams(sessionCall.body).get('configuration');
    expect(configuration).to.match(/^bpc_/);
    // Only this stack's requests: stripe-mock is shared by the run (the contract fuzz test's stack calls it too).
    const ours = () => mock.requests.slice(before);
    const portalConfig = new URLSearchParams(ours().find((r) => r.method === 'POST' && r.path === '/v1/billing_portal/configurations')!.body);
    expect(portalConfig.get('features[subscription_update][enabled]')).to.equal('true');
    expect(portalConfig.get('features[subscription_update][proration_behavior]')).to.equal('always_invoice');
    expect(portalConfig.get('features[subscription_update][schedule_at_period_end][conditions][0][type]')).to.equal('decreasing_item_amount');
    expect(portalConfig.get('features[subscription_update][schedule_at_period_end][conditions][1][type]')).to.equal('shortening_interval');
    expect(portalConfig.getAll('features[subscription_update][products][0][prices][0]')).to.have.length(1);
    expect(portalConfig.get('features[subscription_cancel][mode]')).to.equal('at_period_end');
    // Resolved once per process.
    expect((await api.post('/api/billing/portal', undefined, reg.accessToken)).status).to.equal(200);
    expect(ours().filter((r) => r.method === 'POST' && r.path === '/v1/billing_portal/configurations')).to.have.length(1);
  });

  it('creates the Stripe customer once per user and remembers it; a second checkout asks Stripe and is refused while a subscription is live or incomplete', async () => {
    const reg = await registerUser(api);
    const before = mock.requests.length;
    expect((await api.post('/api/billing/checkout', { plan: 'premium', interval: 'month' }, reg.accessToken)).status).to.equal(200);
    const first = (await customerOf(reg.user.id))!;
    // The first checkout was abandoned: Stripe has no subscription for the customer.
    listFor(first, []);
    expect((await api.post('/api/billing/checkout', { plan: 'pro', interval: 'month' }, reg.accessToken)).status).to.equal(200);
    expect(await customerOf(reg.user.id)).to.equal(first);
    expect(mock.requests.slice(before).filter((r) => r.method === 'POST' && r.path === '/v1/customers')).to.have.length(1);
    const listed = mock.requests.slice(before).filter((r) => r.method === 'GET' && r.path === '/v1/subscriptions');
    expect(listed).to.have.length(1);
    // The second one completed but its first payment is pending (3-D Secure): no webhook has
    // touched our row yet, Stripe's list is what counts.
    const start = Math.floor(Date.now() / 1000);
    listFor(first, [subscriptionObject({ id: 'sub_incomplete', customer: first, start, status: 'incomplete', price: TEST_BILLING.STRIPE_PRICE_PRO_MONTHLY })]);
    const third = await api.post('/api/billing/checkout', { plan: 'premium', interval: 'month' }, reg.accessToken);
    expect(third.status).to.equal(409);
    expect(third.body.message).to.match(/Already subscribed.*customer portal.*\(POST \/api\/billing\/portal\)/);
    expect(third.body.details).to.deep.include({ portal: '/api/billing/portal', subscriptionId: 'sub_incomplete', status: 'incomplete', plan: 'pro' });
    expect(await count('select count(*) as n from subscriptions where user_id = ? and status = ?', [reg.user.id, 'none'])).to.equal(1);
  });

  it('answers a redelivered event 200 duplicate without signalling twice', async function () {
    this.timeout(60_000);
    const { reg, session } = await checkedOut();
    const evt = event('checkout.session.completed', session);
    expect((await deliver(evt)).body).to.deep.equal({ received: true });
    const dup = await deliver(evt);
    expect(dup.status).to.equal(200);
    expect(dup.body).to.deep.equal({ received: true, duplicate: true });
    expect(await count('select count(*) as n from stripe_events where event_id = ?', [evt.id])).to.equal(1);
    await eventually(async () => {
      const r = await subscriptionOf(reg.accessToken);
      return r.body.workflow.state?.status === 'active' && r.body.workflow.state.pendingEvents === 0 ? r.body : null;
    }, 30_000, 'active');
    // The workflow dedupes event ids too, so count what reached Temporal: one signal.
    const history = await (await stack.temporal.client()).workflow.getHandle(`subscription-${reg.user.id}`).fetchHistory();
    const signals = history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes);
    expect(signals).to.have.length(1);
    expect(JSON.stringify(signals[0].workflowExecutionSignaledEventAttributes!.signalName)).to.equal('"stripeEvent"');
  });

  it('signals once when Stripe redelivers the same event concurrently: one answer received, the others duplicate', async function () {
    this.timeout(60_000);
    const { reg, session } = await checkedOut();
    const evt = event('checkout.session.completed', session);
    const answers = await Promise.all(Array.from({ length: 6 }, () => deliver(evt)));
    expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.duplicate === true)).to.have.length(5);
    expect(answers.filter((a) => a.body.duplicate === undefined && a.body.received === true)).to.have.length(1);
    const history = await (await stack.temporal.client()).workflow.getHandle(`subscription-${reg.user.id}`).fetchHistory();
    expect(history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes)).to.have.length(1);
  });

  it('records an event for an unknown customer unsignalled (ignored); once the customer is known, a redelivery signals it once', async function () {
    this.timeout(60_000);
    const c = await checkedOut();
    const conn = stack.orm.em.fork().getConnection();
    await conn.execute('update users set stripe_customer_id = null where id = ?', [c.reg.user.id]);
    const evt = event('checkout.session.completed', { ...c.session, client_reference_id: null, metadata: {} });
    const first = await deliver(evt);
    expect(first.status).to.equal(200);
    expect(first.body).to.deep.equal({ received: true, ignored: 'no user for this customer' });
    expect(await count('select count(*) as n from stripe_events where event_id = ? and user_id is null and signalled_at is null', [evt.id])).to.equal(1);

    await conn.execute('update users set stripe_customer_id = ? where id = ?', [c.customer, c.reg.user.id]);
    expect((await deliver(evt)).body).to.deep.equal({ received: true });
    expect((await deliver(evt)).body).to.deep.equal({ received: true, duplicate: true });
    expect(await count('select count(*) as n from stripe_events where event_id = ? and user_id = ? and signalled_at is not null', [evt.id, c.reg.user.id])).to.equal(1);
    const history = await (await stack.temporal.client()).workflow.getHandle(`subscription-${c.reg.user.id}`).fetchHistory();
    expect(history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes)).to.have.length(1);
  });

  it('keeps quotes and backslashes in Stripe ids intact (the claim writes them as SQL literals) and signals their user once', async function () {
    this.timeout(60_000);
    const reg = await registerUser(api);
    const conn = stack.orm.em.fork().getConnection();
    const customer = `cus_it's\\${randomUUID().slice(0, 6)}'); delete from users; --`;
    await conn.execute('update users set stripe_customer_id = ? where id = ?', [customer, reg.user.id]);
    const objectId = `sub_o'k\\'${randomUUID().slice(0, 6)}`;
    const evt = event('customer.subscription.updated', { id: objectId, object: 'subscription', customer }, `evt_q'\\${randomUUID()}`);
    expect((await deliver(evt)).body).to.deep.equal({ received: true });
    expect((await deliver(evt)).body).to.deep.equal({ received: true, duplicate: true });
    const rows = await conn.execute('select event_id, object_id, user_id, signalled_at from stripe_events where event_id = ?', [evt.id]);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ event_id: evt.id, object_id: objectId, user_id: reg.user.id });
    expect(rows[0].signalled_at).to.not.equal(null);
    expect(await count('select count(*) as n from users where id = ?', [reg.user.id])).to.equal(1);
    const history = await (await stack.temporal.client()).workflow.getHandle(`subscription-${reg.user.id}`).fetchHistory();
    expect(history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes)).to.have.length(1);

    // A user id on the object that is not a UUID never reaches the statement: no user, recorded unsignalled.
    const stranger = event('checkout.session.completed', { id: 'cs_x', object: 'checkout.session', customer: null, client_reference_id: "x'::uuid or true --", metadata: { userId: reg.user.id.slice(1) } });
    expect((await deliver(stranger)).body).to.deep.equal({ received: true, ignored: 'no user for this customer' });
    expect(await count('select count(*) as n from stripe_events where event_id = ? and user_id is null and signalled_at is null', [stranger.id])).to.equal(1);
  });

  it('handles invoice.paid before checkout.session.completed: active once, credits granted once', async function () {
    this.timeout(60_000);
    const { reg, customer, subId, session } = await checkedOut();
    const invoiceId = `in_${randomUUID().slice(0, 8)}`;
    const invoice = { id: invoiceId, object: 'invoice', customer, status: 'paid', parent: { type: 'subscription_details', subscription_details: { subscription: subId, metadata: {} } } };
    mock.setObject(`/v1/invoices/${invoiceId}`, invoice);
    expect((await deliver(event('invoice.paid', invoice))).status).to.equal(200);
    await eventually(async () => (await subscriptionOf(reg.accessToken)).body.status === 'active', 30_000, 'active from the invoice');
    expect((await deliver(event('checkout.session.completed', session))).status).to.equal(200);
    await eventually(async () => (await subscriptionOf(reg.accessToken)).body.workflow.state?.eventsApplied === 2, 30_000, 'both events applied');
    // The signup grant, then exactly one for the paid period.
    expect(await count("select count(*) as n from credit_transactions where user_id = ? and kind = 'grant' and key <> 'grant:' || ? || ':signup'", [reg.user.id, reg.user.id])).to.equal(1);
    expect((await subscriptionOf(reg.accessToken)).body.credits.balance).to.equal(30);
  });

  it('cancels at the period end through Stripe; the webhook then shows the pending downgrade', async function () {
    this.timeout(60_000);
    const { reg, customer, subId, session, start } = await checkedOut();
    await deliver(event('checkout.session.completed', session));
    await eventually(async () => (await subscriptionOf(reg.accessToken)).body.status === 'active', 30_000, 'active');

    const cancel = await api.post('/api/billing/cancel', undefined, reg.accessToken);
    expect(cancel.status, JSON.stringify(cancel.body)).to.equal(202);
    expect(cancel.body.cancelAtPeriodEnd).to.equal(true);
    const update = mock.requests.find((r) => r.method === 'POST' && r.path === `/v1/subscriptions/${subId}`)!;
    expect(new URLSearchParams(update.body).get('cancel_at_period_end')).to.equal('true');
    // Nothing changes locally until Stripe says so.
    expect((await subscriptionOf(reg.accessToken)).body.cancelAtPeriodEnd).to.equal(false);

    const canceled = subscriptionObject({ id: subId, customer, start, cancelAtPeriodEnd: true });
    mock.setObject(`/v1/subscriptions/${subId}`, canceled);
    await deliver(event('customer.subscription.updated', canceled));
    const view = await eventually(async () => {
      const r = await subscriptionOf(reg.accessToken);
      return r.body.cancelAtPeriodEnd ? r.body : null;
    }, 30_000, 'cancel at period end');
    expect(view).to.deep.include({ plan: 'premium', status: 'active', pendingPlan: 'free' });
  });

  it('POST /cancel always reaches Stripe, even when the local row already says so, and answers from Stripe’s reply', async function () {
    this.timeout(60_000);
    const c = await checkedOut();
    await activate(c);
    // The row says "cancel at period end" but Stripe never got it (e.g. a write that did not go through).
    await stack.orm.em.fork().getConnection().execute('update subscriptions set cancel_at_period_end = true where user_id = ?', [c.reg.user.id]);
    const before = mock.requests.length;
    const cancel = await api.post('/api/billing/cancel', undefined, c.reg.accessToken);
    expect(cancel.status, JSON.stringify(cancel.body)).to.equal(202);
    const update = mock.requests.slice(before).find((r) => r.method === 'POST' && r.path === `/v1/subscriptions/${c.subId}`);
    expect(update, 'the cancellation request to Stripe').to.not.equal(undefined);
    expect(new URLSearchParams(update!.body).get('cancel_at_period_end')).to.equal('true');
    // stripe-mock's reply (a fixture) carries its own period: the answer is Stripe's, not the row's.
    expect(cancel.body.cancelAtPeriodEnd).to.equal(true);
    expect(cancel.body.currentPeriodEnd).to.not.equal(new Date((c.start + 30 * DAY_S) * 1000).toISOString());
  });

  it('an upgrade adds the difference of the allowances on top of what is left, once; it does not reset the balance', async function () {
    this.timeout(60_000);
    const c = await checkedOut();
    await activate(c);
    expect((await subscriptionOf(c.reg.accessToken)).body.credits.balance).to.equal(30);
    // 25 of the 30 premium credits spent.
    await stack.orm.em.fork().getConnection().execute('update credit_accounts set balance = 5 where user_id = ?', [c.reg.user.id]);
    const pro = subscriptionObject({ id: c.subId, customer: c.customer, start: c.start, price: TEST_BILLING.STRIPE_PRICE_PRO_MONTHLY });
    mock.setObject(`/v1/subscriptions/${c.subId}`, pro);
    await deliver(event('customer.subscription.updated', pro));
    await eventually(async () => (await subscriptionOf(c.reg.accessToken)).body.plan === 'pro', 30_000, 'pro');
    // A second update about the same plan (e.g. a metadata change) adds nothing.
    await deliver(event('customer.subscription.updated', pro));
    await eventually(async () => {
      const state = (await subscriptionOf(c.reg.accessToken)).body.workflow.state;
      return state?.eventsApplied === 3 && state.pendingEvents === 0;
    }, 30_000, 'both updates applied');
    expect((await subscriptionOf(c.reg.accessToken)).body.credits.balance).to.equal(5 + 150 - 30);
    expect(await count("select count(*) as n from credit_transactions where user_id = ? and key like 'upgrade:%'", [c.reg.user.id])).to.equal(1);
  });

  it('a workflow restarted after its run was terminated picks up the stored subscription: a failed payment keeps the plan', async function () {
    this.timeout(60_000);
    const c = await checkedOut();
    await activate(c);
    const client = await stack.temporal.client();
    await client.workflow.getHandle(`subscription-${c.reg.user.id}`).terminate('ops: stuck run');
    const invoiceId = `in_${randomUUID().slice(0, 8)}`;
    const invoice = { id: invoiceId, object: 'invoice', customer: c.customer, status: 'open', parent: { type: 'subscription_details', subscription_details: { subscription: c.subId, metadata: {} } } };
    mock.setObject(`/v1/invoices/${invoiceId}`, invoice);
    mock.setObject(`/v1/subscriptions/${c.subId}`, subscriptionObject({ id: c.subId, customer: c.customer, start: c.start, status: 'past_due' }));
    expect((await deliver(event('invoice.payment_failed', invoice))).status).to.equal(200);
    const view = await eventually(async () => {
      const r = await subscriptionOf(c.reg.accessToken);
      return r.body.workflow.state?.status === 'past_due' && r.body.workflow.state.pendingEvents === 0 ? r.body : null;
    }, 30_000, 'past_due in the new run');
    expect(view.plan).to.equal('premium');
    expect(view.workflow.state.plan).to.equal('premium');
    expect(view.workflow.state.subscriptionId).to.equal(c.subId);
  });

  it('reconciles a subscription Stripe has and we do not (trialing, checkout webhook lost): the user’s workflow converges', async function () {
    this.timeout(90_000);
    const c = await checkedOut();
    const trialing = { ...subscriptionObject({ id: c.subId, customer: c.customer, start: c.start, status: 'trialing' }), trial_end: c.start + 14 * DAY_S };
    mock.setObject(`/v1/subscriptions/${c.subId}`, trialing);
    mock.setObject('/v1/subscriptions?status=trialing', { object: 'list', url: '/v1/subscriptions', has_more: false, data: [trialing] });
    const client = await stack.temporal.client();
    const result = await client.workflow.execute(billingReconcile, { taskQueue: TaskQueue.billing, workflowId: `billing-reconcile-test-${randomUUID()}`, args: [{ pageSize: 50 }] });
    expect(result.signalled).to.be.at.least(1);
    const view = await eventually(async () => {
      const r = await subscriptionOf(c.reg.accessToken);
      return r.body.status === 'trialing' ? r.body : null;
    }, 30_000, 'trialing after reconcile');
    expect(view.plan).to.equal('premium');
    mock.setObject('/v1/subscriptions?status=trialing', { object: 'list', url: '/v1/subscriptions', has_more: false, data: [] });
  });

  it('reconciles a missed webhook: the nightly workflow finds the drift and the subscription converges', async function () {
    this.timeout(90_000);
    const { reg, customer, subId, session, start } = await checkedOut();
    await deliver(event('checkout.session.completed', session));
    await eventually(async () => (await subscriptionOf(reg.accessToken)).body.status === 'active', 30_000, 'active');
    // Stripe moved to past_due, and the webhook never arrived.
    mock.setObject(`/v1/subscriptions/${subId}`, subscriptionObject({ id: subId, customer, start, status: 'past_due' }));
    mock.setObject('/v1/subscriptions', { object: 'list', url: '/v1/subscriptions', has_more: false, data: [] });
    const client = await stack.temporal.client();
    const result = await client.workflow.execute(billingReconcile, { taskQueue: TaskQueue.billing, workflowId: `billing-reconcile-test-${randomUUID()}`, args: [{ pageSize: 50 }] });
    expect(result.signalled).to.be.at.least(1);
    const view = await eventually(async () => {
      const r = await subscriptionOf(reg.accessToken);
      return r.body.status === 'past_due' ? r.body : null;
    }, 30_000, 'past_due after reconcile');
    expect(view.plan).to.equal('premium');
    expect(view.pastDueSince).to.be.a('string');
    await eventually(async () => stack.resend.emails.some((m) => m.to.includes(reg.email) && m.subject === 'Your payment failed'), 20_000, 'the day-0 dunning email');
  });

  it('creates the billing-reconcile Schedule idempotently (create, then update)', async () => {
    const client = await stack.temporal.client();
    await client.schedule.getHandle(BILLING_RECONCILE_SCHEDULE_ID).delete().catch(() => {});
    expect(await ensureSchedule(client, billingReconcileSchedule('15 2 * * *'))).to.equal('created');
    expect(await ensureSchedule(client, billingReconcileSchedule('45 4 * * *'))).to.equal('updated');
    const described = await client.schedule.getHandle(BILLING_RECONCILE_SCHEDULE_ID).describe();
    expect(described.action).to.include({ type: 'startWorkflow', workflowType: 'billingReconcile', taskQueue: TaskQueue.billing });
    expect(JSON.stringify(described.spec)).to.contain('"hour":[{"start":4');
    await client.schedule.getHandle(BILLING_RECONCILE_SCHEDULE_ID).delete();
  });

  it('rejects bad and stale signatures with 401, a missing one with 400, and records nothing; ignores unknown event types with 2xx', async () => {
    const evt = event('invoice.paid', { id: 'in_x', object: 'invoice', customer: 'cus_x' });
    const wrong = await deliver(evt, { secret: 'whsec_someone_else' });
    expect(wrong.status).to.equal(401);
    expect(wrong.body.message).to.match(/Invalid Stripe signature/);
    const stale = await deliver(evt, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect(stale.status).to.equal(401);
    expect(stale.body.message).to.match(/tolerance/);
    const missing = await deliver(evt, { signature: null });
    expect(missing.status).to.equal(400);
    expect(missing.body.message).to.match(/Missing Stripe-Signature/);
    const tampered = JSON.stringify(evt).replace('cus_x', 'cus_y');
    const header = Stripe.webhooks.generateTestHeaderString({ payload: JSON.stringify(evt), secret: TEST_BILLING.STRIPE_WEBHOOK_SECRET });
    expect((await api.call('POST', '/api/billing/webhook', { raw: tampered, headers: { 'stripe-signature': header, 'content-type': 'application/json' } })).status).to.equal(401);
    expect(await count('select count(*) as n from stripe_events where event_id = ?', [evt.id])).to.equal(0);

    const unknown = await deliver(event('charge.refunded', { id: 'ch_1', object: 'charge' }));
    expect(unknown.status).to.equal(200);
    expect(unknown.body).to.deep.equal({ received: true, ignored: 'event type not handled' });
  });

  it('rejects an unknown plan or interval with 400 naming the field, and a plan without a price id with 503 naming the setting', async () => {
    const reg = await registerUser(api);
    const before = mock.requests.length;
    const gold = await api.post('/api/billing/checkout', { plan: 'gold', interval: 'month' }, reg.accessToken);
    expect(gold.status).to.equal(400);
    expect(gold.body.details[0]).to.include({ location: 'body', field: 'plan' });
    expect(gold.body.message).to.match(/premium, pro/);
    const free = await api.post('/api/billing/checkout', { plan: 'free', interval: 'month' }, reg.accessToken);
    expect(free.status).to.equal(400);
    const week = await api.post('/api/billing/checkout', { plan: 'premium', interval: 'week' }, reg.accessToken);
    expect(week.status).to.equal(400);
    expect(week.body.details[0].field).to.equal('interval');
    const extra = await api.post('/api/billing/checkout', { plan: 'premium', interval: 'month', coupon: 'X' }, reg.accessToken);
    expect(extra.status).to.equal(400);
    const noPrice = await api.post('/api/billing/checkout', { plan: 'pro', interval: 'year' }, reg.accessToken);
    expect(noPrice.status).to.equal(503);
    expect(noPrice.body.message).to.equal('Billing is not configured: set STRIPE_PRICE_PRO_YEARLY');
    // Nothing half-applied: no Stripe call, no customer, no subscription row.
    expect(mock.requests.slice(before)).to.deep.equal([]);
    expect(await customerOf(reg.user.id)).to.equal(null);
    expect(await count('select count(*) as n from subscriptions where user_id = ?', [reg.user.id])).to.equal(0);
    expect((await api.post('/api/billing/cancel', undefined, reg.accessToken)).status).to.equal(409);
    expect((await api.post('/api/billing/portal', undefined, reg.accessToken)).status).to.equal(409);
    expect((await api.post('/api/billing/checkout', { plan: 'premium', interval: 'month' })).status).to.equal(401);
  });

  describe('when billing is not configured', () => {
    const { api: bareApi } = useTestStack({ workers: false, startTimeoutMs: 120_000 });

    it('answers 503 naming the missing setting, and still shows the free plan', async () => {
      const reg = await registerUser(bareApi);
      for (const path of ['/api/billing/portal', '/api/billing/cancel', '/api/billing/subscription/refresh']) {
        const r = await bareApi.post(path, undefined, reg.accessToken);
        expect(r.status, path).to.equal(503);
        expect(r.body.message, path).to.equal('Billing is not configured: set STRIPE_SECRET_KEY');
      }
      const checkout = await bareApi.post('/api/billing/checkout', { plan: 'premium', interval: 'month' }, reg.accessToken);
      expect(checkout.status).to.equal(503);
      expect(checkout.body.message).to.match(/^Billing is not configured: set STRIPE_SECRET_KEY, STRIPE_PRICE_PREMIUM_MONTHLY$/);
      const hook = await bareApi.call('POST', '/api/billing/webhook', { raw: '{}', headers: { 'stripe-signature': 't=1,v1=x', 'content-type': 'application/json' } });
      expect(hook.status).to.equal(503);
      expect(hook.body.message).to.equal('Billing is not configured: set STRIPE_WEBHOOK_SECRET');
      // The old webhook path is a deprecated alias served by the same route.
      const legacyHook = await bareApi.call('POST', '/api/webhooks/stripe', { raw: '{}', headers: { 'stripe-signature': 't=1,v1=x', 'content-type': 'application/json' } });
      expect(legacyHook.status).to.equal(503);
      expect(legacyHook.body.message).to.equal('Billing is not configured: set STRIPE_WEBHOOK_SECRET');
      expect(legacyHook.headers.get('deprecation')).to.match(/^@\d+$/);
      expect(legacyHook.headers.get('link')).to.equal('</api/billing/webhook>; rel="successor-version"');
      const view = await bareApi.get('/api/billing/subscription', reg.accessToken);
      expect(view.status).to.equal(200);
      expect(view.body).to.deep.include({ plan: 'free', status: 'none', billing: { configured: false, missingSettings: ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'] } });
      expect(view.body.credits.balance).to.equal(3);
    });
  });

  describe('with a small per-address /api rate limit', () => {
    const { api: limitedApi } = useTestStack({ workers: false, billing: true, env: { RATE_LIMIT_MAX: '2' }, startTimeoutMs: 120_000 });

    it('answers every Stripe delivery (its few sending addresses carry all customers\' events) while other /api calls from the address get 429', async () => {
      const answers = [];
      for (let i = 0; i < 4; i++) {
        const payload = JSON.stringify(event('customer.subscription.updated', { id: `sub_rl_${i}`, object: 'subscription', customer: `cus_rl_${randomUUID()}` }));
        const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: TEST_BILLING.STRIPE_WEBHOOK_SECRET });
        answers.push(await limitedApi.call('POST', '/api/billing/webhook', { raw: payload, headers: { 'content-type': 'application/json', 'stripe-signature': signature } }));
      }
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200]);
      expect(answers[0].headers.get('x-request-id')).to.be.a('string');
      const others = [];
      for (let i = 0; i < 3; i++) others.push((await limitedApi.get('/api/billing/subscription')).status);
      expect(others).to.deep.equal([401, 401, 429]);
    });
  });

  describe('when Temporal refuses the signal', () => {
    let cut: TestStack;
    let cutApi: ApiClient;
    let proxy: TcpProxy;
    before(async function () {
      this.timeout(120_000);
      const [host, port] = (await testTemporal()).address.split(':');
      proxy = await startTcpProxy({ host, port: Number(port) });
      cut = await startTestStack({ workers: false, billing: true, env: { TEMPORAL_ADDRESS: `127.0.0.1:${proxy.port}`, TEMPORAL_RPC_TIMEOUT_SECONDS: '2' } });
      cutApi = apiClient(cut.baseUrl);
    });
    after(async () => {
      await proxy?.forward();
      await cut?.close();
      await proxy?.close();
    });

    it('answers 503 and records nothing, so Stripe\'s retry signals the event once Temporal is back', async function () {
      this.timeout(60_000);
      const reg = await registerUser(cutApi);
      const customer = `cus_cut_${randomUUID().slice(0, 8)}`;
      const conn = cut.orm.em.fork().getConnection();
      await conn.execute('update users set stripe_customer_id = ? where id = ?', [customer, reg.user.id]);
      const evt = event('customer.subscription.updated', { id: `sub_${customer}`, object: 'subscription', customer });
      const payload = JSON.stringify(evt);
      const post = () =>
        cutApi.call('POST', '/api/billing/webhook', {
          raw: payload,
          headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: TEST_BILLING.STRIPE_WEBHOOK_SECRET }) },
        });
      const eventRows = async () => Number((await conn.execute('select count(*) as n from stripe_events where event_id = ?', [evt.id]))[0].n);

      await proxy.refuse();
      const refused = await post();
      expect(refused.status, JSON.stringify(refused.body)).to.equal(503);
      expect(refused.body.message).to.match(/retry later/);
      expect(await eventRows()).to.equal(0);

      await proxy.forward();
      const retried = await eventually(async () => {
        const res = await post();
        return res.status === 200 ? res : null;
      }, 30_000, 'the retry to be accepted');
      expect(retried.body).to.deep.equal({ received: true });
      expect(await eventRows()).to.equal(1);
      const history = await (await cut.temporal.client()).workflow.getHandle(`subscription-${reg.user.id}`).fetchHistory();
      expect(history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes)).to.have.length(1);
    });
  });
});
