import { expect } from 'chai';
import sinon from 'sinon';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { marketplaceReconcile } from '../../workflows/marketplace/marketplaceReconcile';
import { createTimeSkippingEnv, uniqueQueue, workflowBundle } from '../support/temporal-env';

const expired = (id: string) => ({ listingId: id, publication: 2 });
const sent = { outcome: 'sent', recipients: ['u1'], channels: ['email', 'in_app'] };

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
      expireOverdueListings: sinon.stub().resolves([expired('l1'), expired('l2'), expired('l3')]),
      startMissingListingWorkflows: sinon.stub().resolves({ checked: 4, started: ['l7'] }),
      sendListingExpiredNotice: sinon.stub().resolves(sent),
      ...over,
    };
  }

  async function run(acts: ReturnType<typeof activities>, args: Parameters<typeof marketplaceReconcile> = [{}]) {
    const taskQueue = uniqueQueue('reconcile-listings');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: acts });
    return worker.runUntil(env.client.workflow.execute(marketplaceReconcile, { taskQueue, workflowId: `reconcile-${taskQueue}`, args }));
  }

  it('expires the overdue listings, asks for each notice by ids only, then starts the missing workflows', async () => {
    const acts = activities();
    const result = await run(acts);
    expect(result).to.deep.equal({ expired: ['l1', 'l2', 'l3'], checked: 4, started: ['l7'] });
    expect(acts.expireOverdueListings.firstCall.args[0]).to.deep.equal({ graceMinutes: 5, limit: 100 });
    expect(acts.startMissingListingWorkflows.firstCall.args[0]).to.deep.equal({ olderThanMinutes: 10, withinDays: 7, limit: 100 });
    // The notice activity reads title and recipients itself: nothing personal goes through the workflow.
    expect(acts.sendListingExpiredNotice.getCalls().map((c) => c.args[0])).to.deep.equal([expired('l1'), expired('l2'), expired('l3')]);
  });

  it('carries on past notices that fail for good or keep failing: every listing is handled and the missing workflows still start', async () => {
    const sendListingExpiredNotice = sinon.stub();
    sendListingExpiredNotice.withArgs(sinon.match({ listingId: 'l1' })).rejects(ApplicationFailure.nonRetryable('address bounced', 'EmailBounced'));
    sendListingExpiredNotice.withArgs(sinon.match({ listingId: 'l2' })).rejects(new Error('notifications table unavailable'));
    sendListingExpiredNotice.resolves(sent);
    const acts = activities({ sendListingExpiredNotice });
    const result = await run(acts);
    expect(result).to.deep.equal({ expired: ['l1', 'l2', 'l3'], checked: 4, started: ['l7'] });
    const calls = sendListingExpiredNotice.getCalls().map((c) => c.args[0].listingId);
    // l1 once (non-retryable), l2 five attempts, l3 once.
    expect(calls).to.deep.equal(['l1', 'l2', 'l2', 'l2', 'l2', 'l2', 'l3']);
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
    expect(acts.sendListingExpiredNotice.called).to.equal(false);
  });
});
