import { expect } from 'chai';
import sinon from 'sinon';
import { fileURLToPath } from 'node:url';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { gestationTracking } from '../../workflows/gestation/gestationTracking';
import {
  checkRecordedSignal,
  coverDateCorrectedSignal,
  foaledSignal,
  nextReminderQuery,
  gestationLostSignal,
  remindersChangedSignal,
  timelineQuery,
  type CheckRecorded,
  type GestationInput,
} from '../../workflows/gestation/messages';
import { gestationWorkflowId } from '../../workflows/ids';
import {
  addDaysIso,
  dateOf,
  daysFrom,
  doneMilestones,
  gestationMilestones,
  isActiveStatus,
  statusAfterCheck,
  type GestationOptions,
  type GestationStatus,
} from '../../domain/gestation';
import { ErrorType } from '../../domain/errors';
import type { GestationPlanSnapshot, GestationSnapshot, ReminderOutcome, ReminderRequest } from '../../activities/gestation';
import { createTimeSkippingEnv, uniqueQueue } from '../support/temporal-env';

// Only this workflow, bundled once for the file (the same code workflows/index.ts re-exports).
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
const workflowBundle = () =>
  (bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../workflows/gestation/gestationTracking.ts', import.meta.url)),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  }));

const ALL_OPTIONS: GestationOptions = { fetalSexing: true, ehv1Month3: true, rotavirus: true, hasCaslick: true };
type Handle = WorkflowHandle<typeof gestationTracking>;

/** The gestation row as the database has it: the activities read it, the tests change it as the API does (commit, then signal). */
interface FakeDb {
  status: GestationStatus;
  plan: GestationPlanSnapshot;
  checks: CheckRecorded[];
  sent: Record<string, string>;
  gone: boolean;
  /** Every database activity throws while true (an outage). */
  down: boolean;
  /** Sends answer without the snapshot, as in histories written before sends returned one. */
  oldSends?: boolean;
}

describe('gestationTracking workflow (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  /** Stubbed activities over a fake database, recording the simulated time of every reminder. */
  function activities(db: FakeDb) {
    const sentAt: { id: string; at: number }[] = [];
    const dbUp = () => {
      if (db.down) throw new Error('database unavailable');
    };
    const snapshot = () => ({
      found: true as const,
      status: db.status,
      plan: structuredClone(db.plan),
      done: doneMilestones(db.checks, db.status),
      sent: { ...db.sent },
      twinsChecks: db.checks.filter((c) => c.result === 'twins').map((c) => ({ checkId: c.checkId, date: c.date })),
    });
    // As the real send: every answer but 'gone' carries the snapshot read after it ran.
    const withSnapshot = <T extends ReminderOutcome>(outcome: T): T => (db.oldSends ? outcome : { ...outcome, snapshot: snapshot() });
    const acts = {
      loadGestation: sinon.stub().callsFake(async (): Promise<GestationSnapshot> => {
        dbUp();
        return db.gone ? { found: false } : snapshot();
      }),
      sendGestationReminder: sinon.stub().callsFake(async (req: ReminderRequest): Promise<ReminderOutcome> => {
        dbUp();
        if (db.gone) return { outcome: 'gone' };
        if (db.sent[req.milestone.id]) return withSnapshot({ outcome: 'already-sent', sentAt: db.sent[req.milestone.id], channels: ['email', 'in_app'] });
        if (!isActiveStatus(db.status)) return withSnapshot({ outcome: 'ended', status: db.status });
        const current = gestationMilestones(db.plan).find((m) => m.id === req.milestone.id);
        if (current?.dueDate !== req.milestone.dueDate) return withSnapshot({ outcome: 'replanned' });
        // As the real send: not due yet with the current lead time, or done by a recorded check.
        if (Date.parse(current.reminderAt) > Date.parse(req.plannedAt)) return withSnapshot({ outcome: 'replanned' });
        if (doneMilestones(db.checks, db.status).includes(current.id)) return withSnapshot({ outcome: 'replanned' });
        const at = Context.current().info.currentAttemptScheduledTimestampMs;
        sentAt.push({ id: req.milestone.id, at });
        db.sent[req.milestone.id] = new Date(at).toISOString();
        return withSnapshot({ outcome: 'sent', sentAt: db.sent[req.milestone.id], channels: ['email', 'in_app'] });
      }),
      sendGestationAlert: sinon.stub().resolves({ sent: true, channels: ['email', 'in_app'] }),
    };
    return { acts, sentAt };
  }

  /** A gestation covered `daysAgo` days before the simulated now. */
  async function setup(
    opts: {
      daysAgo?: number;
      options?: GestationOptions;
      previousGestationDays?: number[];
      /** Replaces activities before the worker is created (they may call the fake ones). */
      wrap?: (acts: ReturnType<typeof activities>['acts'], db: FakeDb) => void;
      noCache?: boolean;
      continueAsNewAfter?: number;
      leadDays?: number;
      oldSends?: boolean;
    } = {},
  ) {
    const taskQueue = uniqueQueue('gestation');
    const today = dateOf(await env.currentTimeMs());
    const anchorDate = addDaysIso(today, -(opts.daysAgo ?? 0));
    const plan: GestationPlanSnapshot = { anchorDate, anchor: 'cover', leadDays: opts.leadDays ?? 2, options: opts.options ?? {}, previousGestationDays: opts.previousGestationDays ?? [] };
    const db: FakeDb = { status: 'tracking', plan: structuredClone(plan), checks: [], sent: {}, gone: false, down: false, oldSends: opts.oldSends ?? false };
    const input: GestationInput = { gestationId: taskQueue, userId: 'u1', ...structuredClone(plan), ...(opts.continueAsNewAfter ? { continueAsNewAfter: opts.continueAsNewAfter } : {}) };
    const recorder = activities(db);
    opts.wrap?.(recorder.acts, db);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: recorder.acts,
      ...(opts.noCache ? { maxCachedWorkflows: 0 } : {}),
    });
    const start = () => env.client.workflow.start(gestationTracking, { taskQueue, workflowId: gestationWorkflowId(taskQueue), args: [input] });
    // What the API does: commit the change, then wake the workflow.
    const api = {
      check: (h: Handle, check: CheckRecorded) => {
        db.checks.push(check);
        db.status = statusAfterCheck(db.status, check.result);
        return h.signal(checkRecordedSignal, check);
      },
      lose: (h: Handle, date: string) => {
        db.status = 'lost';
        return h.signal(gestationLostSignal, { date });
      },
      foal: (h: Handle, date: string) => {
        db.status = 'foaled';
        return h.signal(foaledSignal, { date, foalId: 'foal-1' });
      },
      correct: (h: Handle, anchorDate: string) => {
        db.plan.anchorDate = anchorDate;
        return h.signal(coverDateCorrectedSignal, { anchorDate, anchor: 'cover' });
      },
      remindersChanged: (h: Handle, change: { leadDays?: number; options?: GestationOptions }) => {
        if (change.leadDays !== undefined) db.plan.leadDays = change.leadDays;
        if (change.options) db.plan.options = { ...db.plan.options, ...change.options };
        return h.signal(remindersChangedSignal, change);
      },
    };
    return { taskQueue, input, anchorDate, worker, start, db, api, ...recorder };
  }

  const sleepUntil = async (iso: string) => env.sleep(Date.parse(iso) - (await env.currentTimeMs()));
  const sentIds = (sentAt: { id: string }[]) => sentAt.map((s) => s.id);
  /** The activity is scheduled a few ms after the timer fires (after the re-read). */
  const expectAt = (at: number, iso: string, what = '') => expect(Math.abs(at - Date.parse(iso)), `${what} sent at ${new Date(at).toISOString()}, expected ${iso}`).to.be.below(5_000);
  const day = (anchorDate: string, n: number) => addDaysIso(anchorDate, n);
  const states = (t: { milestones: { id: string; state: string }[] }) => Object.fromEntries(t.milestones.map((m) => [m.id, m.state]));

  it('sends every reminder of a full gestation once, in order, at 08:00 UTC lead-days before each milestone, overdue alerts included, until the foaling', async function () {
    this.timeout(60_000);
    const { worker, start, sentAt, input, anchorDate, api } = await setup({ options: ALL_OPTIONS });
    const plan = gestationMilestones(input);
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('392 days');
      await api.foal(handle, day(anchorDate, 392));
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
  });

  it('ends as not pregnant on a negative 14-day check, after only the first reminder', async () => {
    const { worker, start, sentAt, anchorDate, api } = await setup();
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('15 days');
      await api.check(handle, { checkId: 'c1', kind: 'pregnancy', date: day(anchorDate, 15), result: 'negative' });
      return handle.result();
    });
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy']);
    expect(result.status).to.equal('not_pregnant');
  });

  it('flags twins, alerts the owner once at once, marks the check done, keeps twins flagged after a positive heartbeat check and keeps reminding', async () => {
    const { worker, start, sentAt, acts, anchorDate, api } = await setup();
    const { timeline, afterHeartbeat, result } = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('15 days');
      await api.check(handle, { checkId: 'c-twins', kind: 'pregnancy', date: day(anchorDate, 15), result: 'twins' });
      await env.sleep('10 days');
      const timeline = await handle.query(timelineQuery);
      await api.check(handle, { checkId: 'c-heart', kind: 'heartbeat', date: day(anchorDate, 25), result: 'positive' });
      await env.sleep('1 day');
      const afterHeartbeat = await handle.query(timelineQuery);
      await api.lose(handle, day(anchorDate, 26));
      return { timeline, afterHeartbeat, result: await handle.result() };
    });
    sinon.assert.calledOnceWithExactly(acts.sendGestationAlert, sinon.match({ kind: 'twins', checkId: 'c-twins', date: day(anchorDate, 15) }));
    expect(timeline.status).to.equal('twins');
    expect(states(timeline)).to.include({ 'check-pregnancy': 'done', 'check-heartbeat': 'sent' });
    expect(afterHeartbeat.status).to.equal('twins');
    expect(states(afterHeartbeat)).to.include({ 'check-heartbeat': 'done' });
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat']);
    expect(result.status).to.equal('lost');
  });

  it('cancels every later reminder when the gestation is lost on day 100', async () => {
    const { worker, start, sentAt, anchorDate, api } = await setup();
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('100 days');
      await api.lose(handle, day(anchorDate, 100));
      const r = await handle.result();
      const timeline = await handle.query(timelineQuery);
      expect(timeline.milestones.filter((m) => m.state === 'cancelled').map((m) => m.id)).to.include.members(['ehv1-month-5', 'expected-foaling', 'overdue-notice']);
      return r;
    });
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation']);
    expect(result).to.deep.include({ status: 'lost', sent: ['check-pregnancy', 'check-heartbeat', 'check-confirmation'] });
  });

  it('ends on an early foaling (day 310) without the foaling-window or overdue reminders', async function () {
    this.timeout(30_000);
    const { worker, start, sentAt, anchorDate, input, api } = await setup();
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('310 days');
      await api.foal(handle, day(anchorDate, 310));
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
    const { worker, start, sentAt, anchorDate, api } = await setup();
    const corrected = addDaysIso(anchorDate, 5);
    const { before, after, next } = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('50 days');
      const before = await handle.query(timelineQuery);
      await api.correct(handle, corrected);
      const after = await handle.query(timelineQuery);
      const next = await handle.query(nextReminderQuery);
      await env.sleep('110 days');
      await api.lose(handle, day(anchorDate, 160));
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

  it('un-misses a milestone when the cover date is corrected: covered 20 days ago → check-pregnancy missed; corrected to 8 days ago → sent on its new reminder day', async () => {
    const { worker, start, sentAt, anchorDate, api } = await setup({ daysAgo: 20 });
    const corrected = addDaysIso(anchorDate, 12); // 8 days before the start
    const { before, after, result } = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('1 hour');
      const before = await handle.query(timelineQuery);
      await api.correct(handle, corrected);
      await env.sleep('1 hour');
      const after = await handle.query(timelineQuery);
      await env.sleep('10 days'); // corrected day 18: check-pregnancy reminder (day 12) has gone out
      await api.lose(handle, day(corrected, 18));
      return { before, after, result: await handle.result() };
    });
    expect(states(before)['check-pregnancy']).to.equal('missed');
    expect(states(after)['check-pregnancy']).to.equal('upcoming');
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy']);
    expectAt(sentAt[0].at, `${day(corrected, 12)}T08:00:00.000Z`, 'check-pregnancy');
    expect(result.missed).to.not.include('check-pregnancy');
  });

  // A timer wake-up sends from the workflow's last read without reading again (one round trip
  // to the server); the send re-checks the database. These changes reach the database after
  // the last read and before the reminder, with their signal lost: nothing stale goes out.
  it('does not remind of a check recorded after the last read when its signal is lost; the next milestone goes out on time', async () => {
    const { worker, start, sentAt, acts, anchorDate, db } = await setup();
    // check-pregnancy: due day 14, reminded day 12 (re-reads on days 0 and 7, then asleep until day 12).
    await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('11 days');
      db.checks.push({ checkId: 'c-early', kind: 'pregnancy', date: day(anchorDate, 11), result: 'positive' }); // no signal
      db.status = statusAfterCheck(db.status, 'positive');
      await env.sleep('13 days'); // to day 24: past the heartbeat reminder (day 23)
      await handle.terminate('test over');
    });
    const first = acts.sendGestationReminder.getCall(0);
    expect((first.args[0] as ReminderRequest).milestone.id).to.equal('check-pregnancy');
    expect(((await first.returnValue) as ReminderOutcome).outcome, 'the reminder of a check already done was asked for and refused').to.equal('replanned');
    expect(sentIds(sentAt)).to.deep.equal(['check-heartbeat']);
    expectAt(sentAt[0].at, `${day(anchorDate, 23)}T08:00:00.000Z`, 'check-heartbeat');
  });

  it('does not remind early when the lead time was shortened after the last read and its signal is lost', async () => {
    const { worker, start, sentAt, acts, anchorDate, db } = await setup({ leadDays: 7 });
    // check-heartbeat: due day 25, reminded day 18 with 7 days' lead (re-reads on days 7 and 14, then asleep until day 18).
    await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('15 days');
      db.plan.leadDays = 2; // no signal
      await env.sleep('9 days'); // to day 24: past the reminder with 2 days' lead (day 23)
      await handle.terminate('test over');
    });
    const heartbeat = acts.sendGestationReminder.getCalls().filter((c) => (c.args[0] as ReminderRequest).milestone.id === 'check-heartbeat');
    expect(((await heartbeat[0].returnValue) as ReminderOutcome).outcome, 'the early reminder was asked for and refused').to.equal('replanned');
    expectAt(Date.parse((heartbeat[0].args[0] as ReminderRequest).plannedAt), `${day(anchorDate, 18)}T08:00:00.000Z`, 'the planned instant');
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat']);
    expectAt(sentAt[1].at, `${day(anchorDate, 23)}T08:00:00.000Z`, 'check-heartbeat with the shortened lead time');
  });

  // A timer wake-up with a send: the send's answer carries the snapshot read after it ran, and
  // the workflow plans its next sleep from it (2 workflow tasks and 1 activity, as a raw timer).
  describe('a wake-up with a send', () => {
    // check-pregnancy: due day 14, reminded day 12 08:00 (re-reads on days 0 and 7); check-heartbeat reminded day 23.
    const scenario = async (oldSends: boolean) => {
      const s = await setup({ oldSends });
      const { loadsBefore, next, history } = await s.worker.runUntil(async () => {
        const h = await s.start();
        await env.sleep('11 days'); // before day 12 08:00 whatever the time of day now
        const loadsBefore = s.acts.loadGestation.callCount;
        await env.sleep('2 days'); // past the reminder, before the next one (day 23)
        const next = await h.query(nextReminderQuery);
        const history = await h.fetchHistory();
        await h.terminate('test over');
        return { loadsBefore, next, history };
      });
      const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
      const afterSend = scheduled.slice(scheduled.indexOf('sendGestationReminder') + 1);
      return { ...s, loadsAfter: s.acts.loadGestation.callCount - loadsBefore, next, afterSend };
    };

    it('plans from the snapshot the send returned: no second read before it sleeps until the next milestone', async () => {
      const s = await scenario(false);
      expect(sentIds(s.sentAt)).to.deep.equal(['check-pregnancy']);
      expectAt(s.sentAt[0].at, `${day(s.anchorDate, 12)}T08:00:00.000Z`, 'check-pregnancy');
      expect(s.loadsAfter, 'reads from day 11 to day 13').to.equal(0);
      expect(s.afterSend, 'activities scheduled after the send').to.deep.equal([]);
      expect(s.next?.id).to.equal('check-heartbeat');
    });

    it('reads again after a send whose answer has no snapshot (a history written before sends returned one), with the same outcome', async () => {
      const s = await scenario(true);
      expect(sentIds(s.sentAt)).to.deep.equal(['check-pregnancy']);
      expect(s.loadsAfter, 'reads from day 11 to day 13').to.equal(1);
      expect(s.afterSend, 'activities scheduled after the send').to.deep.equal(['loadGestation']);
      expect(s.next?.id).to.equal('check-heartbeat');
    });
  });

  it('continues after a worker restart mid-gestation: nothing resent, the next reminder on time', async function () {
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

    // No worker polls for 5 days. (The workflow re-reads the database at least weekly, and
    // the time-skipping server does not skip past a timer whose workflow task no worker
    // picks up: the gap stays before the next weekly read, around day 106.)
    await env.sleep('5 days');
    const second = activities(first.db);
    const worker2 = await Worker.create({ connection: env.nativeConnection, taskQueue: first.taskQueue, workflowBundle: await workflowBundle(), activities: second.acts });
    const result = await worker2.runUntil(async () => {
      await env.sleep('60 days');
      await first.api.lose(handle, day(first.anchorDate, 180));
      return handle.result();
    });
    expect(sentIds(second.sentAt)).to.deep.equal(['ehv1-month-5']);
    expectAt(second.sentAt[0].at, `${day(first.anchorDate, 148)}T08:00:00.000Z`);
    expect(result.sent).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation', 'ehv1-month-5']);
  });

  it('marks milestones already past at registration as missed instead of sending them, and sends one still due at once', async () => {
    const { worker, start, sentAt, anchorDate, api } = await setup({ daysAgo: 44 });
    const timeline = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('1 hour');
      const t = await handle.query(timelineQuery);
      await api.lose(handle, day(anchorDate, 44));
      await handle.result();
      return t;
    });
    expect(states(timeline)).to.include({ 'check-pregnancy': 'missed', 'check-heartbeat': 'missed', 'check-confirmation': 'sent', 'ehv1-month-5': 'upcoming' });
    expect(sentIds(sentAt)).to.deep.equal(['check-confirmation']);
  });

  it('sends the latest overdue alert that has come due even late: registered at day 395, the day-390 vet exam goes out at once, the earlier ones are superseded', async () => {
    const { worker, start, sentAt, anchorDate, api } = await setup({ daysAgo: 395 });
    const { timeline, result } = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('1 hour');
      const timeline = await handle.query(timelineQuery);
      await api.foal(handle, day(anchorDate, 396));
      return { timeline, result: await handle.result() };
    });
    expect(sentIds(sentAt)).to.deep.equal(['overdue-vet-exam']);
    expect(states(timeline)).to.include({ 'overdue-notice': 'missed', 'overdue-escalation': 'missed', 'overdue-vet-exam': 'sent', 'expected-foaling': 'missed' });
    expect(result.missed).to.include.members(['overdue-notice', 'overdue-escalation']);
  });

  it('sends an overdue notice late when the worker was down on its day (registered at day 362), then the escalation on day 370', async () => {
    const { worker, start, sentAt, anchorDate, api } = await setup({ daysAgo: 362 });
    await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('9 days');
      await api.foal(handle, day(anchorDate, 371));
      await handle.result();
    });
    expect(sentIds(sentAt)).to.deep.equal(['overdue-notice', 'overdue-escalation']);
    expectAt(sentAt[1].at, `${day(anchorDate, 370)}T08:00:00.000Z`, 'escalation');
  });

  it('records a reminder that failed for good (non-retryable) as failed and still sends the next one', async () => {
    let failing: sinon.SinonStub | undefined;
    const { worker, start, sentAt, anchorDate, api } = await setup({
      wrap: (acts) => {
        const send = acts.sendGestationReminder;
        failing = acts.sendGestationReminder = sinon.stub().callsFake(async (req: ReminderRequest) => {
          if (req.milestone.id === 'check-pregnancy') throw ApplicationFailure.nonRetryable('no channel went out', ErrorType.ServiceUnavailable);
          return send(req);
        });
      },
    });
    const { timeline } = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('24 days');
      const timeline = await handle.query(timelineQuery);
      await api.lose(handle, day(anchorDate, 24));
      return { timeline, result: await handle.result() };
    });
    expect(states(timeline)['check-pregnancy']).to.equal('failed');
    expect(failing!.callCount).to.equal(2);
    expect(sentIds(sentAt)).to.deep.equal(['check-heartbeat']);
  });

  it('keeps retrying a reminder through a provider outage of hours from 08:00 (no attempt limit) and sends it once the provider is back', async () => {
    let attempts = 0;
    const { worker, start, sentAt, anchorDate, api } = await setup({
      wrap: (acts) => {
        const send = acts.sendGestationReminder;
        acts.sendGestationReminder = sinon.stub().callsFake(async (req: ReminderRequest) => {
          const info = Context.current().info;
          // The provider is down from 08:00 to 11:00 on the reminder day.
          if (req.milestone.id === 'check-pregnancy' && info.currentAttemptScheduledTimestampMs < Date.parse(`${day(anchorDate, 12)}T11:00:00Z`)) {
            attempts = info.attempt;
            throw new Error('email provider: 503 Service Unavailable');
          }
          return send(req);
        });
      },
    });
    const timeline = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('13 days');
      const t = await handle.query(timelineQuery);
      await api.lose(handle, day(anchorDate, 13));
      await handle.result();
      return t;
    });
    expect(attempts, 'attempts while the provider was down').to.be.greaterThan(5);
    expect(states(timeline)['check-pregnancy']).to.equal('sent');
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy']);
    const late = sentAt[0].at - Date.parse(`${day(anchorDate, 12)}T11:00:00Z`);
    expect(late, 'sent within the 1-hour maximum retry interval of the provider coming back').to.be.within(0, 3_600_000);
  });

  it('gives a reminder that keeps failing up as failed only once its due date has passed, and still sends the next one', async () => {
    const { worker, start, sentAt, anchorDate, api } = await setup({
      wrap: (acts) => {
        const send = acts.sendGestationReminder;
        acts.sendGestationReminder = sinon.stub().callsFake(async (req: ReminderRequest) => {
          if (req.milestone.id === 'check-pregnancy') throw new Error('email provider: 503 Service Unavailable');
          return send(req);
        });
      },
    });
    const { onDueDay, after } = await worker.runUntil(async () => {
      const handle = await start();
      await sleepUntil(`${day(anchorDate, 14)}T20:00:00Z`); // the evening of the due date
      const onDueDay = await handle.query(timelineQuery);
      await env.sleep('10 days');
      const after = await handle.query(timelineQuery);
      await api.lose(handle, day(anchorDate, 24));
      await handle.result();
      return { onDueDay, after };
    });
    expect(states(onDueDay)['check-pregnancy'], 'still retrying on its due day').to.equal('upcoming');
    expect(states(after)['check-pregnancy']).to.equal('failed');
    expect(sentIds(sentAt)).to.deep.equal(['check-heartbeat']);
  });

  it('retries a twins alert without limit until it goes out', async () => {
    let alert: sinon.SinonStub | undefined;
    const { worker, start, anchorDate, api } = await setup({
      wrap: (acts) => {
        alert = acts.sendGestationAlert = sinon.stub().callsFake(async () => {
          if (Context.current().info.attempt <= 8) throw new Error('email provider: 503 Service Unavailable');
          return { sent: true, channels: ['email', 'in_app'] };
        });
      },
    });
    await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('15 days');
      await api.check(handle, { checkId: 'c-twins', kind: 'pregnancy', date: day(anchorDate, 15), result: 'twins' });
      await env.sleep('2 days');
      await api.lose(handle, day(anchorDate, 17));
      await handle.result();
    });
    expect(alert!.callCount).to.equal(9);
    expect(await alert!.lastCall.returnValue).to.deep.equal({ sent: true, channels: ['email', 'in_app'] });
  });

  it('survives a database outage of a day: keeps reading the gestation until the database is back, then ends as recorded', async () => {
    const { worker, start, sentAt, anchorDate, api, db, acts } = await setup();
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('5 days');
      db.down = true;
      await api.lose(handle, day(anchorDate, 5));
      await env.sleep('1 day');
      db.down = false;
      return handle.result();
    });
    expect(result.status).to.equal('lost');
    expect(acts.loadGestation.callCount, 'reads retried during the outage').to.be.greaterThan(20);
    expect(sentAt).to.deep.equal([]);
  });

  it('catches up with a change whose signal was lost at its next wake-up (at most a week): the database is the source of truth', async () => {
    const { worker, start, sentAt, anchorDate, db } = await setup();
    const result = await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('50 days');
      // The API committed a corrected cover date (5 days later) but its signal never arrived.
      db.plan.anchorDate = addDaysIso(anchorDate, 5);
      await env.sleep('110 days');
      // ... and later a loss, again without a signal: ended at the next weekly read.
      db.status = 'lost';
      await env.sleep('8 days');
      return handle.result();
    });
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation', 'ehv1-month-5']);
    expectAt(sentAt[3].at, `${addDaysIso(anchorDate, 5 + 148)}T08:00:00.000Z`, 'ehv1-month-5 at the corrected date');
    expect(result.status).to.equal('lost');
  });

  it('ends quietly when the gestation row is not in the database (creation rolled back, or deleted with its mare): nothing is sent', async () => {
    const orphan = await setup({ daysAgo: 13, wrap: (_acts, db) => (db.gone = true) });
    const result = await orphan.worker.runUntil(async () => (await orphan.start()).result());
    expect(result).to.deep.include({ gone: true, sent: [] });
    sinon.assert.notCalled(orphan.acts.sendGestationReminder);

    const deleted = await setup();
    const later = await deleted.worker.runUntil(async () => {
      const handle = await deleted.start();
      await env.sleep('20 days');
      deleted.db.gone = true;
      await deleted.api.correct(handle, deleted.anchorDate); // any wake-up
      return handle.result();
    });
    expect(later).to.deep.include({ gone: true, sent: ['check-pregnancy'] });
  });

  it('ends without sending when the database says the gestation ended, even before the signal arrives', async () => {
    const { worker, start, acts, db } = await setup({
      wrap: (acts, db) => {
        // The API ended it in the database; the send activity finds it so on day 12.
        const send = acts.sendGestationReminder;
        acts.sendGestationReminder = sinon.stub().callsFake(async (req: ReminderRequest) => {
          db.status = 'lost';
          return send(req);
        });
      },
    });
    const result = await worker.runUntil(async () => (await start()).result());
    expect(result).to.deep.include({ status: 'lost', sent: [] });
    expect(db.sent).to.deep.equal({});
    sinon.assert.calledOnce(acts.sendGestationReminder);
  });

  it('continues as new (forced every 2 reminders by the test-only input) without losing sent, done, failed, missed or alerted', async function () {
    this.timeout(60_000);
    const { worker, start, sentAt, anchorDate, api, acts, input } = await setup({
      daysAgo: 20, // check-pregnancy missed
      continueAsNewAfter: 2,
      wrap: (acts) => {
        const send = acts.sendGestationReminder;
        acts.sendGestationReminder = sinon.stub().callsFake(async (req: ReminderRequest) => {
          if (req.milestone.id === 'ehv1-month-5') throw ApplicationFailure.nonRetryable('no channel went out', ErrorType.ServiceUnavailable);
          return send(req);
        });
      },
    });
    const { timeline, runs, result } = await worker.runUntil(async () => {
      const handle = await start();
      await api.check(handle, { checkId: 'c-twins', kind: 'heartbeat', date: day(anchorDate, 21), result: 'twins' });
      await env.sleep('300 days');
      const timeline = await handle.query(timelineQuery);
      const runs = (await handle.describe()).runId !== handle.firstExecutionRunId;
      await api.foal(handle, day(anchorDate, 320));
      return { timeline, runs, result: await handle.result() };
    });
    expect(runs, 'the workflow continued as new').to.equal(true);
    const plan = gestationMilestones(input);
    const expectedSent = plan.filter((m) => m.dueDay > 25 && m.id !== 'ehv1-month-5' && daysFrom(anchorDate, m.reminderDate) < 320).map((m) => m.id);
    expect(sentIds(sentAt)).to.deep.equal(expectedSent);
    expect(states(timeline)).to.include({ 'check-pregnancy': 'missed', 'check-heartbeat': 'done', 'ehv1-month-5': 'failed', 'check-confirmation': 'sent' });
    sinon.assert.calledOnce(acts.sendGestationAlert);
    expect(result).to.deep.include({ status: 'foaled', missed: ['check-pregnancy'], failed: ['ehv1-month-5'] });
    expect(result.sent).to.deep.equal(expectedSent);
  });

  it('moves future reminders when the lead time changes (one whose new time already passed goes out at once) and adds a switched-on optional milestone', async () => {
    const { worker, start, sentAt, anchorDate, api } = await setup();
    let changedAt = 0;
    await worker.runUntil(async () => {
      const handle = await start();
      await env.sleep('20 days');
      changedAt = await env.currentTimeMs();
      await api.remindersChanged(handle, { leadDays: 7, options: { fetalSexing: true } });
      await env.sleep('40 days');
      await api.lose(handle, day(anchorDate, 60));
      await handle.result();
    });
    expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat', 'check-confirmation', 'check-sexing']);
    // heartbeat (day 25) moved to day 18, already past on day 20 but still due: sent when the change arrived
    expect(sentAt[1].at - changedAt).to.be.within(0, 60_000);
    expectAt(sentAt[2].at, `${day(anchorDate, 38)}T08:00:00.000Z`, 'confirmation');
    expectAt(sentAt[3].at, `${day(anchorDate, 53)}T08:00:00.000Z`, 'sexing');
  });

  // The reminder window: the plan the activity reads carries the gestation's offset
  // (REMINDER_WINDOW_MINUTES, from a hash of its id); absent or 0, everything goes out at
  // REMINDER_TIME_UTC as before. The fake send re-checks with the same plan, as the real one.
  for (const offsetSeconds of [722, 0]) {
    it(`sends each milestone's reminder at 08:00 UTC + the gestation's offset in the reminder window (${offsetSeconds} s), never before, and shows that instant in the queries`, async function () {
      this.timeout(60_000);
      const { worker, start, sentAt, anchorDate } = await setup({
        wrap: (_acts, db) => {
          db.plan = { ...db.plan, reminderTimeUtc: '08:00', reminderOffsetSeconds: offsetSeconds };
        },
      });
      const at = (n: number) => Date.parse(`${day(anchorDate, n)}T08:00:00.000Z`) + offsetSeconds * 1000;
      // check-pregnancy (day 14) reminded on day 12, check-heartbeat (day 25) on day 23.
      const seen = await worker.runUntil(async () => {
        const handle = await start();
        await env.sleep(at(12) - 1000 - (await env.currentTimeMs()));
        const next = await handle.query(nextReminderQuery);
        const timeline = await handle.query(timelineQuery);
        const sentBefore = sentAt.length;
        await env.sleep('12 days');
        await handle.terminate('test over');
        return { next, timeline, sentBefore };
      });
      expect(seen.sentBefore, "nothing sent a second before the gestation's instant").to.equal(0);
      expect(seen.next).to.include({ id: 'check-pregnancy', reminderAt: new Date(at(12)).toISOString() });
      expect(seen.timeline.milestones.find((m) => m.id === 'check-heartbeat')?.reminderAt).to.equal(new Date(at(23)).toISOString());
      expect(sentIds(sentAt)).to.deep.equal(['check-pregnancy', 'check-heartbeat']);
      for (const [i, n] of [12, 23].entries()) {
        expect(sentAt[i].at, `${sentAt[i].id} not before its instant`).to.be.at.least(at(n));
        expectAt(sentAt[i].at, new Date(at(n)).toISOString(), sentAt[i].id);
      }
    });
  }
});
