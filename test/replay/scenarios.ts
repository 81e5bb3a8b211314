import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { welcomeWorkflow } from '../../workflows/accounts/welcome';
import { accountsReconcile } from '../../workflows/accounts/accountsReconcile';
import { grantFreePlanCredits } from '../../workflows/accounts/grantFreePlanCredits';
import { accountEmail } from '../../workflows/accounts/accountEmail';
import { accountEmailsReconcile } from '../../workflows/accounts/accountEmailsReconcile';
import { gestationTracking } from '../../workflows/gestation/gestationTracking';
import { checkRecordedSignal, coverDateCorrectedSignal, foaledSignal } from '../../workflows/gestation/messages';
import { listingLifecycle } from '../../workflows/marketplace/listingLifecycle';
import { renewedSignal } from '../../workflows/marketplace/messages';
import { marketplaceReconcile } from '../../workflows/marketplace/marketplaceReconcile';
import { ApplicationFailure } from '@temporalio/common';
import { analyzeVideo } from '../../workflows/analysis/analyzeVideo';
import { analysisReconcile } from '../../workflows/analysis/analysisReconcile';
import { progressQuery } from '../../workflows/analysis/messages';
import { subscriptionLifecycle } from '../../workflows/billing/subscriptionLifecycle';
import { billingReconcile } from '../../workflows/billing/billingReconcile';
import { stripeEventSignal } from '../../workflows/billing/messages';
import { healthReminders } from '../../workflows/health/healthReminders';
import { healthReconcile } from '../../workflows/health/healthReconcile';
import { planChangedSignal, recordChangedSignal, remindersChangedSignal } from '../../workflows/health/messages';

/**
 * One representative run per workflow, with canned activity results. Captured once into
 * histories/*.json (scripts/capture-history.ts); test/replay/replay.test.ts replays them
 * against the current workflow code, so a change that would break running workflows
 * fails CI before deploy. A feature adds its workflow here.
 */
export interface ReplayScenario {
  name: string;
  /** Workflow function name as registered in workflows/index.ts. */
  workflowType: string;
  activities: () => Record<string, (...args: any[]) => Promise<unknown>>;
  run: (env: TestWorkflowEnvironment, opts: { taskQueue: string; workflowId: string }) => Promise<unknown>;
}

export const replayScenarios: ReplayScenario[] = [
  {
    name: 'welcome',
    workflowType: 'welcomeWorkflow',
    activities: () => ({
      sendWelcomeEmail: async () => ({ status: 'sent', outboxId: 'o1' }),
      notifyInApp: async () => ({ notificationId: 'n1', created: true }),
    }),
    run: (env, { taskQueue, workflowId }) => env.client.workflow.execute(welcomeWorkflow, { taskQueue, workflowId, args: [{ userId: 'u1' }] }),
  },
  {
    // A reconcile pass that starts one missing welcome workflow (the child is abandoned).
    name: 'accounts-reconcile',
    workflowType: 'accountsReconcile',
    activities: () => ({ findUsersMissingWelcome: async () => ['u-replay'] }),
    run: (env, { taskQueue, workflowId }) => env.client.workflow.execute(accountsReconcile, { taskQueue, workflowId, args: [{}] }),
  },
  {
    // A verification link email: only the token row's id is in the history.
    name: 'account-email',
    workflowType: 'accountEmail',
    activities: () => ({ deliverAccountEmail: async () => ({ status: 'sent' }) }),
    run: (env, { taskQueue, workflowId }) =>
      env.client.workflow.execute(accountEmail, { taskQueue, workflowId, args: [{ kind: 'verify-email', id: '00000000-0000-4000-8000-000000000001' }] }),
  },
  {
    // A sweep that starts the one email whose workflow never started (the child is abandoned).
    name: 'account-emails-reconcile',
    workflowType: 'accountEmailsReconcile',
    activities: () => ({
      findUnsentAccountEmails: async () => [{ kind: 'invitation', id: '00000000-0000-4000-8000-000000000002' }],
      deliverAccountEmail: async () => ({ status: 'sent' }),
    }),
    run: (env, { taskQueue, workflowId }) => env.client.workflow.execute(accountEmailsReconcile, { taskQueue, workflowId, args: [{}] }),
  },
  {
    // Two pages of free-plan users.
    name: 'free-plan-credits',
    workflowType: 'grantFreePlanCredits',
    activities: () => {
      let page = 0;
      return { grantFreePlanCreditsBatch: async () => (++page === 1 ? { granted: 2, lastId: 'u2' } : { granted: 1, lastId: null }) };
    },
    run: (env, { taskQueue, workflowId }) => env.client.workflow.execute(grantFreePlanCredits, { taskQueue, workflowId, args: [{ period: '2026-12', pageSize: 2 }] }),
  },
  gestationScenario(),
  // Sends answered without a snapshot before they returned one: the workflow read again after each.
  gestationScenario({ withoutSendSnapshot: true }),
  listingScenario(),
  marketplaceReconcileScenario(),
  analyzeVideoScenario(),
  analysisReconcileScenario(),
  subscriptionScenario(),
  billingReconcileScenario(),
  healthRemindersScenario(),
  healthRemindersScenario({ withoutSendSnapshot: true }),
  healthReconcileScenario(),
];

/**
 * A whole gestation over the database the workflow re-reads (the test changes it before
 * each signal, as the API commits before signalling): reminders, twins flagged, a
 * cover-date correction, the foaling.
 */
function gestationScenario(opts: { withoutSendSnapshot?: boolean } = {}): ReplayScenario {
  const db = {
    status: 'tracking',
    anchorDate: '',
    done: [] as string[],
    twinsChecks: [] as { checkId: string; date: string }[],
    sent: {} as Record<string, string>,
  };
  const snapshot = () => ({
    found: true,
    status: db.status,
    plan: { anchorDate: db.anchorDate, anchor: 'cover', leadDays: 2, options: { hasCaslick: true }, previousGestationDays: [] },
    done: [...db.done],
    sent: { ...db.sent },
    twinsChecks: [...db.twinsChecks],
  });
  return {
    name: opts.withoutSendSnapshot ? 'gestation-without-send-snapshot' : 'gestation',
    workflowType: 'gestationTracking',
    activities: () => ({
      loadGestation: async () => snapshot(),
      sendGestationReminder: async (req: { milestone: { id: string } }) => {
        if (opts.withoutSendSnapshot) return { outcome: 'sent', sentAt: '2025-01-01T08:00:00.000Z', channels: ['email', 'in_app'] };
        db.sent[req.milestone.id] = '2025-01-01T08:00:00.000Z';
        return { outcome: 'sent', sentAt: '2025-01-01T08:00:00.000Z', channels: ['email', 'in_app'], snapshot: snapshot() };
      },
      sendGestationAlert: async () => ({ sent: true, channels: ['email', 'in_app'] }),
    }),
    run: async (env, { taskQueue, workflowId }) => {
      const start = await env.currentTimeMs();
      const day = (n: number) => new Date(start + n * 86_400_000).toISOString().slice(0, 10);
      db.anchorDate = day(0);
      const handle = await env.client.workflow.start(gestationTracking, {
        taskQueue,
        workflowId,
        args: [{ gestationId: 'p1', userId: 'u1', anchorDate: day(0), anchor: 'cover', leadDays: 2, options: { hasCaslick: true }, previousGestationDays: [] }],
      });
      await env.sleep('16 days');
      Object.assign(db, { status: 'twins', done: ['check-pregnancy'], twinsChecks: [{ checkId: 'c1', date: day(16) }] });
      await handle.signal(checkRecordedSignal, { checkId: 'c1', kind: 'pregnancy', date: day(16), result: 'twins' });
      await env.sleep('30 days');
      db.anchorDate = day(2);
      await handle.signal(coverDateCorrectedSignal, { anchorDate: day(2), anchor: 'cover' });
      await env.sleep('300 days');
      Object.assign(db, { status: 'foaled', done: ['check-pregnancy', 'expected-foaling'] });
      await handle.signal(foaledSignal, { date: day(346), foalId: 'f1' });
      return handle.result();
    },
  };
}

/** A listing renewed once (both timers move), reminded before the new expiry, then expired. */
function listingScenario(): ReplayScenario {
  let expiresAt = '';
  const sent = { outcome: 'sent', recipients: ['u1'], channels: ['email', 'in_app'] };
  return {
    name: 'listing',
    workflowType: 'listingLifecycle',
    activities: () => ({
      expireListing: async () => ({ outcome: 'expired' }),
      sendListingReminder: async () => sent,
      sendListingExpiredNotice: async () => sent,
    }),
    run: async (env, { taskQueue, workflowId }) => {
      const start = await env.currentTimeMs();
      expiresAt = new Date(start + 30 * 86_400_000).toISOString();
      const handle = await env.client.workflow.start(listingLifecycle, { taskQueue, workflowId, args: [{ listingId: 'l1', publication: 1, expiresAt, reminderDays: 3 }] });
      await env.sleep('20 days');
      expiresAt = new Date(start + 50 * 86_400_000).toISOString();
      await handle.signal(renewedSignal, { publication: 1, expiresAt });
      return handle.result();
    },
  };
}

/** One marketplace-reconcile run: two overdue listings expired (one notice fails for good), one missing workflow started. */
function marketplaceReconcileScenario(): ReplayScenario {
  return {
    name: 'marketplace-reconcile',
    workflowType: 'marketplaceReconcile',
    activities: () => ({
      expireOverdueListings: async () => [
        { listingId: 'l1', publication: 1 },
        { listingId: 'l2', publication: 1 },
      ],
      startMissingListingWorkflows: async () => ({ checked: 3, started: ['l3'] }),
      sendListingExpiredNotice: async (req: { listingId: string }) => {
        if (req.listingId === 'l1') throw ApplicationFailure.nonRetryable('no channel went out', 'EmailBounced');
        return { outcome: 'sent', recipients: ['u1'], channels: ['email', 'in_app'] };
      },
    }),
    run: (env, { taskQueue, workflowId }) => env.client.workflow.execute(marketplaceReconcile, { taskQueue, workflowId, args: [{}] }),
  };
}

/** An analysis where Claude refuses (non-retryable) and OpenAI answers: the fallback path, saved and notified. */
function analyzeVideoScenario(): ReplayScenario {
  const outcome = {
    provider: 'openai',
    model: 'gpt-4o',
    result: { globalScore: 70, categories: [{ name: 'regularity', score: 70, comments: ['even'] }], strengths: [], improvements: [], recommendations: [], confidence: 0.6, aiModel: 'gpt-4o', processingTime: 900 },
    inputTokens: 1000,
    outputTokens: 200,
    estimatedCostUsd: 0.0045,
    latencyMs: 900,
    sandbox: true,
  };
  return {
    name: 'analyze-video',
    workflowType: 'analyzeVideo',
    activities: () => ({
      prepareVideo: async () => ({ analysisId: 'a1', type: 'locomotion', sha256: 'abc', durationSec: 4, width: 320, height: 240 }),
      lookupCachedResult: async () => null,
      extractFrames: async () => ({ frameKeys: ['f0', 'f1'] }),
      analyzeWithClaude: async () => {
        throw ApplicationFailure.nonRetryable('anthropic: 400 bad request', 'AiProviderFailed');
      },
      analyzeWithOpenAI: async () => outcome,
      completeAnalysis: async () => ({ changed: true, found: true, status: 'completed', type: 'locomotion', credits: 1, globalScore: 70 }),
      failAnalysis: async () => ({ changed: true, found: true, status: 'failed', type: 'locomotion', credits: 1 }),
      sendAnalysisNotice: async () => ({ sent: true, emailed: true }),
    }),
    run: async (env, { taskQueue, workflowId }) => {
      const handle = await env.client.workflow.start(analyzeVideo, { taskQueue, workflowId, args: [{ analysisId: 'a1', userId: 'u1', type: 'locomotion' }] });
      await handle.query(progressQuery);
      return handle.result();
    },
  };
}

/** One reconcile run (the analysis-reconcile Schedule's action). */
function analysisReconcileScenario(): ReplayScenario {
  return {
    name: 'analysis-reconcile',
    workflowType: 'analysisReconcile',
    activities: () => ({ reconcileStaleAnalyses: async () => ({ checked: 2, started: ['a1'], failed: ['a2'] }) }),
    run: (env, { taskQueue, workflowId }) => env.client.workflow.execute(analysisReconcile, { taskQueue, workflowId, args: [{ olderThanMinutes: 10 }] }),
  };
}

/** Checkout, then cancel at the period end: activation, credits, the period-end timer, expiry. */
function subscriptionScenario(): ReplayScenario {
  return {
    name: 'subscription',
    workflowType: 'subscriptionLifecycle',
    activities: () => {
      const start = Date.now();
      const snapshot = (over: object) => ({
        subscriptionId: 'sub_1',
        customerId: 'cus_1',
        stripeStatus: 'active',
        plan: 'premium',
        interval: 'month',
        currentPeriodStart: new Date(start).toISOString(),
        currentPeriodEnd: new Date(start + 30 * 86_400_000).toISOString(),
        cancelAtPeriodEnd: false,
        trialEnd: null,
        ...over,
      });
      const truths = [snapshot({}), snapshot({ cancelAtPeriodEnd: true }), snapshot({ cancelAtPeriodEnd: true, stripeStatus: 'canceled' })];
      let fetches = 0;
      return {
        fetchStripeSubscription: async () => truths[Math.min(fetches++, truths.length - 1)],
        applyEntitlements: async (s: { plan: string }) => ({ plan: s.plan }),
        grantPlanCredits: async () => ({ balance: 30, reserved: 0 }),
        cancelStripeSubscription: async () => ({ status: 'canceled' }),
        sendEmail: async () => ({ status: 'sent', outboxId: 'o1' }),
        notifyInApp: async () => ({ notificationId: 'n1', created: true }),
        loadSubscriptionState: async () => null,
      };
    },
    run: async (env, { taskQueue, workflowId }) => {
      const created = Math.floor(Date.now() / 1000);
      const handle = await env.client.workflow.signalWithStart(subscriptionLifecycle, {
        taskQueue,
        workflowId,
        args: [{ userId: 'u1', graceDays: 14 }],
        signal: stripeEventSignal,
        signalArgs: [{ eventId: 'evt_1', type: 'checkout.session.completed', objectId: 'cs_1', created }],
      });
      await handle.signal(stripeEventSignal, { eventId: 'evt_2', type: 'customer.subscription.updated', objectId: 'sub_1', created });
      return handle.result();
    },
  };
}

/** One nightly billing reconcile: a drifted user found and signalled. */
function billingReconcileScenario(): ReplayScenario {
  const drift = { userId: 'u1', subscriptionId: 'sub_1', reason: 'status active locally, past_due at Stripe' };
  return {
    name: 'billing-reconcile',
    workflowType: 'billingReconcile',
    activities: () => ({
      findBillingDrift: async () => ({ drifts: [drift], checked: 3, nextCursor: null }),
      findUntrackedSubscriptions: async () => [],
      signalSubscriptionWorkflows: async () => ({ signalled: 1 }),
    }),
    run: (env, { taskQueue, workflowId }) => env.client.workflow.execute(billingReconcile, { taskQueue, workflowId, args: [{}] }),
  };
}

/**
 * One horse's care reminders over the database the workflow re-reads: a farrier reminder
 * and its escalation, a record that moves the due date (signal), a plan change, a new
 * lead time (remindersChanged), the horse deleted.
 */
function healthRemindersScenario(opts: { withoutSendSnapshot?: boolean } = {}): ReplayScenario {
  const db = { farrierDue: '2030-01-20', sent: [] as string[], gone: false, leadDays: 2 };
  const snapshot = () => ({
    found: true,
    items: [
      {
        key: 'farrier',
        title: 'Farrier (trim or shoes)',
        dueDate: db.farrierDue,
        sent: db.sent.filter((x) => x.startsWith(db.farrierDue)).map((x) => x.split(' ')[1]),
        leadDays: db.leadDays,
      },
    ],
  });
  return {
    name: opts.withoutSendSnapshot ? 'health-reminders-without-send-snapshot' : 'health-reminders',
    workflowType: 'healthReminders',
    activities: () => ({
      loadHealthReminders: async () => (db.gone ? { found: false } : snapshot()),
      sendHealthReminder: async (req: { dueDate: string; stage: string }) => {
        db.sent.push(`${req.dueDate} ${req.stage}`);
        const outcome = { outcome: 'sent', recipients: ['u1'], channels: ['email', 'in_app'] };
        return opts.withoutSendSnapshot ? outcome : { ...outcome, snapshot: snapshot() };
      },
    }),
    run: async (env, { taskQueue, workflowId }) => {
      // The test server's clock starts at the real time: dates relative to it.
      const today = new Date(await env.currentTimeMs()).toISOString().slice(0, 10);
      const plus = (n: number) => new Date(Date.parse(`${today}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
      db.farrierDue = plus(10);
      const handle = await env.client.workflow.start(healthReminders, { taskQueue, workflowId, args: [{ horseId: 'h-replay' }] });
      await env.sleep('12 days'); // reminder on day 8, escalation on day 11
      db.farrierDue = plus(54); // the farrier came on day 12
      await handle.signal(recordChangedSignal, { recordId: 'r2' });
      await env.sleep('1 day');
      await handle.signal(planChangedSignal, { key: 'farrier' });
      await env.sleep('30 days');
      db.leadDays = 10; // the recipient wants 10 days' notice: the reminder moves from day 52 to day 44
      await handle.signal(remindersChangedSignal, { leadDays: 10 });
      await env.sleep('15 days'); // reminder on day 44
      db.gone = true;
      await handle.signal(recordChangedSignal, {});
      return handle.result();
    },
  };
}

/** A reconcile pass that starts one horse's missing reminder workflow. */
function healthReconcileScenario(): ReplayScenario {
  return {
    name: 'health-reconcile',
    workflowType: 'healthReconcile',
    activities: () => ({
      startMissingHealthWorkflows: async () => ({ checked: 3, started: ['h1'] }),
      deleteStorageOrphans: async () => ({ deleted: ['orgs/o1/health/h1/a1.pdf'], referenced: [], failed: [] }),
    }),
    run: (env, { taskQueue, workflowId }) => env.client.workflow.execute(healthReconcile, { taskQueue, workflowId, args: [{}] }),
  };
}
