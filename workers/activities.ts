import type { Config } from '../config';
import type { MikroORM } from '../entities/orm';
import type { Logger } from '../adapters/logger';
import type { Mailer } from '../adapters/email/mailer';
import type { StoragePort } from '../adapters/storage/port';
import type { AiClients } from '../adapters/ai/types';
import { createAnalysisActivities } from '../activities/analysis';
import { createAnalysisReconcileActivities } from '../activities/analysis/reconcile';
import { createAccountsActivities } from '../activities/accounts';
import { createNotifyActivities } from '../activities/notify';
import { createBreedingActivities } from '../activities/breeding';
import { createMarketplaceActivities } from '../activities/marketplace';

/** What activities need from the outside world; the worker entrypoint (or a test) wires it. */
export interface WorkerDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  mailer: Mailer;
  storage: StoragePort;
  ai: AiClients;
}

/** Every activity, by name. A feature adds its factory here. */
export function createActivities(deps: WorkerDeps) {
  return {
    ...createAccountsActivities(deps),
    ...createNotifyActivities(deps),
    ...createBreedingActivities(deps),
    ...createAnalysisActivities(deps),
    ...createMarketplaceActivities(deps),
    ...createAnalysisReconcileActivities(deps),
  };
}
export type Activities = ReturnType<typeof createActivities>;
