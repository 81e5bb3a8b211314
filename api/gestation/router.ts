import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { routeBuilder, IdParams, paginated } from '../http/route';
import { horseView } from '../horses/access';
import { HorseView } from '../horses/schemas';
import {
  CreateGestationBody,
  ListGestationsQuery,
  GestationDetailView,
  GestationView,
  RecordCheckBody,
  RecordFoalingBody,
  RecordLossBody,
  UpdateGestationBody,
} from './schemas';
import { createGestationService } from './service';
import { gestationView } from './views';

/**
 * Gestation tracking, mounted at /api/gestations: route declarations and HTTP mapping.
 * Transactions, transitions and the gestationTracking workflow live in ./service.ts.
 */
export function createGestationRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/gestations', tag: 'gestation', authenticate: ctx.authenticate });
  const gestations = createGestationService(deps);

  // --- gestations ---

  r.post(
    '/',
    {
      summary: 'Register a cover/insemination and start tracking the gestation',
      description: 'Starts the gestationTracking workflow, which reminds the caller ahead of every milestone (vet checks, vaccinations, foaling preparation, overdue).',
      body: CreateGestationBody,
      status: 201,
      response: GestationDetailView,
      errors: [404, 409, 503],
    },
    async ({ body, em, user }) => gestations.register(em, user, body),
  );

  r.get('/', { summary: "My organizations' gestations, newest first", query: ListGestationsQuery, response: paginated(GestationView) }, async ({ query, em, user }) => {
    const page = await gestations.list(em, user, query);
    return { ...page, items: page.items.map(gestationView) };
  });

  r.get('/:id', { summary: 'One gestation with its checks, reminders sent and timeline', params: IdParams, response: GestationDetailView, errors: [404] }, async ({ params, em, user }) => {
    return gestations.get(em, user, params.id);
  });

  r.patch(
    '/:id',
    {
      summary: 'Correct the cover/ovulation date (reschedules every future reminder), switch optional milestones, edit the vet or notes',
      params: IdParams,
      body: UpdateGestationBody,
      response: GestationDetailView,
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => gestations.correct(em, user, params.id, body),
  );

  r.post(
    '/:id/checks',
    {
      summary: 'Record a vet check: negative ends the tracking, twins flags it and alerts the owner, positive confirms',
      params: IdParams,
      body: RecordCheckBody,
      status: 201,
      response: GestationDetailView,
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => gestations.recordCheck(em, user, params.id, body),
  );

  r.post(
    '/:id/loss',
    { summary: 'Record the loss of the gestation (ends the tracking)', params: IdParams, body: RecordLossBody, response: GestationDetailView, errors: [404, 409] },
    async ({ params, body, em, user }) => gestations.recordLoss(em, user, params.id, body),
  );

  r.post(
    '/:id/foaling',
    {
      summary: "Record the foaling: creates the foal's horse record (dam and sire set) and ends the tracking",
      description: 'A filly is recorded as a mare, a colt as a stallion.',
      params: IdParams,
      body: RecordFoalingBody,
      status: 201,
      response: z.object({ gestation: GestationDetailView, foal: HorseView }),
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => {
      const { gestation, foal } = await gestations.recordFoaling(em, user, params.id, body);
      return { gestation, foal: horseView(foal) };
    },
  );

  return router;
}
