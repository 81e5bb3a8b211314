import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { MikroORM } from '../../entities/orm';
import type { Mailer } from '../../adapters/email/mailer';
import { Analysis } from '../../entities';
import { analysisCompletedMessage, analysisFailedMessage, creditsLine } from '../../domain/analysis';
import { createNotifyActivities } from '../notify';

export interface AnalysisNoticeRequest {
  analysisId: string;
  outcome: 'completed' | 'failed' | 'canceled';
  /** Failed or canceled: whether the credits were spent (domain/analysis chargeUnfinishedAnalysis). */
  charged?: boolean;
}

export type AnalysisNoticeResult = { sent: true; emailed: boolean } | { sent: false; reason: 'gone' };

/**
 * The analysis notices (in-app, then email for completed and failed), worded here from the
 * row: the horse's name, the score and the error stay out of the workflow, so no user-typed
 * text lands in its history. Keyed `analysis:<id>:<outcome>` like before, so a retry tells
 * nobody twice. An email refused for good is logged, not thrown; a transient failure is
 * thrown (the retry re-sends nothing that went out).
 */
export function createAnalysisNoticeActivities(deps: { orm: MikroORM; mailer: Mailer; logger: Logger }) {
  const notify = createNotifyActivities(deps);
  return {
    async sendAnalysisNotice(req: AnalysisNoticeRequest): Promise<AnalysisNoticeResult> {
      const row = await deps.orm.em.fork().findOne(Analysis, { id: req.analysisId }, { populate: ['horse'] });
      if (!row) return { sent: false, reason: 'gone' };
      const key = `analysis:${row.id}:${req.outcome}`;
      const charged = req.charged ?? false;
      if (req.outcome === 'canceled') {
        await notify.notifyInApp({
          key,
          userId: row.userId,
          kind: 'analysis.canceled',
          title: 'Analysis canceled',
          body: `The analysis was canceled. ${creditsLine(row.credits, charged)}`,
          data: { analysisId: row.id, charged },
        });
        return { sent: true, emailed: false };
      }
      const reason = row.error ?? 'the analysis could not be completed';
      const text =
        req.outcome === 'completed'
          ? analysisCompletedMessage({ horseName: row.horse.name, type: row.type, globalScore: row.result?.globalScore ?? 0, analysisId: row.id })
          : analysisFailedMessage({ horseName: row.horse.name, type: row.type, reason, analysisId: row.id, credits: row.credits, charged });
      await notify.notifyInApp(
        req.outcome === 'completed'
          ? { key, userId: row.userId, kind: 'analysis.completed', title: text.subject, body: `Overall score ${Math.round(row.result?.globalScore ?? 0)}/100.`, data: { analysisId: row.id } }
          : { key, userId: row.userId, kind: 'analysis.failed', title: text.subject, body: reason, data: { analysisId: row.id, errorType: row.errorType } },
      );
      try {
        await notify.sendEmail({ key, userId: row.userId, ...text });
        return { sent: true, emailed: true };
      } catch (err) {
        if (!(err instanceof ApplicationFailure && err.nonRetryable)) throw err;
        deps.logger.warn({ key, err: err.message }, 'analysis email could not be sent');
        return { sent: true, emailed: false };
      }
    },
  };
}

export type AnalysisNoticeActivities = ReturnType<typeof createAnalysisNoticeActivities>;
