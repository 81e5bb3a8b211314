import { expect } from 'chai';
import sinon from 'sinon';
import { fileURLToPath } from 'node:url';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { healthReminders } from '../../workflows/health/healthReminders';
import { nextDueQuery, planChangedSignal, recordChangedSignal, remindersChangedSignal } from '../../workflows/health/messages';
import { healthWorkflowId } from '../../workflows/ids';
import { carePlan, dayOf, plusDays, plusMonths, reminderTimes, type CareItemKey, type HealthRecordFacts, type PlanOverride, type ReminderStage } from '../../domain/health';
import { ErrorType } from '../../domain/errors';
import type { HealthReminderOutcome, HealthReminderRequest, HealthReminderSnapshot } from '../../activities/health';
import { createTimeSkippingEnv, uniqueQueue } from '../support/temporal-env';

// The health worker's own bundle (workflows/health/index.ts), bundled once for the file.
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
const workflowBundle = () =>
  (bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../workflows/health/index.ts', import.meta.url)),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  }));

type Handle = WorkflowHandle<typeof healthReminders>;

/** The horse's health book as the database has it: the stubbed activities read it with the real plan rules. */
interface FakeDb {
  birthDate: string | null;
  records: HealthRecordFacts[];
  overrides: PlanOverride[];
  leadDays: number;
  /** `key|dueDate` → stages logged. */
  logs: Map<string, ReminderStage[]>;
  gone: boolean;
  /** When set, the care is recorded on its due date as soon as its reminder went out (a diligent barn). */
  doneOnDueDate: boolean;
  /** Sends answer without the snapshot, as in histories written before sends returned one. */
  oldSends: boolean;
  /** The horse's offset in the reminder window the snapshot carries (REMINDER_TIME_UTC 08:00); absent = none, as in older histories. */
  offsetSeconds?: number;
}

interface Sent {
  key: CareItemKey;
  dueDate: string;
  stage: ReminderStage;
  at: number;
}

let ids = 0;
const record = (kind: HealthRecordFacts['kind'], date: string, details: HealthRecordFacts['details']): HealthRecordFacts =>
  ({ id: `rec-${++ids}`, kind, date, details, createdById: 'u1', createdAt: `${date}T12:00:00.000Z` }) as HealthRecordFacts;
/** The record that completes an item on a date (what the owner enters once the care is done). */
function careDone(key: CareItemKey, date: string): HealthRecordFacts {
  if (key === 'farrier') return record('farrier', date, { work: 'shoes' });
  if (key === 'dental') return record('dental', date, {});
  if (key.startsWith('vaccination:')) return record('vaccination', date, { diseases: [key.split(':')[1] as 'influenza'] });
  throw new Error(`no completing record for ${key}`);
}

describe('healthReminders workflow (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  // A running workflow that no worker polls any more stops the test server from skipping
  // time for every later test: each test's workflows are terminated when it ends.
  const started: Handle[] = [];
  afterEach(async () => {
    for (const h of started.splice(0)) await h.terminate('test over').catch(() => {});
  });

  function activities(db: FakeDb) {
    const sent: Sent[] = [];
    const plan = () => carePlan({ birthDate: db.birthDate, records: db.records, overrides: db.overrides, today: '2000-01-01' }).filter((i) => i.enabled && i.nextDue);
    const snapshot = () => ({
      found: true as const,
      ...(db.offsetSeconds !== undefined ? { reminderTimeUtc: '08:00', reminderOffsetSeconds: db.offsetSeconds } : {}),
      items: plan().map((i) => ({ key: i.key, title: i.title, dueDate: i.nextDue!, sent: db.logs.get(`${i.key}|${i.nextDue}`) ?? [], leadDays: db.leadDays })),
    });
    // As the real send: every answer but 'gone' carries the snapshot read after it ran.
    const withSnapshot = <T extends HealthReminderOutcome>(outcome: T): T => (db.oldSends ? outcome : { ...outcome, snapshot: snapshot() });
    const acts = {
      loadHealthReminders: sinon.stub().callsFake(async (): Promise<HealthReminderSnapshot> => (db.gone ? { found: false } : snapshot())),
      sendHealthReminder: sinon.stub().callsFake(async (req: HealthReminderRequest): Promise<HealthReminderOutcome> => {
        if (db.gone) return { outcome: 'gone' };
        const k = `${req.key}|${req.dueDate}`;
        if (db.logs.get(k)?.includes(req.stage)) return withSnapshot({ outcome: 'already-sent', recipients: ['u1'], channels: ['email', 'in_app'] });
        const item = plan().find((i) => i.key === req.key);
        if (item?.nextDue !== req.dueDate) return withSnapshot({ outcome: 'replanned' });
        // As the real send: a reminder the current lead time puts after the planned instant is not due yet.
        // With the horse's offset in the reminder window, as the real one (reminderClock).
        if (req.stage === 'reminder' && reminderTimes(req.dueDate, db.leadDays, '08:00', db.offsetSeconds ?? 0).remindAt > Date.parse(req.plannedAt)) return withSnapshot({ outcome: 'replanned' });
        sent.push({ ...req, at: Context.current().info.currentAttemptScheduledTimestampMs });
        db.logs.set(k, [...(db.logs.get(k) ?? []), req.stage]);
        if (db.doneOnDueDate && req.stage === 'reminder') db.records.push(careDone(req.key, req.dueDate));
        return withSnapshot({ outcome: 'sent', recipients: ['u1'], channels: ['email', 'in_app'] });
      }),
    };
    return { acts, sent };
  }

  async function setup(
    opts: {
      records?: (today: string) => HealthRecordFacts[];
      birthDate?: string | null;
      doneOnDueDate?: boolean;
      noCache?: boolean;
      continueAsNewAfter?: number;
      leadDays?: number;
      oldSends?: boolean;
      /** The reminder window offset the snapshots carry (seconds after 08:00). */
      offsetSeconds?: number;
      /** Replaces activities before the worker is created (they may call the fake ones). */
      wrap?: (acts: ReturnType<typeof activities>['acts']) => void;
    } = {},
  ) {
    const taskQueue = uniqueQueue('health');
    const today = dayOf(await env.currentTimeMs());
    const db: FakeDb = {
      birthDate: opts.birthDate ?? '2012-04-01',
      records: opts.records?.(today) ?? [],
      overrides: [],
      leadDays: opts.leadDays ?? 2,
      logs: new Map(),
      gone: false,
      doneOnDueDate: opts.doneOnDueDate ?? false,
      oldSends: opts.oldSends ?? false,
      ...(opts.offsetSeconds !== undefined ? { offsetSeconds: opts.offsetSeconds } : {}),
    };
    const recorder = activities(db);
    opts.wrap?.(recorder.acts);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: recorder.acts,
      ...(opts.noCache ? { maxCachedWorkflows: 0 } : {}),
    });
    const horseId = taskQueue;
    const start = async () => {
      const h = await env.client.workflow.start(healthReminders, {
        taskQueue,
        workflowId: healthWorkflowId(horseId),
        args: [{ horseId, ...(opts.continueAsNewAfter ? { continueAsNewAfter: opts.continueAsNewAfter } : {}) }],
      });
      started.push(h);
      return h;
    };
    // What the API does: commit, then wake the workflow.
    const api = {
      addRecord: (h: Handle, r: HealthRecordFacts) => {
        db.records.push(r);
        return h.signal(recordChangedSignal, { recordId: r.id });
      },
      setPlan: (h: Handle, o: PlanOverride) => {
        db.overrides = [...db.overrides.filter((x) => x.key !== o.key), o];
        return h.signal(planChangedSignal, { key: o.key });
      },
      setLeadDays: (h: Handle, leadDays: number) => {
        db.leadDays = leadDays;
        return h.signal(remindersChangedSignal, { leadDays });
      },
    };
    return { taskQueue, today, db, worker, start, api, ...recorder };
  }

  /** The activity is scheduled a few ms after the timer fires (after the re-read). */
  const expectAt = (at: number, iso: string, what = '') => expect(Math.abs(at - Date.parse(iso)), `${what} sent at ${new Date(at).toISOString()}, expected ${iso}`).to.be.below(5_000);
  const at8 = (date: string) => `${date}T08:00:00.000Z`;
  const once = (sent: Sent[]) => new Set(sent.map((s) => `${s.key}|${s.dueDate}|${s.stage}`)).size === sent.length;

  it('sends a year of farrier, dental and vaccination reminders, each once, lead days before its due date at 08:00 UTC', async function () {
    this.timeout(90_000);
    const s = await setup({
      doneOnDueDate: true,
      records: (today) => [
        record('farrier', plusDays(today, -7), { work: 'shoes' }),
        record('dental', plusDays(today, -300), {}),
        record('vaccination', plusDays(today, -10), { diseases: ['influenza'], doseNumber: 1 }),
      ],
    });
    await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('365 days');
      await h.terminate('test over');
    });
    // The expected plan: each done on its due date, the next due from it.
    const expected: { key: CareItemKey; dueDate: string }[] = [];
    for (let due = plusDays(s.today, 35); due <= plusDays(s.today, 367); due = plusDays(due, 42)) expected.push({ key: 'farrier', dueDate: due });
    expected.push({ key: 'dental', dueDate: plusMonths(plusDays(s.today, -300), 12) });
    const dose2 = plusDays(s.today, 18);
    expected.push({ key: 'vaccination:influenza', dueDate: dose2 }, { key: 'vaccination:influenza', dueDate: plusMonths(dose2, 6) });
    const sorted = (l: { key: string; dueDate: string }[]) => l.map((x) => `${x.dueDate} ${x.key}`).sort();
    expect(sorted(s.sent)).to.deep.equal(sorted(expected));
    expect(s.sent.every((x) => x.stage === 'reminder'), 'no escalation: everything was done on time').to.equal(true);
    expect(once(s.sent)).to.equal(true);
    for (const x of s.sent) expectAt(x.at, at8(plusDays(x.dueDate, -2)), `${x.key} ${x.dueDate}`);
    expect(s.sent.filter((x) => x.key === 'farrier')).to.have.length(8);
  });

  it('moves the next reminder when a record is added mid-way (the farrier came early), and never sends the old one', async () => {
    const s = await setup({ records: (today) => [record('farrier', plusDays(today, -7), { work: 'trim' })] });
    const state = await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('10 days');
      await s.api.addRecord(h, record('farrier', plusDays(s.today, 10), { work: 'reset' }));
      await env.sleep('41 days'); // to day 51: past the new reminder (day 50), before its escalation (day 53)
      return h.query(nextDueQuery);
    });
    expect(s.sent.map((x) => [x.key, x.dueDate, x.stage])).to.deep.equal([['farrier', plusDays(s.today, 52), 'reminder']]);
    expectAt(s.sent[0].at, at8(plusDays(s.today, 50)));
    expect(state.upcoming.map((u) => [u.dueDate, u.stage])).to.deep.equal([[plusDays(s.today, 52), 'overdue']]);
  });

  it('escalates once the day after an item falls overdue, and only once however long it stays overdue', async () => {
    const s = await setup({ records: (today) => [record('farrier', plusDays(today, -37), { work: 'trim' })] });
    const due = plusDays(s.today, 5);
    const upcoming = await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('60 days');
      const state = await h.query(nextDueQuery);
      await h.terminate('test over');
      return state.upcoming;
    });
    expect(s.sent.map((x) => [x.key, x.dueDate, x.stage])).to.deep.equal([
      ['farrier', due, 'reminder'],
      ['farrier', due, 'overdue'],
    ]);
    expectAt(s.sent[0].at, at8(plusDays(due, -2)));
    expectAt(s.sent[1].at, at8(plusDays(due, 1)));
    expect(upcoming.filter((u) => u.key === 'farrier'), 'nothing more planned for the overdue item').to.deep.equal([]);
  });

  it('sends only the escalation for an item already overdue when its workflow starts (history entered from paper)', async () => {
    const s = await setup({ records: (today) => [record('dental', plusDays(today, -500), {})] });
    await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('1 day');
      await h.terminate('test over');
    });
    expect(s.sent.map((x) => [x.key, x.stage])).to.deep.equal([['dental', 'overdue']]);
  });

  it('follows a plan change: an interval override moves the reminder, switching the item off stops it', async () => {
    const s = await setup({ records: (today) => [record('farrier', plusDays(today, -7), { work: 'trim' }), record('dental', plusDays(today, -360), {})] });
    await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('1 hour');
      await s.api.setPlan(h, { key: 'farrier', enabled: true, intervalDays: 21 });
      await s.api.setPlan(h, { key: 'dental', enabled: false });
      await env.sleep('20 days');
      await h.terminate('test over');
    });
    expect(s.sent.map((x) => [x.key, x.dueDate, x.stage])).to.deep.equal([
      ['farrier', plusDays(s.today, 14), 'reminder'],
      ['farrier', plusDays(s.today, 14), 'overdue'],
    ]);
  });

  it('moves the reminder at once when a recipient changes their lead time (remindersChanged), not at the weekly re-read', async () => {
    // Farrier due on day 10: with 2 days' lead the reminder is on day 8, so the workflow sleeps
    // until its weekly re-read on day 7. A lead time of 7 days set on day 0 means day 3: only
    // the signal can make it go out then.
    const s = await setup({ records: (today) => [record('farrier', plusDays(today, -32), { work: 'trim' })] });
    const due = plusDays(s.today, 10);
    await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('1 hour');
      const before = await h.query(nextDueQuery);
      expect(before.upcoming[0]).to.include({ key: 'farrier', stage: 'reminder', at: at8(plusDays(due, -2)) });
      await s.api.setLeadDays(h, 7);
      await env.sleep('4 days');
      await h.terminate('test over');
    });
    expect(s.sent.map((x) => [x.key, x.dueDate, x.stage])).to.deep.equal([['farrier', due, 'reminder']]);
    expectAt(s.sent[0].at, at8(plusDays(due, -7)), 'the reminder with the new lead time');
  });

  // A timer wake-up sends from the workflow's last read without reading again (one round trip
  // to the server); the send re-checks the database. These changes reach the database after
  // the last read and before the reminder, with their signal lost: nothing stale goes out.
  it('does not send a stale reminder when a record arrives after the last read and its signal is lost; the new one goes out on time', async () => {
    const s = await setup({ records: (today) => [record('farrier', plusDays(today, -7), { work: 'trim' })] });
    // Due day 35, reminded day 33. Weekly re-reads on days 7..28, then asleep until day 33.
    await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('30 days');
      s.db.records.push(record('farrier', plusDays(s.today, 30), { work: 'reset' })); // no signal
      await env.sleep('41 days'); // to day 71: past the new reminder (day 70), before its escalation (day 73)
      await h.terminate('test over');
    });
    const stale = { key: 'farrier', dueDate: plusDays(s.today, 35), stage: 'reminder' };
    const answers = await Promise.all(s.acts.sendHealthReminder.getCalls().map(async (c) => [(c.args[0] as HealthReminderRequest).dueDate, ((await c.returnValue) as HealthReminderOutcome).outcome]));
    expect(answers[0], 'the stale reminder was asked for and refused').to.deep.equal([stale.dueDate, 'replanned']);
    expect(s.sent.map((x) => [x.key, x.dueDate, x.stage])).to.deep.equal([['farrier', plusDays(s.today, 72), 'reminder']]);
    expectAt(s.sent[0].at, at8(plusDays(s.today, 70)));
  });

  it('does not send a reminder early when the lead time was shortened after the last read and its signal is lost', async () => {
    const s = await setup({ leadDays: 7, records: (today) => [record('farrier', plusDays(today, -10), { work: 'trim' })] });
    // Due day 32: with 7 days' lead reminded day 25 (re-reads on days 7, 14, 21, then asleep until day 25).
    const due = plusDays(s.today, 32);
    await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('22 days');
      s.db.leadDays = 2; // no signal
      await env.sleep('9 days'); // to day 31: past the reminder with 2 days' lead (day 30), before the escalation (day 33)
      await h.terminate('test over');
    });
    const first = s.acts.sendHealthReminder.getCall(0);
    expect(((await first.returnValue) as HealthReminderOutcome).outcome, 'the early reminder was asked for and refused').to.equal('replanned');
    expectAt(Date.parse((first.args[0] as HealthReminderRequest).plannedAt), at8(plusDays(due, -7)), 'the planned instant');
    expect(s.sent.map((x) => [x.key, x.dueDate, x.stage])).to.deep.equal([['farrier', due, 'reminder']]);
    expectAt(s.sent[0].at, at8(plusDays(due, -2)), 'the reminder with the shortened lead time');
  });

  // A timer wake-up with a send: the send's answer carries the snapshot read after it ran, and
  // the workflow plans its next sleep from it (2 workflow tasks and 1 activity, as a raw timer).
  describe('a wake-up with a send', () => {
    // Farrier due day 35, reminded day 33 08:00; the weekly re-reads happen on days 7..28.
    const scenario = async (oldSends: boolean) => {
      const s = await setup({ oldSends, records: (today) => [record('farrier', plusDays(today, -7), { work: 'trim' })] });
      const due = plusDays(s.today, 35);
      const { loadsBefore, upcoming, history } = await s.worker.runUntil(async () => {
        const h = await s.start();
        await env.sleep('32 days'); // before day 33 08:00 whatever the time of day now
        const loadsBefore = s.acts.loadHealthReminders.callCount;
        await env.sleep('2 days'); // past the reminder, before the escalation (day 36)
        const upcoming = (await h.query(nextDueQuery)).upcoming;
        const history = await h.fetchHistory();
        await h.terminate('test over');
        return { loadsBefore, upcoming, history };
      });
      // The activities the workflow scheduled after the send (up to the test's end).
      const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
      const afterSend = scheduled.slice(scheduled.indexOf('sendHealthReminder') + 1);
      return { s, due, loadsAfter: s.acts.loadHealthReminders.callCount - loadsBefore, upcoming, afterSend };
    };

    it('plans from the snapshot the send returned: no second read before it sleeps until the escalation', async () => {
      const { s, due, loadsAfter, upcoming, afterSend } = await scenario(false);
      expect(s.sent.map((x) => [x.key, x.dueDate, x.stage])).to.deep.equal([['farrier', due, 'reminder']]);
      expectAt(s.sent[0].at, at8(plusDays(due, -2)));
      expect(loadsAfter, 'reads from day 32 to day 34').to.equal(0);
      expect(afterSend, 'activities scheduled after the send').to.deep.equal([]);
      expect(upcoming.map((u) => [u.dueDate, u.stage, u.at])).to.deep.equal([[due, 'overdue', at8(plusDays(due, 1))]]);
    });

    it('reads again after a send whose answer has no snapshot (a history written before sends returned one), with the same outcome', async () => {
      const { s, due, loadsAfter, upcoming, afterSend } = await scenario(true);
      expect(s.sent.map((x) => [x.key, x.dueDate, x.stage])).to.deep.equal([['farrier', due, 'reminder']]);
      expect(loadsAfter, 'reads from day 32 to day 34').to.equal(1);
      expect(afterSend, 'activities scheduled after the send').to.deep.equal(['loadHealthReminders']);
      expect(upcoming.map((u) => [u.dueDate, u.stage, u.at])).to.deep.equal([[due, 'overdue', at8(plusDays(due, 1))]]);
    });

    it('still reads when a signal arrives during the send (its snapshot may predate the change)', async () => {
      let handle: Handle | undefined;
      const s = await setup({
        records: (today) => [record('farrier', plusDays(today, -37), { work: 'trim' })],
        wrap: (acts) => {
          const real = acts.sendHealthReminder;
          acts.sendHealthReminder = sinon.stub().callsFake(async (req: HealthReminderRequest) => {
            const answer = await real(req); // snapshot read before the farrier came
            if (req.stage === 'reminder') await s.api.addRecord(handle!, record('farrier', plusDays(s.today, 4), { work: 'reset' }));
            return answer;
          });
        },
      });
      await s.worker.runUntil(async () => {
        handle = await s.start();
        await env.sleep('10 days');
        await handle.terminate('test over');
      });
      // Due day 5, reminded day 3; the record (entered during the send) moves it to day 46. Planned
      // from the send's snapshot alone, the workflow would wake on day 6 for an escalation the send
      // would then refuse; the read the signal asked for plans the next sleep from the new record.
      expect(s.sent.map((x) => [x.dueDate, x.stage])).to.deep.equal([[plusDays(s.today, 5), 'reminder']]);
      expect(s.acts.sendHealthReminder.callCount, 'no escalation attempted').to.equal(1);
      expect(s.acts.loadHealthReminders.callCount, 'the first read and the one the signal asked for').to.be.at.least(2);
    });
  });

  it('continues after a worker restart: nothing resent, the next reminder on time', async function () {
    this.timeout(30_000);
    // No workflow cache (no sticky queue): the second worker rebuilds the workflow from its history.
    const first = await setup({ noCache: true, doneOnDueDate: true, records: (today) => [record('farrier', plusDays(today, -40), { work: 'trim' })] });
    const handle = await first.worker.runUntil(async () => {
      const h = await first.start();
      await env.sleep('10 days');
      return h;
    });
    expect(first.sent.map((x) => [x.dueDate, x.stage])).to.deep.equal([[plusDays(first.today, 2), 'reminder']]);
    const second = activities(first.db);
    const worker2 = await Worker.create({ connection: env.nativeConnection, taskQueue: first.taskQueue, workflowBundle: await workflowBundle(), activities: second.acts });
    await worker2.runUntil(async () => {
      await env.sleep('40 days');
      await handle.terminate('test over');
    });
    expect(second.sent.map((x) => [x.dueDate, x.stage])).to.deep.equal([[plusDays(first.today, 44), 'reminder']]);
    expectAt(second.sent[0].at, at8(plusDays(first.today, 42)));
  });

  it('continues as new (forced every 2 sends by the test-only input) without resending anything', async function () {
    this.timeout(60_000);
    const s = await setup({ doneOnDueDate: true, continueAsNewAfter: 2, records: (today) => [record('farrier', plusDays(today, -40), { work: 'trim' })] });
    const runs = await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('200 days');
      const d = await h.describe();
      await h.terminate('test over');
      return d.runId !== h.firstExecutionRunId;
    });
    expect(runs, 'a new run took over').to.equal(true);
    expect(s.sent.map((x) => x.dueDate)).to.deep.equal([0, 1, 2, 3, 4].map((n) => plusDays(s.today, 2 + 42 * n)));
    expect(once(s.sent)).to.equal(true);
  });

  it('gives up on a send that fails for good, carries on with the next item, and does not retry it', async () => {
    let refused = 0;
    const s = await setup({
      records: (today) => [record('farrier', plusDays(today, -37), { work: 'trim' }), record('dental', plusDays(today, -355), {})],
      wrap: (acts) => {
        const real = acts.sendHealthReminder;
        acts.sendHealthReminder = sinon.stub().callsFake(async (req: HealthReminderRequest) => {
          if (req.key === 'farrier' && req.stage === 'reminder') {
            refused += 1;
            throw ApplicationFailure.nonRetryable('no channel works', ErrorType.ServiceUnavailable);
          }
          return real(req);
        });
      },
    });
    await s.worker.runUntil(async () => {
      await s.start();
      await env.sleep('20 days');
    });
    expect(refused).to.equal(1);
    expect(s.sent.map((x) => [x.key, x.stage])).to.deep.equal([
      ['farrier', 'overdue'],
      ['dental', 'reminder'],
      ['dental', 'overdue'],
    ]);
  });

  it('ends quietly when the horse is deleted', async () => {
    const s = await setup({ records: (today) => [record('farrier', plusDays(today, -7), { work: 'trim' })] });
    const result = await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('1 day');
      s.db.gone = true;
      await h.signal(recordChangedSignal, {});
      return h.result();
    });
    expect(result).to.deep.equal({ gone: true, sentThisRun: 0 });
    expect(s.sent).to.deep.equal([]);
  });

  it('shows the reminders still to go out in the nextDue query', async () => {
    const s = await setup({ records: (today) => [record('farrier', plusDays(today, -7), { work: 'trim' })] });
    const state = await s.worker.runUntil(async () => {
      const h = await s.start();
      await env.sleep('1 hour');
      const q = await h.query(nextDueQuery);
      await h.terminate('test over');
      return q;
    });
    const due = plusDays(s.today, 35);
    expect(state.upcoming).to.deep.equal([
      { key: 'farrier', title: 'Farrier (trim or shoes)', dueDate: due, stage: 'reminder', at: at8(plusDays(due, -2)) },
      { key: 'farrier', title: 'Farrier (trim or shoes)', dueDate: due, stage: 'overdue', at: at8(plusDays(due, 1)) },
    ]);
    expect(state.loadedAt).to.be.a('string');
  });

  // The reminder window: the snapshot carries the horse's offset (REMINDER_WINDOW_MINUTES, from
  // a hash of its id); absent or 0, everything goes out at REMINDER_TIME_UTC as before.
  for (const offsetSeconds of [1087, 0]) {
    it(`sends the reminder and the escalation at 08:00 UTC + the horse's offset in the reminder window (${offsetSeconds} s), never before, and shows that instant in nextDue`, async function () {
      this.timeout(60_000);
      const s = await setup({
        // Farrier 37 days ago: due in 5 days, reminder on day 3, escalation on day 6.
        records: (today) => [record('farrier', plusDays(today, -37), { work: 'trim' })],
        offsetSeconds,
      });
      const due = plusDays(s.today, 5);
      const remindAt = reminderTimes(due, 2, '08:00', offsetSeconds).remindAt;
      const overdueAt = reminderTimes(due, 2, '08:00', offsetSeconds).overdueAt;
      expect(new Date(remindAt).toISOString()).to.equal(new Date(Date.parse(at8(plusDays(due, -2))) + offsetSeconds * 1000).toISOString());
      const before = await s.worker.runUntil(async () => {
        const h = await s.start();
        await env.sleep(remindAt - 1000 - (await env.currentTimeMs()));
        const state = await h.query(nextDueQuery);
        const sentBefore = s.sent.length;
        await env.sleep('4 days');
        await h.terminate('test over');
        return { state, sentBefore };
      });
      expect(before.sentBefore, 'nothing sent a second before the horse\'s instant').to.equal(0);
      expect(before.state.upcoming.map((u) => [u.stage, u.at])).to.deep.equal([
        ['reminder', new Date(remindAt).toISOString()],
        ['overdue', new Date(overdueAt).toISOString()],
      ]);
      expect(s.sent.map((x) => x.stage)).to.deep.equal(['reminder', 'overdue']);
      expect(s.sent[0].at, 'the reminder not before its instant').to.be.at.least(remindAt);
      expect(s.sent[1].at, 'the escalation not before its instant').to.be.at.least(overdueAt);
      expectAt(s.sent[0].at, new Date(remindAt).toISOString(), 'reminder');
      expectAt(s.sent[1].at, new Date(overdueAt).toISOString(), 'escalation');
    });
  }
});
