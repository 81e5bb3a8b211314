import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import sinon from 'sinon';
import type { Logger } from 'pino';
import { ApplicationFailure } from '@temporalio/common';
import { testDatabase } from '../support/infra';
import { createOrm, type MikroORM } from '../../entities/orm';
import { User } from '../../entities';
import { loadConfig } from '../../config';
import { createBillingActivities } from '../../activities/billing';

/**
 * The billing workflow re-fetches a subscription by an id it was handed (event, session,
 * stored state). A subscription billed to someone else's Stripe customer must never decide
 * this user's plan: otherwise one paying customer's subscription id upgrades anyone.
 */
describe('billing: a re-fetched subscription must belong to the user’s own Stripe customer (real Postgres, fake Stripe)', () => {
  let orm: MikroORM;
  const config = loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_PRICE_PREMIUM_MONTHLY: 'price_pm' });
  const subscription = (customer: string) => ({
    id: 'sub_paid',
    object: 'subscription',
    customer,
    status: 'active',
    cancel_at_period_end: false,
    trial_end: null,
    start_date: 1767225600,
    metadata: {},
    items: { data: [{ price: { id: 'price_pm', recurring: { interval: 'month' } }, current_period_start: 1767225600, current_period_end: 1769904000 }] },
  });
  before(async function () {
    this.timeout(120_000);
    orm = await createOrm({ databaseUrl: (await testDatabase()).url });
  });
  after(async () => {
    await orm?.close();
  });

  async function userWithCustomer(customer: string | null) {
    const em = orm.em.fork();
    const user = em.create(User, { email: `own.${randomUUID()}@example.test`, passwordHash: 'x', firstName: 'O', lastName: 'W', stripeCustomerId: customer });
    await em.flush();
    return user.id;
  }
  const activities = (stripe: object) =>
    createBillingActivities({ orm, config, stripe: stripe as never, logger: { info: sinon.spy(), warn: sinon.spy(), error: sinon.spy() } as unknown as Logger });

  it('given a subscription id billed to another customer, refuses it (non-retryable) instead of returning its plan', async () => {
    const userId = await userWithCustomer(`cus_${randomUUID()}`);
    const acts = activities({ subscriptions: { retrieve: sinon.stub().resolves(subscription('cus_someone_else')) } });
    const err = await acts.fetchStripeSubscription({ userId, type: 'customer.subscription.updated', objectId: 'sub_paid', knownSubscriptionId: null }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ApplicationFailure);
    expect(err).to.include({ nonRetryable: true, type: 'StripeRejected' });
    expect((err as Error).message).to.match(/billed to customer cus_someone_else/);
  });

  it('given a user with no Stripe customer yet, refuses any subscription', async () => {
    const userId = await userWithCustomer(null);
    const acts = activities({ subscriptions: { retrieve: sinon.stub().resolves(subscription('cus_x')) } });
    const err = await acts.fetchStripeSubscription({ userId, type: 'reconcile', objectId: 'sub_paid', knownSubscriptionId: 'sub_paid' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ApplicationFailure);
  });

  it('given the user’s own subscription, returns its snapshot', async () => {
    const customer = `cus_${randomUUID()}`;
    const userId = await userWithCustomer(customer);
    const acts = activities({ subscriptions: { retrieve: sinon.stub().resolves(subscription(customer)) } });
    const snap = await acts.fetchStripeSubscription({ userId, type: 'customer.subscription.updated', objectId: 'sub_paid', knownSubscriptionId: null });
    expect(snap).to.include({ subscriptionId: 'sub_paid', customerId: customer, plan: 'premium' });
  });
});
