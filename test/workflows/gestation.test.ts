import { expect } from 'chai';
import sinon from 'sinon';
import { fileURLToPath } from 'node:url';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { gestationTracking } from '../../workflows/breeding/gestationTracking';
import {
  checkRecordedSignal,
  coverDateCorrectedSignal,
  foaledSignal,
  nextReminderQuery,
  pregnancyLostSignal,
  remindersChangedSignal,
  timelineQuery,
  type GestationInput,
} from '../../workflows/breeding/messages';
import { gestationWorkflowId } from '../../workflows/ids';
import { addDaysIso, dateOf, daysFrom, gestationMilestones, type GestationOptions } from '../../domain/gestation';
import { ErrorType } from '../../domain/errors';
import { createTimeSkippingEnv, uniqueQueue } from '../support/temporal-env';

// Only this workflow, bundled once for the file (the same code workflows/index.ts re-exports).
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
const workflowBundle = () =>
  (bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../workflows/breeding/gestationTracking.ts', import.meta.url)),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  }));

const ALL_OPTIONS: GestationOptions = { fetalSexing: true, ehv1Month3: true, rotavirus: true, hasCaslick: true };

describe('gestationTracking workflow (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  /** Stubbed activities that record the simulated time of every reminder. */
  function activities(overrides: Record<string, sinon.SinonStub> = {}) {
    const sentAt: { id: string; at: number }[] = [];
    const acts = {
      sendGestationReminder: sinon.stub().callsFake(async (req: { milestone: { id: string } }) => {
        const at = Context.current().info.currentAttemptScheduledTimestampMs;
        sentAt.push({ id: req.milestone.id, at });
        return { outcome: 'sent', sentAt: new Date(at).toISOString(), channels: ['email', 'in_app'] };
      }),
      sendGestationAlert: sinon.stub().resolves({ sent: true }),
      recordGestationStatus: sinon.stub().resolves({ changed: true }),
      ...overrides,
    };
    return { acts, sentAt };
  }

  /** A pregnancy covered `daysAgo` days before the simulated now. */
  async function setup(opts: { daysAgo?: number; options?: GestationOptions; acts?: ReturnType<typeof activities>; noCache?: boolean } = {}) {
    const taskQueue = uniqueQueue('gestation');
    const today = dateOf(await env.currentTimeMs());
    const anchorDate = addDaysIso(today, -(opts.daysAgo ?? 0));
    const input: GestationInput = {
      pregnancyId: taskQueue,
      userId: 'u1',
      anchorDate,
      anchor: 'cover',
      leadDays: 2,
      options: opts.options ?? {},
      previousGestationDays: [],
    };
    const recorder = opts.acts ?? activities();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: recorder.acts,
      ...(opts.noCache ? { maxCachedWorkflows: 0 } : {}),
    });
    const start = () => env.client.workflow.start(gestationTracking, { taskQueue, workflowId: gestationWorkflowId(taskQueue), args: [input] });
    return { taskQueue, input, anchorDate, worker, start, ...recorder };
  }

  const sentIds = (sentAt: { id: string }[]) => sentAt.map((s) => s.id);
  /** The activity is scheduled a few ms after the timer fires. */
  const expectAt = (at: number, iso: string, what = '') => expect(Math.abs(at - Date.parse(iso)), `${what} sent at ${new Date(at).toISOString()}, expected ${iso}`).to.be.below(5_000);
  const day = (anchorDate: string, n: number) => addDaysIso(anchorDate, n);

  it('sends every reminder of a full pregnancy once, in order, at 08:00 UTC lead-days before each milestone, overdue alerts included, until the foaling', async function () {
    this.timeout(60_000);
    const { worker, start, sentAt, acts, input, anchorDate } = await setup({ options: ALL_OPTIONS });
    const plan = gestationMilestones(input);
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('392 days');
      await handle.signal(foaledSignal, { date: day(anchorDate, 392), foalId: 'foal-1' });
      return handle.result();
    });
    expect(sentIds(sentAt)).to.deep.equal(plan.map((m) => m.id));
    expect(new Set(sentIds(sentAt)).size).to.equal(sentAt.length);
    for (const [i, m] of plan.entries()) {
      expectAt(sentAt[i].at, m.reminderAt, m.id);
    }
    // overdue alerts go out on their day, the others lead-days before
    const byId = Object.fromEntries(plan.map((m) => [m.id, m]));
    expect(byId['check-pregnancy'].reminderDate).to.equal(day(anchorDate, 12));
    expect(byId['overdue-notice'].reminderDate).to.equal(day(anchorDate, 360));
    expect(result).to.deep.equal({ status: 'foaled', sent: plan.map((m) => m.id), missed: [], failed: [] });
    sinon.assert.calledOnceWithExactly(acts.recordGestationStatus, sinon.match({ status: 'foaled', outcomeDate: day(anchorDate, 392) }));
  });

  it('ends as not pregnant on a negative 14-day check, after only the first reminder', async () => {
    const { worker, start, sentAt, acts, anchorDate } = await setup();
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('15 days');
      await handle.signal(checkRecordedSignal, { checkId: 'c1', kind: 'pregnancy', date: day(anchorDate, 15), result: 'negative' });
      return handle.result();
    });
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy']);
    expect(result.status).to.equal('not_pregnant');
    sinon.assert.calledOnceWithExactly(acts.recordGestationStatus, sinon.match({ status: 'not_pregnant', outcomeDate: day(anchorDate, 15) }));
  });

  it('flags twins, alerts the owner once at once, marks the check done and keeps reminding', async () => {
    const { worker, start, sentAt, acts, anchorDate } = await setup();
    const { timeline, result } = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('15 days');
      await handle.signal(checkRecordedSignal, { checkId: 'c-twins', kind: 'pregnancy', date: day(anchorDate, 15), result: 'twins' });
      await env.sleep('10 days');
      const timeline = await handle.query(timelineQuery);
      await handle.signal(pregnancyLostSignal, { date: day(anchorDate, 25) });
      return { timeline, result: await handle.result() };
    });
    sinon.assert.calledOnceWithExactly(acts.sendGestationAlert, sinon.match({ kind: 'twins', checkId: 'c-twins', date: day(anchorDate, 15) }));
    expect(timeline.status).to.equal('twins');
    const state = Object.fromEntries(timeline.milestones.map((m) => [m.id, m.state]));
    expect(state['check-pregnancy']).to.equal('done');
    expect(state['check-heartbeat']).to.equal('sent');
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat']);
    expect(result.status).to.equal('lost');
    expect(acts.recordGestationStatus.firstCall.args[0]).to.include({ status: 'twins' });
  });

  it('cancels every later reminder when the pregnancy is lost on day 100', async () => {
    const { worker, start, sentAt, acts, anchorDate } = await setup();
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('100 days');
      await handle.signal(pregnancyLostSignal, { date: day(anchorDate, 100) });
      const r = await handle.result();
      const timeline = await handle.query(timelineQuery);
      expect(timeline.milestones.filter((m) => m.state === 'cancelled').map((m) => m.id)).to.include.members(['ehv1-month-5', 'expected-foaling', 'overdue-notice']);
      return r;
    });
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation']);
    expect(result).to.deep.include({ status: 'lost', sent: ['check-pregnancy', 'check-heartbeat', 'check-confirmation'] });
    sinon.assert.calledOnceWithExactly(acts.recordGestationStatus, sinon.match({ status: 'lost', outcomeDate: day(anchorDate, 100) }));
  });

  it('ends on an early foaling (day 310) without the foaling-window or overdue reminders', async function () {
    this.timeout(30_000);
    const { worker, start, sentAt, anchorDate, input } = await setup();
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('310 days');
      await handle.signal(foaledSignal, { date: day(anchorDate, 310), foalId: 'foal-early' });
      return handle.result();
    });
    expect(result.status).to.equal('foaled');
    const before310 = gestationMilestones(input).filter((m) => daysFrom(anchorDate, m.reminderDate) < 310);
    expect(sentIds(sentAt)).to.deep.equal(before310.map((m) => m.id));
    expect(sentIds(sentAt)).to.include('foaling-box').and.not.include('foaling-watch');
    expect(sentIds(sentAt).some((id) => id.startsWith('overdue') || id === 'expected-foaling')).to.equal(false);
  });

  it('reschedules every future reminder when the cover date is corrected mid-way, without resending or losing what was sent', async function () {
    this.timeout(30_000);
    const { worker, start, sentAt, anchorDate } = await setup();
    const corrected = addDaysIso(anchorDate, 5);
    const { before, after, next } = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('50 days');
      const before = await handle.query(timelineQuery);
      await handle.signal(coverDateCorrectedSignal, { anchorDate: corrected, anchor: 'cover' });
      const after = await handle.query(timelineQuery);
      const next = await handle.query(nextReminderQuery);
      await env.sleep('110 days');
      await handle.signal(pregnancyLostSignal, { date: day(anchorDate, 160) });
      await handle.result();
      return { before, after, next };
    });
    expect(before.milestones.find((m) => m.id === 'ehv1-month-5')!.dueDate).to.equal(day(anchorDate, 150));
    expect(after.anchorDate).to.equal(corrected);
    expect(after.expectedFoalingDate).to.equal(addDaysIso(corrected, 340));
    const heartbeat = after.milestones.find((m) => m.id === 'check-heartbeat')!;
    expect(heartbeat).to.include({ state: 'sent', dueDate: addDaysIso(corrected, 25) });
    expect(next).to.include({ id: 'ehv1-month-5', dueDate: addDaysIso(corrected, 150) });
    // the three checks once each (not resent after the correction), then EHV-1 at the corrected date
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation', 'ehv1-month-5']);
    expectAt(sentAt[3].at, `${addDaysIso(corrected, 148)}T08:00:00.000Z`);
  });

  it('continues after a worker restart mid-pregnancy: nothing resent, the next reminder on time', async function () {
    this.timeout(30_000);
    // No workflow cache, hence no sticky queue: the Java test server times a dead worker's
    // sticky queue out in (locked) virtual time. The second worker still rebuilds the
    // workflow from its history, as a restarted worker process does.
    const first = await setup({ noCache: true });
    const handle = await first.worker.runUntil(async () => {
      const h = await first.start();
      await env.sleep('100 days');
      return h;
    });
    expect(sentIds(first.sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation']);

    await env.sleep('20 days');
    // (no worker polled during those 20 days)
    const second = activities();
    const worker2 = await Worker.create({ connection: env.nativeConnection, taskQueue: first.taskQueue, workflowBundle: await workflowBundle(), activities: second.acts });
    const result = await worker2.runUntil(async () => {
      await env.sleep('60 days');
      await handle.signal(pregnancyLostSignal, { date: day(first.anchorDate, 180) });
      return handle.result();
    });
    expect(sentIds(second.sentAt)).to.deep.equal(['ehv1-month-5']);
    expectAt(second.sentAt[0].at, `${day(first.anchorDate, 148)}T08:00:00.000Z`);
    expect(result.sent).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation', 'ehv1-month-5']);
  });

  it('marks milestones already past at registration as missed instead of sending them, and sends one still due at once', async () => {
    const { worker, start, sentAt, anchorDate } = await setup({ daysAgo: 44 });
    const timeline = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('1 hour');
      const t = await handle.query(timelineQuery);
      await handle.signal(pregnancyLostSignal, { date: day(anchorDate, 44) });
      await handle.result();
      return t;
    });
    const state = Object.fromEntries(timeline.milestones.map((m) => [m.id, m.state]));
    expect(state).to.include({ 'check-pregnancy': 'missed', 'check-heartbeat': 'missed', 'check-confirmation': 'sent', 'ehv1-month-5': 'upcoming' });
    expect(sentIds(sentAt)).to.deep.equal(['check-confirmation']);
  });

  it('records a reminder that failed for good as failed and still sends the next one', async () => {
    const rec = activities();
    const send = rec.acts.sendGestationReminder;
    const failing = sinon.stub().callsFake(async (req: { milestone: { id: string } }) => {
      if (req.milestone.id === 'check-pregnancy') throw ApplicationFailure.nonRetryable('user u1 not found', ErrorType.NotFound);
      return send(req);
    });
    rec.acts.sendGestationReminder = failing;
    const { worker, start, sentAt, anchorDate } = await setup({ acts: rec });
    const { timeline } = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('24 days');
      const timeline = await handle.query(timelineQuery);
      await handle.signal(pregnancyLostSignal, { date: day(anchorDate, 24) });
      return { timeline, result: await handle.result() };
    });
    expect(timeline.milestones.find((m) => m.id === 'check-pregnancy')!.state).to.equal('failed');
    expect(failing.callCount).to.equal(2);
    expect(sentIds(sentAt)).to.deep.equal(['check-heartbeat']);
  });

  it('moves future reminders when the lead time changes (one whose new time already passed goes out at once) and adds a switched-on optional milestone', async () => {
    const { worker, start, sentAt, anchorDate } = await setup();
    let changedAt = 0;
    await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('20 days');
      changedAt = await env.currentTimeMs();
      await handle.signal(remindersChangedSignal, { leadDays: 7, options: { fetalSexing: true } });
      await env.sleep('40 days');
      await handle.signal(pregnancyLostSignal, { date: day(anchorDate, 60) });
      await handle.result();
    });
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation', 'check-sexing']);
    // heartbeat (day 25) moved to day 18, already past on day 20 but still due: sent when the change arrived
    expect(sentAt[1].at - changedAt).to.be.within(0, 60_000);
    expectAt(sentAt[2].at, `${day(anchorDate, 38)}T08:00:00.000Z`, 'confirmation');
    expectAt(sentAt[3].at, `${day(anchorDate, 53)}T08:00:00.000Z`, 'sexing');
  });

  it('adopts the database status when the reminder activity finds the pregnancy already ended', async () => {
    const rec = activities({ sendGestationReminder: sinon.stub().resolves({ outcome: 'ended', status: 'lost' }) });
    const { worker, start } = await setup({ acts: rec });
    const result = await worker.runUntil(async () => {
      const handle = await start();
      return handle.result();
    }).catch((e) => e);
    // It sleeps until day 12, the activity says "lost": the workflow ends without writing the status again.
    expect(result).to.deep.include({ status: 'lost', sent: [] });
    sinon.assert.notCalled(rec.acts.recordGestationStatus);
  });
});
