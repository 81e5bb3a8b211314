import { Router, type RequestHandler } from 'express';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { text } from '../http/input-policy';
import { Notification } from '../../entities';
import { routeBuilder, IdParams, paginated } from '../http/route';
import { HttpError } from '../http/errors';
import { findPage } from '../organizations/scope';

const NotificationView = z
  .object({
    id: z.uuid(),
    kind: z.string(),
    title: z.string(),
    body: z.string(),
    data: z.record(z.string(), z.unknown()).nullable(),
    readAt: z.date().nullable(),
    createdAt: z.date(),
  })
  .openapi('Notification');

const view = (n: Notification) => ({
  id: n.id,
  kind: n.kind,
  title: n.title,
  body: n.body,
  data: n.data ?? null,
  readAt: n.readAt ?? null,
  createdAt: n.createdAt,
});

export function createNotificationsRouter(opts: { registry: OpenAPIRegistry; authenticate: RequestHandler }) {
  const router = Router();
  const r = routeBuilder({ router, registry: opts.registry, basePath: '/api/notifications', tag: 'notifications', authenticate: opts.authenticate });

  r.get(
    '/',
    {
      summary: 'My in-app notifications, newest first',
      query: z.object({
        page: z.coerce.number().int().min(1).default(1),
        limit: z.coerce.number().int().min(1).max(100).default(20),
        unread: z.enum(['true', 'false']).optional(),
        kind: text({ max: 50 }).optional(),
      }),
      response: paginated(NotificationView),
    },
    async ({ query, em, user }) => {
      const where = {
        userId: user.id,
        ...(query.unread === 'true' ? { readAt: null } : {}),
        ...(query.kind ? { kind: query.kind } : {}),
      };
      const page = await findPage(em, Notification, where, query, { orderBy: { createdAt: 'desc', id: 'desc' } });
      return { ...page, items: page.items.map(view) };
    },
  );

  r.post('/:id/read', { summary: 'Mark one as read', params: IdParams, response: NotificationView, errors: [404] }, async ({ params, em, user }) => {
    const n = await em.findOne(Notification, { id: params.id, userId: user.id });
    if (!n) throw new HttpError(404, `Notification ${params.id} not found`);
    n.readAt ??= new Date();
    await em.flush();
    return view(n);
  });

  r.post('/read-all', { summary: 'Mark all as read', response: z.object({ updated: z.number().int() }) }, async ({ em, user }) => {
    const updated = await em.nativeUpdate(Notification, { userId: user.id, readAt: null }, { readAt: new Date() });
    return { updated };
  });

  return router;
}
