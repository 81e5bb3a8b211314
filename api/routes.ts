import type { Express } from 'express';
import type { AppDeps } from './deps';
import type { MountContext } from './http/mount';
import { createHorsesRouter } from './horses/router';
import { createNotificationsRouter } from './notifications/router';
import { createNotificationPreferencesRouter } from './notifications/preferences';
import { createOrganizationsRouter } from './organizations/router';
import { createInvitationsRouter } from './organizations/invitations';
import { createGestationRouter } from './gestation/router';
import { createMarketplaceRouter } from './marketplace/router';
import { createAnalysesRouter } from './analysis/router';
import { createUploadsRouter } from './analysis/uploads';
import { createBillingRouter } from './billing/router';
import { createHealthRouter } from './health/router';

/**
 * Feature routers. Each feature adds one line here; accounts and the ops health check are
 * mounted by the app itself because everything else depends on them. Old paths of renamed
 * features are aliased in api/http/legacy-paths.ts. The Stripe webhook is mounted by the app
 * too, ahead of the browser-facing middleware (api/app.ts says why).
 */
export function mountFeatureRouters(app: Express, deps: AppDeps, ctx: MountContext): void {
  app.use('/api/horses', createHorsesRouter(ctx));
  // Before the notifications router, whose '/:id' routes would otherwise see 'preferences'.
  app.use('/api/notifications/preferences', createNotificationPreferencesRouter(deps, ctx));
  app.use('/api/notifications', createNotificationsRouter(ctx));
  app.use('/api/organizations', createOrganizationsRouter(deps, ctx));
  app.use('/api/invitations', createInvitationsRouter(ctx));
  app.use('/api/gestations', createGestationRouter(deps, ctx));
  app.use('/api/marketplace', createMarketplaceRouter(deps, ctx));
  app.use('/api/uploads', createUploadsRouter(deps, ctx));
  app.use('/api/billing', createBillingRouter(deps, ctx));
  app.use('/api', createAnalysesRouter(deps, ctx));
  app.use('/api', createHealthRouter(deps, ctx));
}
