import { expect } from 'chai';
import sinon from 'sinon';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, ActivityFailure } from '@temporalio/client';
import { welcomeWorkflow } from '../../workflows/accounts/welcome';
import { createTimeSkippingEnv, uniqueQueue, workflowBundle } from '../support/temporal-env';
import { ErrorType } from '../../domain/errors';

describe('welcomeWorkflow (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  function activities(overrides: Record<string, sinon.SinonStub> = {}) {
    return {
      sendWelcomeEmail: sinon.stub().resolves({ status: 'sent', outboxId: 'o1' }),
      notifyInApp: sinon.stub().resolves({ notificationId: 'n1', created: true }),
      ...overrides,
    };
  }

  async function run(acts: ReturnType<typeof activities>) {
    const taskQueue = uniqueQueue('welcome');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: acts });
    return worker.runUntil(env.client.workflow.execute(welcomeWorkflow, { taskQueue, workflowId: `welcome-${taskQueue}`, args: [{ userId: 'u1' }] }));
  }

  it('emails the user once by their id only (the activity reads address and name), then adds an in-app notification', async () => {
    const acts = activities();
    expect(await run(acts)).to.deep.equal({ emailed: true });
    expect(acts.sendWelcomeEmail.calledOnce).to.equal(true);
    expect(acts.sendWelcomeEmail.firstCall.args[0]).to.deep.equal({ userId: 'u1' });
    expect(acts.notifyInApp.calledOnceWith(sinon.match({ key: 'welcome:u1', kind: 'welcome', title: 'Welcome to Horse Tempo' }))).to.equal(true);
    sinon.assert.callOrder(acts.sendWelcomeEmail, acts.notifyInApp);
  });

  it('retries a flaky email provider and still sends exactly one email call that succeeds', async () => {
    const sendWelcomeEmail = sinon.stub();
    sendWelcomeEmail.onFirstCall().rejects(new Error('provider 503'));
    sendWelcomeEmail.onSecondCall().resolves({ status: 'sent', outboxId: 'o1' });
    const acts = activities({ sendWelcomeEmail });
    expect(await run(acts)).to.deep.equal({ emailed: true });
    expect(sendWelcomeEmail.callCount).to.equal(2);
  });

  it('fails without an in-app notice when the user does not exist (non-retryable NotFound)', async () => {
    const acts = activities({ sendWelcomeEmail: sinon.stub().rejects(ApplicationFailure.nonRetryable('user u1 not found', ErrorType.NotFound)) });
    const err = await run(acts).catch((e) => e);
    expect(err).to.be.instanceOf(WorkflowFailedError);
    expect(err.cause).to.be.instanceOf(ActivityFailure);
    expect(err.cause.cause).to.be.instanceOf(ApplicationFailure);
    expect(err.cause.cause.type).to.equal(ErrorType.NotFound);
    expect(acts.sendWelcomeEmail.callCount).to.equal(1);
    expect(acts.notifyInApp.called).to.equal(false);
  });
});
