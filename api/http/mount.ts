import type { RequestHandler } from 'express';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';

/**
 * What the app hands every feature router: the OpenAPI registry its routes document
 * themselves in, and the authentication middleware. Lives here (not in api/routes.ts,
 * which imports every router) so routers do not import the module that imports them.
 */
export interface MountContext {
  registry: OpenAPIRegistry;
  authenticate: RequestHandler;
  /** The stricter per-address limit of sign-in style routes (AUTH_RATE_LIMIT_MAX), for routes that send email. */
  authRateLimit: RequestHandler;
}
