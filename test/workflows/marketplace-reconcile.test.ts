import { expect } from 'chai';
import sinon from 'sinon';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { marketplaceReconcile } from '../../workflows/marketplace/marketplaceReconcile';
import type { ListingNotice } from '../../activities/marketplace';
import { createTimeSkippingEnv, uniqueQueue, workflowBundle } from '../support/temporal-env';

const notice = (id: string, over: Partial<ListingNotice> = {}): ListingNotice => ({
  listingId: id,
  title: `Listing ${id}`,
  status: 'expired',
  publication: 2,
  expiresAt: '2026-11-01T10:00:00.000Z',
  ownerId: `owner-${id}`,
  ownerEmail: `${id}@example.test`,
  ownerFirstName: 'Ada',
  ...over,
});

describe('marketplaceReconcile (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  function activities(over: Record<string, unknown> = {}) {
    return {
      expireOverdueListings: sinon.stub().resolves([notice('l1'), notice('l2', { ownerEmail: null, ownerFirstName: null }), notice('l3')]),
      startMissingListingWorkflows: sinon.stub().resolves({ checked: 4, started: ['l7'] }),
      sendEmail: sinon.stub().resolves({ status: 'sent', outboxId: 'o' }),
      notifyInApp: sinon.stub().resolves({ notificationId: 'n', created: true }),
      ...over,
    };
  }

  async function run(acts: ReturnType<typeof activities>, args: Parameters<typeof marketplaceReconcile> = [{}]) {
    const taskQueue = uniqueQueue('reconcile-listings');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: acts });
    return worker.runUntil(env.client.workflow.execute(marketplaceReconcile, { taskQueue, workflowId: `reconcile-${taskQueue}`, args }));
  }

  it('expires the overdue listings, tells their owners with the lifecycle keys, then starts the missing workflows', async () => {
    const acts = activities();
    const result = await run(acts);
    expect(result).to.deep.equal({ expired: ['l1', 'l2', 'l3'], checked: 4, started: ['l7'] });
    expect(acts.expireOverdueListings.firstCall.args[0]).to.deep.equal({ graceMinutes: 5, limit: 100 });
    expect(acts.startMissingListingWorkflows.firstCall.args[0]).to.deep.equal({ olderThanMinutes: 10, withinDays: 7, limit: 100 });
    // l2's owner is gone: no notice for it.
    expect(acts.sendEmail.getCalls().map((c) => c.args[0])).to.deep.equal([
      {
        key: 'listing-expired:l1:2',
        userId: 'owner-l1',
        to: 'l1@example.test',
        subject: 'Your listing "Listing l1" has expired',
        text: acts.sendEmail.firstCall.args[0].text,
      },
      {
        key: 'listing-expired:l3:2',
        userId: 'owner-l3',
        to: 'l3@example.test',
        subject: 'Your listing "Listing l3" has expired',
        text: acts.sendEmail.secondCall.args[0].text,
      },
    ]);
    expect(acts.sendEmail.firstCall.args[0].text).to.contain('Hello Ada');
    expect(acts.notifyInApp.getCalls().map((c) => [c.args[0].key, c.args[0].kind])).to.deep.equal([
      ['listing-expired:l1:2', 'listing.expired'],
      ['listing-expired:l3:2', 'listing.expired'],
    ]);
  });

  it('carries on past a bounced address and a failing in-app notice: every listing is handled and the missing workflows still start', async () => {
    const sendEmail = sinon.stub();
    sendEmail.onFirstCall().rejects(ApplicationFailure.nonRetryable('address bounced', 'EmailBounced'));
    sendEmail.resolves({ status: 'sent', outboxId: 'o' });
    const notifyInApp = sinon.stub().rejects(new Error('notifications table unavailable'));
    const acts = activities({ sendEmail, notifyInApp });
    const result = await run(acts);
    expect(result).to.deep.equal({ expired: ['l1', 'l2', 'l3'], checked: 4, started: ['l7'] });
    expect(sendEmail.getCalls().map((c) => c.args[0].key)).to.deep.equal(['listing-expired:l1:2', 'listing-expired:l3:2']);
    expect(notifyInApp.callCount).to.equal(10); // 5 attempts for each of l1 and l3
    expect(acts.startMissingListingWorkflows.calledOnce).to.equal(true);
  });

  it('retries the expiry sweep (idempotent) until the database answers', async () => {
    const expireOverdueListings = sinon.stub();
    for (let i = 0; i < 12; i += 1) expireOverdueListings.onCall(i).rejects(new Error('connection refused'));
    expireOverdueListings.resolves([]);
    const acts = activities({ expireOverdueListings });
    const result = await run(acts, [{ graceMinutes: 1, olderThanMinutes: 3, withinDays: 2, limit: 10 }]);
    expect(result).to.deep.equal({ expired: [], checked: 4, started: ['l7'] });
    expect(expireOverdueListings.callCount).to.equal(13);
    expect(expireOverdueListings.firstCall.args[0]).to.deep.equal({ graceMinutes: 1, limit: 10 });
    expect(acts.startMissingListingWorkflows.firstCall.args[0]).to.deep.equal({ olderThanMinutes: 3, withinDays: 2, limit: 10 });
    expect(acts.sendEmail.called).to.equal(false);
  });
});
