import type { Express, RequestHandler } from 'express';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { AppDeps } from './deps';
import { createHorsesRouter } from './horses/router';
import { createNotificationsRouter } from './notifications/router';
import { createOrganizationsRouter } from './organizations/router';
import { createBreedingRouter } from './breeding/router';
import { createMarketplaceRouter } from './marketplace/router';
import { createAnalysesRouter } from './analyses/router';
import { createUploadsRouter } from './uploads/router';
import { createBillingRouter } from './billing/router';
import { createWebhooksRouter } from './webhooks/router';

export interface MountContext {
  registry: OpenAPIRegistry;
  authenticate: RequestHandler;
}

/**
 * Feature routers. Each feature adds one line here; auth and health are mounted by the
 * app itself because everything else depends on them.
 */
export function mountFeatureRouters(app: Express, deps: AppDeps, ctx: MountContext): void {
  app.use('/api/horses', createHorsesRouter(ctx));
  app.use('/api/notifications', createNotificationsRouter(ctx));
  app.use('/api/organizations', createOrganizationsRouter(ctx));
  app.use('/api/breeding', createBreedingRouter(deps, ctx));
  app.use('/api/marketplace', createMarketplaceRouter(deps, ctx));
  app.use('/api/uploads', createUploadsRouter(deps, ctx));
  app.use('/api/billing', createBillingRouter(deps, ctx));
  app.use('/api/webhooks', createWebhooksRouter(deps, ctx));
  app.use('/api', createAnalysesRouter(deps, ctx));
  void deps;
}
