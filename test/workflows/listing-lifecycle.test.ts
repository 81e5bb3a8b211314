import { expect } from 'chai';
import sinon from 'sinon';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import { listingLifecycle } from '../../workflows/marketplace/listingLifecycle';
import type { ListingLifecycleInput } from '../../workflows/marketplace/messages';
import { renewedSignal, soldSignal, statusQuery, withdrawnSignal } from '../../workflows/marketplace/messages';
import type { ExpireListingResult, ListingNoticeOutcome } from '../../activities/marketplace';
import type { ListingStatus } from '../../domain/listings';
import { listingExpiredKey, listingReminderKey } from '../../domain/listings';
import { addDays, DAY_MS } from '../../domain/time';
import { createTimeSkippingEnv, uniqueQueue, workflowBundle } from '../support/temporal-env';
import { waitFor } from '../support/wait';

type ReminderReq = { listingId: string; publication: number; expiresAt: string; daysLeft: number };
type ExpiredReq = { listingId: string; publication: number };

/**
 * The activities run against a fake listing row: the test changes the row the way the
 * API would (then signals), and the stubs read and write it like the real activities
 * (the notice activities check the row and record what they "sent" by key). Wording and
 * recipients are the real activities' job: test/integration/listing-notices.test.ts.
 */
function fakeListing(expiresAt: Date, clock: () => Promise<number>) {
  const row = { status: 'active' as ListingStatus, publication: 1, expiresAt };
  const sent: string[] = [];
  const acts = {
    expireListing: sinon.spy(async ({ publication }: { listingId: string; publication: number }): Promise<ExpireListingResult> => {
      if (row.status === 'active' && row.publication === publication && row.expiresAt.getTime() <= (await clock()) + 5000) row.status = 'expired';
      if (row.status === 'expired') return { outcome: 'expired' };
      if (row.status === 'active') return { outcome: 'active', publication: row.publication, expiresAt: row.expiresAt.toISOString() };
      return { outcome: 'ended', status: row.status };
    }),
    sendListingReminder: sinon.spy(async (req: ReminderReq): Promise<ListingNoticeOutcome> => {
      if (row.status !== 'active' || row.publication !== req.publication || row.expiresAt.toISOString() !== req.expiresAt) return { outcome: 'skipped', reason: 'changed' };
      sent.push(listingReminderKey(req.listingId, req.publication, new Date(req.expiresAt)));
      return { outcome: 'sent', recipients: ['u1'], channels: ['email', 'in_app'] };
    }),
    sendListingExpiredNotice: sinon.spy(async (req: ExpiredReq): Promise<ListingNoticeOutcome> => {
      if (row.status !== 'expired' || row.publication !== req.publication) return { outcome: 'skipped', reason: 'changed' };
      sent.push(listingExpiredKey(req.listingId, req.publication));
      return { outcome: 'sent', recipients: ['u1'], channels: ['email', 'in_app'] };
    }),
  };
  return { row, acts, sent };
}

const sentOfKind = (sent: string[], prefix: string) => sent.filter((k) => k.startsWith(prefix));

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
    expect(t.sent).to.deep.equal([listingReminderKey('l1', 1, t.expiresAt), 'listing-expired:l1:1']);
    // Ids only: no title, address or name passes through the workflow.
    expect(t.acts.sendListingExpiredNotice.firstCall.args[0]).to.deep.equal({ listingId: 'l1', publication: 1 });
  });

  it('sends the expiring-soon reminder once, 3 days before expiry', async () => {
    const t = await setup(30, 3);
    await t.worker.runUntil(async () => {
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      await env.sleep(26 * DAY_MS + 23 * 3_600_000);
      expect(sentOfKind(t.sent, 'listing-reminder:')).to.have.length(0);
      await env.sleep(2 * 3_600_000);
      const status = await handle.query(statusQuery);
      expect(status.reminderSent).to.equal(true);
      expect(status.reminderAt).to.equal(new Date(t.expiresAt.getTime() - 3 * DAY_MS).toISOString());
      await handle.result();
    });
    expect(sentOfKind(t.sent, 'listing-reminder:')).to.deep.equal([`listing-reminder:l1:1:${t.expiresAt.toISOString()}`]);
    expect(t.acts.sendListingReminder.firstCall.args[0]).to.deep.equal({ listingId: 'l1', publication: 1, expiresAt: t.expiresAt.toISOString(), daysLeft: 3 });
  });

  it('uses the configured reminder lead and sends none with a lead of 0', async () => {
    const t = await setup(30, 0);
    await t.worker.runUntil(async () => {
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      await env.sleep(31 * DAY_MS);
      expect((await handle.result()).status).to.equal('expired');
    });
    expect(sentOfKind(t.sent, 'listing-reminder:')).to.have.length(0);
    expect(t.acts.sendListingReminder.called).to.equal(false);
    expect(sentOfKind(t.sent, 'listing-expired:')).to.have.length(1);
  });

  it('moves both timers on renewal: a new reminder before the new expiry, expiry at the new date', async () => {
    const t = await setup(30, 3);
    await t.worker.runUntil(async () => {
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
      await env.sleep(28 * DAY_MS); // the first reminder went out on day 27
      expect(sentOfKind(t.sent, 'listing-reminder:')).to.have.length(1);
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
    expect(sentOfKind(t.sent, 'listing-reminder:')).to.deep.equal([
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
      expect(t.acts.sendListingReminder.called).to.equal(false);
      expect(t.acts.sendListingExpiredNotice.called).to.equal(false);
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
    expect(sentOfKind(t.sent, 'listing-expired:')).to.deep.equal(['listing-expired:l1:1', 'listing-expired:l1:2']);
  });

  it('a renewal that reaches a run still finishing its expiry continues into the new publication', async () => {
    // Hold the expiry notice until the renewal has been signalled.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = sinon.spy();
    const t = await setup(30, 0, (acts) => ({
      ...acts,
      sendListingExpiredNotice: async (req: ExpiredReq) => {
        held();
        await gate;
        return acts.sendListingExpiredNotice(req);
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

  describe('notices are best effort: the listing expires whatever happens to them', () => {
    it('expires on time when a notice fails for good (no channel went out)', async () => {
      const refused = () => ApplicationFailure.nonRetryable('no channel went out', 'EmailBounced');
      const t = await setup(30, 3, (acts) => ({
        ...acts,
        sendListingReminder: sinon.stub().rejects(refused()),
        sendListingExpiredNotice: sinon.stub().rejects(refused()),
      }));
      await t.worker.runUntil(async () => {
        const result = await env.client.workflow.execute(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
        expect(result).to.deep.equal({ listingId: 'l1', status: 'expired', publication: 1, renewals: 0 });
      });
      expect(t.row.status).to.equal('expired');
      expect(t.acts.expireListing.callCount).to.equal(1);
    });

    it('expires on time when the notices fail on every attempt (5 each)', async () => {
      const sendListingReminder = sinon.stub().rejects(new Error('provider down'));
      const sendListingExpiredNotice = sinon.stub().rejects(new Error('database hiccup'));
      const t = await setup(30, 3, (acts) => ({ ...acts, sendListingReminder, sendListingExpiredNotice }));
      await t.worker.runUntil(async () => {
        const result = await env.client.workflow.execute(listingLifecycle, { taskQueue: t.taskQueue, workflowId: t.workflowId, args: [t.input] });
        expect(result.status).to.equal('expired');
      });
      expect(t.row.status).to.equal('expired');
      expect(sendListingReminder.callCount).to.equal(5);
      expect(sendListingExpiredNotice.callCount).to.equal(5);
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
        expect(t.acts.sendListingReminder.called).to.equal(false);
        expect((await handle.result()).status).to.equal('expired');
      });
      expect(sentOfKind(t.sent, 'listing-reminder:')).to.have.length(0);
      expect(sentOfKind(t.sent, 'listing-expired:')).to.have.length(1);
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
      expect(sentOfKind(t.sent, 'listing-reminder:')).to.have.length(0);
    });
  });
});
