import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { MikroORM } from '../../entities/orm';
import { startHealthReminders } from '../../workflows/health/client';
import { parseHealthWorkflowId } from '../../workflows/ids';

export interface StartMissingHealthReport {
  checked: number;
  started: string[];
}

/**
 * The `health-reconcile` Schedule's step that starts reminder workflows. Apart from the
 * reminder activities (activities/health/index.ts) because it starts workflows through the
 * client, which the workflow code's activity types must not import.
 */
export function createHealthReconcileActivities(deps: { orm: MikroORM; logger: Logger }) {
  return {
    /** Horses with records whose workflow is not running get one. */
    async startMissingHealthWorkflows(req: { limit: number }): Promise<StartMissingHealthReport> {
      return startMissingHealthWorkflows({ ...deps, client: Context.current().client }, req);
    },
  };
}

export type HealthReconcileActivities = ReturnType<typeof createHealthReconcileActivities>;

/**
 * Lists the running `healthReminders` workflows once (visibility), then starts the missing
 * ones among horses that have a health record (USE_EXISTING: visibility lags a little, so a
 * workflow started a moment ago is found, not duplicated).
 */
export async function startMissingHealthWorkflows(deps: { orm: MikroORM; client: Client; logger?: Logger }, req: { limit: number }): Promise<StartMissingHealthReport> {
  const running = new Set<string>();
  for await (const wf of deps.client.workflow.list({ query: `WorkflowType = 'healthReminders' AND ExecutionStatus = 'Running'` })) {
    const horseId = parseHealthWorkflowId(wf.workflowId);
    if (horseId) running.add(horseId);
  }
  const rows = (await deps.orm.em
    .fork()
    .getConnection()
    .execute(`select distinct r.horse_id from health_records r where r.deleted_at is null order by r.horse_id`)) as { horse_id: string }[];
  const report: StartMissingHealthReport = { checked: rows.length, started: [] };
  for (const { horse_id: horseId } of rows) {
    if (running.has(horseId)) continue;
    if (report.started.length >= req.limit) break;
    await startHealthReminders(deps.client, horseId);
    report.started.push(horseId);
  }
  if (report.started.length) deps.logger?.warn({ horseIds: report.started }, 'health reconcile: started missing reminder workflows');
  return report;
}
