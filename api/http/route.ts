import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import type { OpenAPIRegistry, RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HttpError } from './errors';
import { requestEntityManager } from './request-em';
import { ErrorBodySchema } from './openapi';
import type { AuthUser } from '../accounts/types';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Schema = z.ZodType | undefined;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteContext<B, P, Q, U> {
  body: B;
  params: P;
  query: Q;
  user: U;
  em: EntityManager;
  req: Request;
  res: Response;
}

export interface RouteDef<B extends Schema, P extends Schema, Q extends Schema, A extends boolean> {
  summary: string;
  description?: string;
  body?: B;
  params?: P;
  query?: Q;
  /** Defaults to true: the route needs a JWT or an API key. */
  auth?: A;
  /** Success status; 204 sends no body. Defaults to 200. */
  status?: number;
  response?: z.ZodType;
  /** Error statuses worth documenting besides 400/401/500. */
  errors?: number[];
  middleware?: RequestHandler[];
}

type Handler<B extends Schema, P extends Schema, Q extends Schema, A extends boolean> = (
  ctx: RouteContext<Out<B>, Out<P>, Out<Q>, A extends false ? AuthUser | undefined : AuthUser>,
) => Promise<unknown> | unknown;

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input (details name the field and the rule)',
  401: 'Missing, expired or invalid credentials',
  402: 'Not enough credits or plan limit reached',
  403: 'Not allowed',
  404: 'Not found (or not yours)',
  409: 'Conflict with the current state',
  413: 'Body too large',
  422: 'Understood but not processable',
  429: 'Too many requests',
  503: 'A dependency is unavailable',
};

function validate(schema: z.ZodType, value: unknown, location: 'body' | 'params' | 'query'): unknown {
  const parsed = schema.safeParse(value ?? (location === 'body' ? undefined : {}));
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({
    location,
    field: i.path.join('.') || null,
    message: i.message,
    code: i.code,
  }));
  const first = details[0];
  const where = first.field ? `${location}.${first.field}` : location;
  throw new HttpError(400, `Invalid ${where}: ${first.message}`, details);
}

const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * Routes are declared once with their zod schemas: the same schemas validate the
 * request at run time and describe it in the OpenAPI document.
 */
export function routeBuilder(opts: {
  router: Router;
  registry: OpenAPIRegistry;
  /** Where the router is mounted, for the OpenAPI paths, e.g. /api/horses. */
  basePath: string;
  tag: string;
  authenticate: RequestHandler;
}) {
  const { router, registry, basePath, tag, authenticate } = opts;

  function add<B extends Schema, P extends Schema, Q extends Schema, A extends boolean = true>(
    method: Method,
    path: string,
    def: RouteDef<B, P, Q, A>,
    handler: Handler<B, P, Q, A>,
  ) {
    const needsAuth = def.auth !== false;
    const status = def.status ?? 200;
    const responses: RouteConfig['responses'] = {
      [status]: {
        description: def.summary,
        ...(def.response && status !== 204 ? { content: { 'application/json': { schema: def.response } } } : {}),
      },
    };
    const errorStatuses = new Set([400, ...(needsAuth ? [401] : []), ...(def.errors ?? [])]);
    for (const code of errorStatuses) {
      responses[code] = { description: ERROR_TEXT[code] ?? 'Error', content: { 'application/json': { schema: ErrorBodySchema } } };
    }
    registry.registerPath({
      method,
      path: openApiPath(`${basePath}${path === '/' ? '' : path}`),
      summary: def.summary,
      description: def.description,
      tags: [tag],
      security: needsAuth ? [{ bearerAuth: [] }, { apiKey: [] }] : [],
      request: {
        ...(def.params ? { params: def.params as never } : {}),
        ...(def.query ? { query: def.query as never } : {}),
        ...(def.body ? { body: { content: { 'application/json': { schema: def.body } } } } : {}),
      },
      responses,
    });

    const run = async (req: Request, res: Response, _next: NextFunction) => {
      const ctx = {
        params: def.params ? validate(def.params, req.params, 'params') : undefined,
        query: def.query ? validate(def.query, req.query, 'query') : undefined,
        body: def.body ? validate(def.body, req.body, 'body') : undefined,
        user: req.user as AuthUser | undefined,
        // Forked on first read: a route that never touches the database pays nothing for it.
        get em() {
          return requestEntityManager(req);
        },
        req,
        res,
      };
      const result = await handler(ctx as never);
      if (res.headersSent) return;
      if (status === 204) res.status(204).end();
      else res.status(status).json(result);
    };
    router[method](path, ...(needsAuth ? [authenticate] : []), ...(def.middleware ?? []), run);
  }

  return {
    get: <P extends Schema, Q extends Schema, A extends boolean = true>(path: string, def: RouteDef<undefined, P, Q, A>, h: Handler<undefined, P, Q, A>) =>
      add('get', path, def, h),
    post: <B extends Schema, P extends Schema, Q extends Schema, A extends boolean = true>(path: string, def: RouteDef<B, P, Q, A>, h: Handler<B, P, Q, A>) =>
      add('post', path, def, h),
    put: <B extends Schema, P extends Schema, Q extends Schema, A extends boolean = true>(path: string, def: RouteDef<B, P, Q, A>, h: Handler<B, P, Q, A>) =>
      add('put', path, def, h),
    patch: <B extends Schema, P extends Schema, Q extends Schema, A extends boolean = true>(path: string, def: RouteDef<B, P, Q, A>, h: Handler<B, P, Q, A>) =>
      add('patch', path, def, h),
    delete: <P extends Schema, Q extends Schema, A extends boolean = true>(path: string, def: RouteDef<undefined, P, Q, A>, h: Handler<undefined, P, Q, A>) =>
      add('delete', path, def, h),
  };
}

export type RouteBuilder = ReturnType<typeof routeBuilder>;

/** Shared param/query schemas. */
export const IdParams = z.object({ id: z.uuid({ message: 'must be a UUID' }) });
export const PaginationQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export const paginated = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), total: z.number().int(), page: z.number().int(), limit: z.number().int() });
