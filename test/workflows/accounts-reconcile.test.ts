import { expect } from 'chai';
import sinon from 'sinon';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { accountsReconcile } from '../../workflows/accounts/accountsReconcile';
import { grantFreePlanCredits } from '../../workflows/accounts/grantFreePlanCredits';
import { welcomeWorkflowId } from '../../workflows/ids';
import { TaskQueue } from '../../workflows/queues';
import { createTimeSkippingEnv, workflowBundle } from '../support/temporal-env';

describe('accountsReconcile (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('starts the missing welcome workflows once: a second pass skips users whose welcome already ran', async () => {
    const sendWelcomeEmail = sinon.stub().resolves({ status: 'sent', outboxId: 'o' });
    const acts = {
      findUsersMissingWelcome: sinon.stub().resolves(['u-a', 'u-b']),
      sendWelcomeEmail,
      notifyInApp: sinon.stub().resolves({ notificationId: 'n', created: true }),
    };
    // The children run on the accounts queue, so this worker polls it.
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TaskQueue.accounts, workflowBundle: await workflowBundle(), activities: acts });
    await worker.runUntil(async () => {
      const first = await env.client.workflow.execute(accountsReconcile, { taskQueue: TaskQueue.accounts, workflowId: 'reconcile-1', args: [{}] });
      expect(first).to.deep.equal({ checked: 2, started: 2 });
      for (const id of ['u-a', 'u-b']) expect(await env.client.workflow.getHandle(welcomeWorkflowId(id)).result()).to.deep.equal({ emailed: true });
      const second = await env.client.workflow.execute(accountsReconcile, { taskQueue: TaskQueue.accounts, workflowId: 'reconcile-2', args: [{}] });
      expect(second).to.deep.equal({ checked: 2, started: 0 });
    });
    expect(sendWelcomeEmail.callCount).to.equal(2);
    expect(acts.findUsersMissingWelcome.firstCall.args[0]).to.deep.equal({ olderThanMinutes: 10, withinDays: 7, limit: 500 });
  });
});

describe('grantFreePlanCredits (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('pages through free users with the period of the run, until a short page', async () => {
    const batch = sinon.stub();
    batch.onFirstCall().resolves({ granted: 2, lastId: 'u2' });
    batch.onSecondCall().resolves({ granted: 1, lastId: null });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: 'free-credits', workflowBundle: await workflowBundle(), activities: { grantFreePlanCreditsBatch: batch } });
    const result = await worker.runUntil(
      env.client.workflow.execute(grantFreePlanCredits, { taskQueue: 'free-credits', workflowId: 'free-credits-1', args: [{ period: '2026-12', pageSize: 2 }] }),
    );
    expect(result).to.deep.equal({ period: '2026-12', granted: 3 });
    expect(batch.firstCall.args[0]).to.deep.equal({ period: '2026-12', afterId: null, limit: 2 });
    expect(batch.secondCall.args[0]).to.deep.equal({ period: '2026-12', afterId: 'u2', limit: 2 });
  });
});
