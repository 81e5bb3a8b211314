import type { Config } from '../config';
import type { MikroORM } from '../entities/orm';
import type { TemporalGateway } from '../adapters/temporal/client';
import type { Logger } from '../adapters/logger';
import type { Stripe } from '../adapters/stripe';
import type { StoragePort } from '../adapters/storage/port';

/**
 * What the API needs from the outside world, wired once by api/server.ts (and by the
 * tests). Feature routers take what they use from here; no module imports a global.
 */
export interface AppDeps {
  config: Config;
  orm: MikroORM;
  temporal: TemporalGateway;
  logger: Logger;
  /** null when STRIPE_SECRET_KEY is unset (billing answers 503). */
  stripe: Stripe | null;
  storage: StoragePort;
}
