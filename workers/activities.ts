import type { Config } from '../config';
import type { MikroORM } from '../entities/orm';
import type { Logger } from '../adapters/logger';
import type { Mailer } from '../adapters/email/mailer';
import type { Stripe } from '../adapters/stripe';
import type { StoragePort } from '../adapters/storage/port';
import type { AiClients } from '../adapters/ai/types';
import { createAnalysisActivities } from '../activities/analysis';
import { createAnalysisReconcileActivities } from '../activities/analysis/reconcile';
import { createAnalysisNoticeActivities } from '../activities/analysis/notices';
import { createAccountsActivities } from '../activities/accounts';
import { createAccountEmailActivities } from '../activities/accounts/emails';
import { createNotifyActivities } from '../activities/notify';
import { createBillingActivities } from '../activities/billing';
import { createBillingSignalActivities } from '../activities/billing/signal';
import { createMarketplaceActivities } from '../activities/marketplace';
import { createMarketplaceReconcileActivities } from '../activities/marketplace/reconcile';
import { createGestationActivities } from '../activities/gestation';
import { createHealthActivities } from '../activities/health';
import { createStorageOrphanActivities } from '../activities/storage/orphans';

/** What activities need from the outside world; the worker entrypoint (or a test) wires it. */
export interface WorkerDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  mailer: Mailer;
  /** null when STRIPE_SECRET_KEY is unset (billing activities retry until it is). */
  stripe: Stripe | null;
  storage: StoragePort;
  ai: AiClients;
}

/** Every activity, by name. A feature adds its factory here. */
export function createActivities(deps: WorkerDeps) {
  return {
    ...createAccountsActivities(deps),
    ...createAccountEmailActivities(deps),
    ...createNotifyActivities(deps),
    ...createBillingActivities(deps),
    ...createBillingSignalActivities(deps),
    ...createAnalysisActivities(deps),
    ...createAnalysisReconcileActivities(deps),
    ...createAnalysisNoticeActivities(deps),
    ...createMarketplaceActivities(deps),
    ...createMarketplaceReconcileActivities(deps),
    ...createGestationActivities(deps),
    ...createHealthActivities(deps),
    ...createStorageOrphanActivities(deps),
  };
}
export type Activities = ReturnType<typeof createActivities>;
