import { expect } from 'chai';
import sinon from 'sinon';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import { listingLifecycle } from '../../workflows/marketplace/listingLifecycle';
import type { ListingLifecycleInput } from '../../workflows/marketplace/messages';
import { renewedSignal, soldSignal, statusQuery, withdrawnSignal } from '../../workflows/marketplace/messages';
import type { ExpireListingResult, ListingNotice } from '../../activities/marketplace';
import type { ListingStatus } from '../../domain/listings';
import { addDays, DAY_MS } from '../../domain/time';
import { createTimeSkippingEnv, uniqueQueue, workflowBundle } from '../support/temporal-env';
import { waitFor } from '../support/wait';

/**
 * The activities run against a fake listing row: the test changes the row the way the
 * API would (then signals), and the stubs read and write it like the real activities.
 */
function fakeListing(expiresAt: Date, clock: () => Promise<number>) {
  const row = { status: 'active' as ListingStatus, publication: 1, expiresAt, title: 'Bay mare, 7, dressage' };
  const notice = (): ListingNotice => ({
    listingId: 'l1',
    title: row.title,
    status: row.status,
    publication: row.publication,
    expiresAt: row.expiresAt.toISOString(),
    ownerId: 'u1',
    ownerEmail: 'ada@example.test',
    ownerFirstName: 'Ada',
  });
  const acts = {
    getListingNotice: sinon.spy(async (_id: string) => notice()),
    expireListing: sinon.spy(async ({ publication }: { listingId: string; publication: number }): Promise<ExpireListingResult> => {
      if (row.status === 'active' && row.publication === publication && row.expiresAt.getTime() <= (await clock()) + 5000) row.status = 'expired';
      if (row.status === 'expired') return { outcome: 'expired', notice: notice() };
      if (row.status === 'active') return { outcome: 'active', publication: row.publication, expiresAt: row.expiresAt.toISOString() };
      return { outcome: 'ended', status: row.status };
    }),
    sendEmail: sinon.spy(async (_req: { key: string; subject: string; text: string }) => ({ status: 'sent' as const, outboxId: 'o1' })),
    notifyInApp: sinon.spy(async (_req: { key: string; kind: string }) => ({ notificationId: 'n1', created: true })),
  };
  return { row, acts };
}

const emailsOfKind = (spy: sinon.SinonSpy, prefix: string) => spy.getCalls().filter((c) => c.args[0].key.startsWith(prefix)).map((c) => c.args[0]);

describe('listingLifecycle (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function setup(durationDays = 30, reminderDays = 3, wrap: (acts: ReturnType<typeof fakeListing>['acts']) => object = (a) => a) {
    const start = await env.currentTimeMs();
    const expiresAt = addDays(new Date(start), durationDays);
    // The activities see the test server's skipped clock, as the database would in production.
    const fake = fakeListing(expiresAt, () => env.currentTimeMs());
    const taskQueue = uniqueQueue('listing');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: wrap(fake.acts) });
    const workflowId = `listing-${taskQueue}`;
    const input: ListingLifecycleInput = { listingId: 'l1', publication: 1, expiresAt: expiresAt.toISOString(), reminderDays };
    return { ...fake, start, expiresAt, worker, taskQueue, workflowId, input };
  }

  it('expires the listing at expiresAt, not before, and tells the owner once by email and in-app', async () => {
    const t = await setup(30, 3);
    await t.worker.runUntil(async () => {
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      await env.sleep(29 * DAY_MS + 23 * 3_600_000);
      expect((await handle.query(statusQuery)).status).to.equal('active');
      expect(t.acts.expireListing.called).to.equal(false);
      await env.sleep(2 * 3_600_000);
      const result = await handle.result();
      expect(result).to.deep.equal({ listingId: 'l1', status: 'expired', publication: 1, renewals: 0 });
    });
    expect(t.row.status).to.equal('expired');
    const expired = emailsOfKind(t.acts.sendEmail, 'listing-expired:');
    expect(expired).to.have.length(1);
    expect(expired[0]).to.include({ key: 'listing-expired:l1:1', to: 'ada@example.test', subject: 'Your listing "Bay mare, 7, dressage" has expired' });
    expect(t.acts.notifyInApp.getCalls().map((c) => c.args[0].kind)).to.deep.equal(['listing.expiring', 'listing.expired']);
  });

  it('sends the expiring-soon reminder once, 3 days before expiry', async () => {
    const t = await setup(30, 3);
    await t.worker.runUntil(async () => {
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      await env.sleep(26 * DAY_MS + 23 * 3_600_000);
      expect(emailsOfKind(t.acts.sendEmail, 'listing-reminder:')).to.have.length(0);
      await env.sleep(2 * 3_600_000);
      const status = await handle.query(statusQuery);
      expect(status.reminderSent).to.equal(true);
      expect(status.reminderAt).to.equal(new Date(t.expiresAt.getTime() - 3 * DAY_MS).toISOString());
      await handle.result();
    });
    const reminders = emailsOfKind(t.acts.sendEmail, 'listing-reminder:');
    expect(reminders).to.have.length(1);
    expect(reminders[0].key).to.equal(`listing-reminder:l1:1:${t.expiresAt.toISOString()}`);
    expect(reminders[0].subject).to.equal('Your listing "Bay mare, 7, dressage" expires in 3 days');
  });

  it('uses the configured reminder lead and sends none with a lead of 0', async () => {
    const t = await setup(30, 0);
    await t.worker.runUntil(async () => {
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      await env.sleep(31 * DAY_MS);
      expect((await handle.result()).status).to.equal('expired');
    });
    expect(emailsOfKind(t.acts.sendEmail, 'listing-reminder:')).to.have.length(0);
    expect(emailsOfKind(t.acts.sendEmail, 'listing-expired:')).to.have.length(1);
  });

  it('moves both timers on renewal: a new reminder before the new expiry, expiry at the new date', async () => {
    const t = await setup(30, 3);
    await t.worker.runUntil(async () => {
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      await env.sleep(28 * DAY_MS); // the first reminder went out on day 27
      expect(emailsOfKind(t.acts.sendEmail, 'listing-reminder:')).to.have.length(1);
      // The API renews the row (now + 30 days), then signals.
      const renewedTo = addDays(new Date(await env.currentTimeMs()), 30);
      t.row.expiresAt = renewedTo;
      await handle.signal(renewedSignal, { publication: 1, expiresAt: renewedTo.toISOString() });
      const status = await handle.query(statusQuery);
      expect(status).to.include({ status: 'active', expiresAt: renewedTo.toISOString(), reminderSent: false, renewals: 1 });

      await env.sleep(5 * DAY_MS); // past the old expiry (day 30): still active
      expect((await handle.query(statusQuery)).status).to.equal('active');
      expect(t.acts.expireListing.called).to.equal(false);
      expect(t.row.status).to.equal('active');

      await env.sleep(25 * DAY_MS + 3_600_000); // past the new expiry (day 58)
      expect(await handle.result()).to.deep.equal({ listingId: 'l1', status: 'expired', publication: 1, renewals: 1 });
    });
    const reminders = emailsOfKind(t.acts.sendEmail, 'listing-reminder:');
    expect(reminders.map((r) => r.key)).to.deep.equal([
      `listing-reminder:l1:1:${t.expiresAt.toISOString()}`,
      `listing-reminder:l1:1:${t.row.expiresAt.toISOString()}`,
    ]);
    expect(t.acts.expireListing.callCount).to.equal(1);
  });

  for (const [name, signal, final] of [
    ['sold', soldSignal, 'sold'],
    ['withdrawn', withdrawnSignal, 'withdrawn'],
  ] as const) {
    it(`ends cleanly when ${name} before expiry: no expiry, no notice`, async () => {
      const t = await setup(30, 3);
      await t.worker.runUntil(async () => {
        const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
        await env.sleep(10 * DAY_MS);
        t.row.status = final;
        await handle.signal(signal);
        expect(await handle.result()).to.deep.equal({ listingId: 'l1', status: final, publication: 1, renewals: 0 });
      });
      expect(t.acts.expireListing.called).to.equal(false);
      expect(t.acts.sendEmail.called).to.equal(false);
      expect(t.acts.notifyInApp.called).to.equal(false);
      expect(t.row.status).to.equal(final);
    });
  }

  it('does not expire a listing renewed in the database whose signal never arrived: it re-arms from the row', async () => {
    const t = await setup(30, 0);
    await t.worker.runUntil(async () => {
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      await env.sleep(20 * DAY_MS);
      t.row.expiresAt = addDays(new Date(await env.currentTimeMs()), 30); // renewed; signal lost
      await env.sleep(11 * DAY_MS);
      const status = await handle.query(statusQuery);
      expect(status).to.include({ status: 'active', expiresAt: t.row.expiresAt.toISOString(), renewals: 1 });
      expect(t.row.status).to.equal('active');
      await env.sleep(20 * DAY_MS);
      expect((await handle.result()).status).to.equal('expired');
    });
    expect(t.acts.expireListing.callCount).to.equal(2);
  });

  it('renewing after expiry republishes: a new run (same id) watches the next publication', async () => {
    const t = await setup(30, 3);
    await t.worker.runUntil(async () => {
      const first = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      await env.sleep(31 * DAY_MS);
      expect((await first.result()).status).to.equal('expired');

      // What the API does on renew after expiry: the row becomes active (publication 2), then signalWithStart.
      const expiresAt = addDays(new Date(await env.currentTimeMs()), 30);
      Object.assign(t.row, { status: 'active', publication: 2, expiresAt });
      const next = { publication: 2, expiresAt: expiresAt.toISOString() };
      const second = await env.client.workflow.signalWithStart(listingLifecycle, {
        taskQueue: t.taskQueue,
        workflowId: t.workflowId,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        args: [{ ...t.input, ...next }],
        signal: renewedSignal,
        signalArgs: [next],
      });
      expect(second.signaledRunId).to.not.equal(first.firstExecutionRunId);
      const status = await second.query(statusQuery);
      expect(status).to.include({ status: 'active', publication: 2, expiresAt: expiresAt.toISOString() });
      await env.sleep(31 * DAY_MS);
      expect(await second.result()).to.deep.include({ status: 'expired', publication: 2 });
    });
    expect(emailsOfKind(t.acts.sendEmail, 'listing-expired:').map((e) => e.key)).to.deep.equal(['listing-expired:l1:1', 'listing-expired:l1:2']);
  });

  it('a renewal that reaches a run still finishing its expiry continues into the new publication', async () => {
    // Hold the expiry email until the renewal has been signalled.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = sinon.spy();
    const t = await setup(30, 0, (acts) => ({
      ...acts,
      sendEmail: async (req: { key: string; subject: string; text: string }) => {
        held();
        await gate;
        return acts.sendEmail(req);
      },
    }));
    await t.worker.runUntil(async () => {
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      // Awaiting the result lets the server skip time; it stops skipping while the email is held.
      const result = handle.result();
      await waitFor('the held activity to be called', () => held.called);
      expect((await handle.query(statusQuery)).status).to.equal('expired');
      const expiresAt = addDays(new Date(await env.currentTimeMs()), 30);
      Object.assign(t.row, { status: 'active', publication: 2, expiresAt });
      await handle.signal(renewedSignal, { publication: 2, expiresAt: expiresAt.toISOString() });
      release();
      expect(await result).to.deep.include({ status: 'expired', publication: 2, renewals: 1 });
    });
    expect(t.acts.expireListing.getCalls().map((c) => c.args[0].publication)).to.deep.equal([1, 2]);
  });

  describe('notices are best effort: the listing expires whatever happens to the email', () => {
    const bounced = () => ApplicationFailure.nonRetryable('recipient address bounced', 'EmailBounced');

    it('expires on time when the owner address bounces (non-retryable email) and still sends the in-app notices', async () => {
      const t = await setup(30, 3, (acts) => ({
        ...acts,
        sendEmail: sinon.spy(async () => {
          throw bounced();
        }),
      }));
      await t.worker.runUntil(async () => {
        const result = await env.client.workflow.execute(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
        expect(result).to.deep.equal({ listingId: 'l1', status: 'expired', publication: 1, renewals: 0 });
      });
      expect(t.row.status).to.equal('expired');
      expect(t.acts.expireListing.callCount).to.equal(1);
      expect(t.acts.notifyInApp.getCalls().map((c) => c.args[0].kind)).to.deep.equal(['listing.expiring', 'listing.expired']);
    });

    it('expires on time when email and in-app notices fail on every attempt', async () => {
      const sendEmail = sinon.stub().rejects(new Error('provider down'));
      const notifyInApp = sinon.stub().rejects(new Error('database hiccup'));
      const t = await setup(30, 3, (acts) => ({ ...acts, sendEmail, notifyInApp }));
      await t.worker.runUntil(async () => {
        const result = await env.client.workflow.execute(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
        expect(result.status).to.equal('expired');
      });
      expect(t.row.status).to.equal('expired');
      // reminder + expiry, 5 attempts each
      expect(sendEmail.callCount).to.equal(10);
      expect(notifyInApp.callCount).to.equal(10);
    });

    it("expires on time without any notice when the owner's account is gone", async () => {
      const t = await setup(30, 3, (acts) => ({
        ...acts,
        getListingNotice: sinon.spy(async (id: string) => ({ ...(await acts.getListingNotice(id)), ownerEmail: null, ownerFirstName: null })),
        expireListing: sinon.spy(async (input: { listingId: string; publication: number }) => {
          const r = await acts.expireListing(input);
          return r.outcome === 'expired' ? { ...r, notice: { ...r.notice, ownerEmail: null, ownerFirstName: null } } : r;
        }),
      }));
      await t.worker.runUntil(async () => {
        expect((await env.client.workflow.execute(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] })).status).to.equal('expired');
      });
      expect(t.row.status).to.equal('expired');
      expect(t.acts.sendEmail.called).to.equal(false);
      expect(t.acts.notifyInApp.called).to.equal(false);
    });

    it('expires on time when reading the listing for the reminder keeps failing', async () => {
      const t = await setup(30, 3, (acts) => ({ ...acts, getListingNotice: sinon.stub().rejects(new Error('database down')) }));
      await t.worker.runUntil(async () => {
        expect((await env.client.workflow.execute(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] })).status).to.equal('expired');
      });
      expect(t.row.status).to.equal('expired');
      expect(emailsOfKind(t.acts.sendEmail, 'listing-reminder:')).to.have.length(0);
      expect(emailsOfKind(t.acts.sendEmail, 'listing-expired:')).to.have.length(1);
    });

    it('keeps retrying the expiry itself (idempotent) past 20 failures until it succeeds', async () => {
      let failures = 0;
      const t = await setup(30, 0, (acts) => ({
        ...acts,
        expireListing: async (input: { listingId: string; publication: number }) => {
          if (failures < 25) {
            failures += 1;
            throw new Error('connection refused');
          }
          return acts.expireListing(input);
        },
      }));
      await t.worker.runUntil(async () => {
        expect((await env.client.workflow.execute(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] })).status).to.equal('expired');
      });
      expect(failures).to.equal(25);
      expect(t.row.status).to.equal('expired');
    });
  });

  describe('reminder lead at least as long as the listing', () => {
    it('sends no reminder at publish when LISTING_REMINDER_DAYS >= the duration, and still expires', async () => {
      const t = await setup(30, 30);
      await t.worker.runUntil(async () => {
        const handle = await env.client.workflow.start(listingLifecycle, {
          taskQueue: t.taskQueue,
          workflowId: t.workflowId,
          args: [{ ...t.input, expirySetAt: new Date(t.start).toISOString() }],
        });
        const status = await handle.query(statusQuery);
        expect(status.reminderAt).to.equal(null);
        await env.sleep(DAY_MS);
        expect(t.acts.sendEmail.called).to.equal(false);
        expect(t.acts.getListingNotice.called).to.equal(false);
        expect((await handle.result()).status).to.equal('expired');
      });
      expect(emailsOfKind(t.acts.sendEmail, 'listing-reminder:')).to.have.length(0);
      expect(emailsOfKind(t.acts.sendEmail, 'listing-expired:')).to.have.length(1);
    });

    it('sends no reminder at renewal either when the lead covers the new duration', async () => {
      const t = await setup(30, 45);
      await t.worker.runUntil(async () => {
        const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
        await env.sleep(10 * DAY_MS);
        const renewedTo = addDays(new Date(await env.currentTimeMs()), 30);
        t.row.expiresAt = renewedTo;
        await handle.signal(renewedSignal, { publication: 1, expiresAt: renewedTo.toISOString() });
        expect(await handle.query(statusQuery)).to.include({ reminderAt: null, renewals: 1 });
        expect((await handle.result()).status).to.equal('expired');
      });
      expect(emailsOfKind(t.acts.sendEmail, 'listing-reminder:')).to.have.length(0);
    });
  });
});
