import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { MikroORM } from '../../entities/orm';
import { Analysis, closeAnalysis, type ClosedAnalysis } from '../../entities';
import type { Mailer } from '../../adapters/email/mailer';
import { createNotifyActivities } from '../notify';
import { analysisFailedMessage } from '../../domain/analysis';
import { describeAnalysisWorkflow, startAnalysisWorkflow } from '../../workflows/analysis/client';

export interface ReconcileReport {
  checked: number;
  /** Pending rows whose workflow never started (the API died between commit and start). */
  started: string[];
  /** Rows whose workflow is gone or closed without settling them: failed, credits released. */
  failed: string[];
}

/**
 * The no-orphan safety net. The API commits row + reservation, then starts the workflow
 * (and fails the row at once if the start fails). What is left is a crash in between, or a
 * workflow terminated by hand: this finds rows still pending/running after N minutes and
 * starts their workflow, or fails them and releases the credits.
 */
export async function reconcileStale(
  deps: { orm: MikroORM; client: Client; logger?: Logger; /** Tells the owner of a row this run failed. */ notifyFailed?: (closed: ClosedAnalysis, analysisId: string, reason: string) => Promise<void> },
  opts: { olderThanMinutes: number; limit?: number },
): Promise<ReconcileReport> {
  const em = deps.orm.em.fork();
  const before = new Date(Date.now() - opts.olderThanMinutes * 60_000);
  const rows = await em.find(Analysis, { status: { $in: ['pending', 'running'] }, createdAt: { $lt: before } }, { orderBy: { createdAt: 'asc' }, limit: opts.limit ?? 200 });
  const report: ReconcileReport = { checked: rows.length, started: [], failed: [] };
  for (const row of rows) {
    let open: boolean | null;
    try {
      const d = await describeAnalysisWorkflow(deps.client, row.id);
      open = d.status.name === 'RUNNING';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      open = null;
    }
    if (open) continue;
    if (open === null && row.status === 'pending') {
      try {
        await startAnalysisWorkflow(deps.client, { id: row.id, userId: row.userId, horseId: row.horse.id, type: row.type });
        report.started.push(row.id);
        deps.logger?.warn({ analysisId: row.id }, 'reconcile: started the workflow of a pending analysis');
        continue;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
    const reason = open === null ? 'the analysis workflow was lost; credits released' : 'the analysis workflow ended without finishing the analysis; credits released';
    const closed = await closeAnalysis(em.fork(), row.id, { status: 'failed', errorType: 'Orphaned', error: reason, closedBy: 'reconcile' });
    if (closed.changed) {
      report.failed.push(row.id);
      deps.logger?.warn({ analysisId: row.id }, 'reconcile: failed an orphaned analysis');
      await deps.notifyFailed?.(closed, row.id, reason);
    }
  }
  return report;
}

export function createAnalysisReconcileActivities(deps: { orm: MikroORM; logger: Logger; mailer: Mailer }) {
  const notify = createNotifyActivities(deps);
  /**
   * In-app then email, keyed like the workflow's own failure notice (`analysis:<id>:failed`), so
   * the owner is told once whoever failed the row. An email that cannot be sent is logged.
   */
  async function notifyFailed(closed: ClosedAnalysis, analysisId: string, reason: string) {
    if (!closed.type || !closed.userId) return;
    const text = analysisFailedMessage({ horseName: closed.horseName, type: closed.type, reason, analysisId, credits: closed.credits, charged: false });
    const key = `analysis:${analysisId}:failed`;
    try {
      await notify.notifyInApp({ key, userId: closed.userId, kind: 'analysis.failed', title: text.subject, body: reason, data: { analysisId, errorType: 'Orphaned' } });
      await notify.sendEmail({ key, userId: closed.userId, ...text });
    } catch (err) {
      deps.logger.warn({ err, analysisId }, 'reconcile: could not tell the owner about a failed analysis');
    }
  }
  return {
    async reconcileStaleAnalyses(input: { olderThanMinutes: number }): Promise<ReconcileReport> {
      return reconcileStale({ orm: deps.orm, client: Context.current().client, logger: deps.logger, notifyFailed }, input);
    },
  };
}
export type AnalysisReconcileActivities = ReturnType<typeof createAnalysisReconcileActivities>;
