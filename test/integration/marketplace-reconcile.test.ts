import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import sinon from 'sinon';
import { useTestStack } from '../support/use-test-stack';
import { eventually, registerUser } from '../support/http';
import { expireOverdue, startMissing } from '../../activities/marketplace/reconcile';
import { listingWorkflowId } from '../../workflows/ids';
import { TaskQueue } from '../../workflows/queues';
import { marketplaceReconcile } from '../../workflows/marketplace/marketplaceReconcile';
import { statusQuery } from '../../workflows/marketplace/messages';
import { ScheduleId, ensureSchedule, marketplaceReconcileSchedule } from '../../workers/schedules';

type User = Awaited<ReturnType<typeof registerUser>>;

describe('marketplace reconcile against real Postgres and Temporal', () => {
  const { stack, api } = useTestStack();

  const sql = (text: string, params: unknown[] = []) => stack.orm.em.fork().getConnection().execute(text, params);
  const row = async (id: string) => (await sql('select status, publication, expires_at from listings where id = ?', [id]))[0];
  async function listing(owner: User, title: string) {
    const res = await api.post(
      '/api/marketplace/my/listings',
      { type: 'sale', title, description: 'A kind mare.', priceCents: 900_000, currency: 'EUR', country: 'FR' },
      owner.accessToken,
    );
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as string;
  }
  /** An active row as a publish that could not reach Temporal leaves it (no workflow). */
  async function activeWithoutWorkflow(owner: User, title: string, expires: string) {
    const id = await listing(owner, title);
    await sql(
      `update listings set status = 'active', publication = 1, published_at = now() - interval '1 day', expires_at = now() + ?::interval, updated_at = now() - interval '20 minutes' where id = ?`,
      [expires, id],
    );
    return id;
  }

  describe('expireOverdue (activity)', () => {
    it('expires active listings past expiry + grace once, returns their ids and publication (nothing personal) for the notice, and leaves the rest alone', async () => {
      const owner = await registerUser(api, { firstName: 'Odile' });
      await sql(`update users set plan = 'pro' where id = ?`, [owner.user.id]);
      const overdue = await activeWithoutWorkflow(owner, 'Overdue mare', '-1 hour');
      const withinGrace = await activeWithoutWorkflow(owner, 'Just expired', '-1 minute');
      const live = await activeWithoutWorkflow(owner, 'Still live', '10 days');
      const sold = await activeWithoutWorkflow(owner, 'Sold already', '-2 hours');
      await sql(`update listings set status = 'sold' where id = ?`, [sold]);
      const orphanOwner = await activeWithoutWorkflow(owner, 'Owner gone', '-3 hours');
      const ghost = randomUUID();
      await sql(`update listings set owner_id = ? where id = ?`, [ghost, orphanOwner]);

      const first = await expireOverdue({ orm: stack.orm }, { graceMinutes: 5, limit: 1000 });
      const mine = first.filter((n) => [overdue, withinGrace, live, sold, orphanOwner].includes(n.listingId));
      expect(mine.map((n) => n.listingId).sort()).to.deep.equal([overdue, orphanOwner].sort());
      // The result goes into the reconcile workflow's history: ids only (the notice activity reads the rest).
      expect(mine.find((n) => n.listingId === overdue)).to.deep.equal({ listingId: overdue, publication: 1 });
      expect(mine.find((n) => n.listingId === orphanOwner)).to.deep.equal({ listingId: orphanOwner, publication: 1 });
      expect((await row(overdue)).status).to.equal('expired');
      expect((await row(withinGrace)).status).to.equal('active');
      expect((await row(live)).status).to.equal('active');
      expect((await row(sold)).status).to.equal('sold');

      const second = await expireOverdue({ orm: stack.orm }, { graceMinutes: 5, limit: 1000 });
      expect(second.map((n) => n.listingId)).to.not.include.members([overdue, orphanOwner]);
      expect(second.map((n) => n.listingId)).to.not.include(overdue);
    });
  });

  describe('startMissing (activity)', () => {
    it('starts the lifecycle of an active listing whose publish could not reach Temporal, restarts a closed one, leaves a running one', async () => {
      const owner = await registerUser(api);
      await sql(`update users set plan = 'pro' where id = ?`, [owner.user.id]);
      // 1. Publish while Temporal is unreachable: the row is active (503 says so), no workflow.
      const orphan = await listing(owner, 'Published while Temporal was down');
      const down = sinon.stub(stack.temporal, 'client').rejects(new Error('Temporal is down'));
      try {
        const res = await api.post(`/api/marketplace/my/listings/${orphan}/publish`, undefined, owner.accessToken);
        expect(res.status).to.equal(503);
      } finally {
        down.restore();
      }
      expect((await row(orphan)).status).to.equal('active');
      // 2. Published normally: its workflow runs.
      const running = await listing(owner, 'Normal publish');
      expect((await api.post(`/api/marketplace/my/listings/${running}/publish`, undefined, owner.accessToken)).status).to.equal(200);
      // 3. Its workflow was terminated by hand.
      const terminated = await listing(owner, 'Workflow terminated');
      expect((await api.post(`/api/marketplace/my/listings/${terminated}/publish`, undefined, owner.accessToken)).status).to.equal(200);
      const client = await stack.temporal.client();
      await client.workflow.getHandle(listingWorkflowId(terminated)).terminate('test: operator');
      // 4. Too recent: the API's own start may still be on its way.
      const recent = await activeWithoutWorkflow(owner, 'Just published', '30 days');
      await sql(`update listings set updated_at = now() where id = ?`, [recent]);
      await sql(`update listings set updated_at = now() - interval '20 minutes' where id in (?, ?, ?)`, [orphan, running, terminated]);
      const runningRunId = (await client.workflow.getHandle(listingWorkflowId(running)).describe()).runId;

      const deps = { orm: stack.orm, client, config: stack.config };
      const report = await startMissing(deps, { olderThanMinutes: 10, withinDays: 7, limit: 1000 });
      expect(report.started).to.include.members([orphan, terminated]);
      expect(report.started).to.not.include(running);
      expect(report.started).to.not.include(recent);

      for (const id of [orphan, terminated]) {
        const handle = client.workflow.getHandle(listingWorkflowId(id));
        const d = await handle.describe();
        expect(d.status.name, id).to.equal('RUNNING');
        expect(d.taskQueue).to.equal(TaskQueue.marketplace);
        const r = await row(id);
        const status = await eventually(() => handle.query(statusQuery));
        expect(status).to.include({ status: 'active', publication: r.publication, expiresAt: new Date(r.expires_at).toISOString() });
        expect(status.reminderAt).to.equal(new Date(new Date(r.expires_at).getTime() - stack.config.LISTING_REMINDER_DAYS * 86_400_000).toISOString());
      }
      expect((await client.workflow.getHandle(listingWorkflowId(running)).describe()).runId).to.equal(runningRunId);

      const again = await startMissing(deps, { olderThanMinutes: 10, withinDays: 7, limit: 1000 });
      expect(again.started).to.not.include.members([orphan]);
      expect(again.started).to.not.include(terminated);
    });
  });

  describe('marketplaceReconcile workflow and its Schedule', () => {
    it('expires an overdue orphan through the worker, emails its owner once, and frees the plan slot', async function () {
      this.timeout(60_000);
      const owner = await registerUser(api, { firstName: 'Renée' });
      const stale = await activeWithoutWorkflow(owner, 'Forgotten pony', '-1 hour');
      // Free plan, one slot: the stale row must not block a new publish.
      const next = await listing(owner, 'Next pony');

      const client = await stack.temporal.client();
      const run = () => client.workflow.execute(marketplaceReconcile, { taskQueue: TaskQueue.marketplace, workflowId: `reconcile-listings-test-${randomUUID()}`, args: [{}] });
      const first = await run();
      expect(first.expired).to.include(stale);
      expect((await row(stale)).status).to.equal('expired');
      const mail = await eventually(async () => stack.resend.emails.find((m) => m.to.includes(owner.email) && m.subject.includes('Forgotten pony')));
      expect(mail.subject).to.equal('Your listing "Forgotten pony" has expired');
      expect(mail.text).to.contain('Hello Renée');
      const notes = await api.get('/api/notifications', owner.accessToken);
      expect(notes.body.items.filter((n: { kind: string; data: { listingId: string } }) => n.kind === 'listing.expired' && n.data.listingId === stale)).to.have.length(1);

      // run() returns once the workflow completed, and its notices are activities it awaits:
      // whatever the second sweep would send has been sent by now.
      const second = await run();
      expect(second.expired).to.not.include(stale);
      expect(stack.resend.emails.filter((m) => m.to.includes(owner.email) && m.subject.includes('Forgotten pony'))).to.have.length(1);

      expect((await api.post(`/api/marketplace/my/listings/${next}/publish`, undefined, owner.accessToken)).status).to.equal(200);
    });

    it('creates the marketplace-reconcile Schedule (every 15 minutes, marketplaceReconcile on the marketplace queue) once', async () => {
      const client = await stack.temporal.client();
      const handle = client.schedule.getHandle(ScheduleId.marketplaceReconcile);
      await handle.delete().catch(() => {});
      try {
        expect(await ensureSchedule(client, marketplaceReconcileSchedule())).to.equal('created');
        expect(await ensureSchedule(client, marketplaceReconcileSchedule())).to.equal('updated');
        const d = await handle.describe();
        expect(d.action).to.include({ type: 'startWorkflow', workflowType: 'marketplaceReconcile', taskQueue: TaskQueue.marketplace });
        expect(d.spec.intervals?.map((i) => i.every)).to.deep.equal([15 * 60_000]);
      } finally {
        await handle.delete();
      }
    });
  });
});
