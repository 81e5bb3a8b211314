import express, { type Express, type RequestHandler } from 'express';
import cors from 'cors';
import helmet from 'helmet';
import { rateLimit } from 'express-rate-limit';
import swaggerUi from 'swagger-ui-express';
import type { AppDeps } from './deps';
import { createRegistry, buildOpenApiDocument } from './http/openapi';
import { createErrorHandler, notFoundHandler, HttpError } from './http/errors';
import { createMetrics } from './http/metrics';
import { registerAiMetrics } from './http/ai-metrics';
import { bodyTimeouts } from './http/slow-clients';
import { metricsGuard } from './http/metrics-guard';
import { methodNotAllowed } from './http/method-not-allowed';
import { requestLogger } from './http/request-logger';
import { lazyEntityManager } from './http/request-em';
import { createPassport, authenticate as authenticateWith } from './accounts/passport';
import { createAuthRouter } from './accounts/router';
import { createOpsHealthRouter } from './ops/health';
import { legacyPathAliases } from './http/legacy-paths';
import { mountFeatureRouters } from './routes';
import { createBillingWebhookRouter } from './billing/webhook';

/** Paths whose bodies are not JSON: raw webhook payloads (signature checks) and uploads. */
const WEBHOOK_PATH = '/api/billing/webhook';
const NON_JSON_PATHS = [WEBHOOK_PATH, '/api/uploads/', '/api/health/attachments/'];

export function createApp(deps: AppDeps): Express {
  const { config, orm, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.set('query parser', 'simple');

  // Request ids, req.log and the request line (capability tokens in paths redacted).
  app.use(requestLogger(logger));
  const metrics = createMetrics();
  registerAiMetrics(metrics.registry, deps.orm);
  app.use(metrics.middleware);
  // Old paths of renamed features are served by their new routes (with Deprecation headers).
  app.use(legacyPathAliases());
  // Before any body parser: a body that trickles in (or stops) is cut off with a 408.
  app.use(bodyTimeouts(config, (req) => req.method === 'PUT' && req.path.startsWith('/api/uploads/')));

  const registry = createRegistry();
  const passport = createPassport(orm, config.JWT_SECRET, config.AUTH_CACHE_TTL_SECONDS);
  const authenticate = authenticateWith(passport);

  // Stripe webhooks, before the middleware a server-to-server call signed with a shared secret
  // does not need: security headers and CORS are for browsers, the JSON parser would not run on
  // its raw body, passport and the per-request EntityManager are unused (no JWT; the route takes
  // a pg client itself), and the per-address /api rate limit would answer 429 to Stripe's own
  // bursts (its few sending addresses carry every customer's renewals). The request log,
  // metrics, legacy alias (/api/webhooks/stripe) and body deadline above still apply, and
  // errors still reach the one error handler at the end. bench/webhook.ts --profile measured
  // the skipped middleware at about a fifth of the API's CPU per event.
  app.use(WEBHOOK_PATH, express.raw({ type: () => true, limit: '1mb' }));
  app.use('/api/billing', createBillingWebhookRouter(deps, { registry, authenticate }));

  app.use(
    helmet({
      // Swagger UI needs inline styles; everything else keeps helmet's defaults.
      contentSecurityPolicy: { directives: { 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'] } },
    }),
  );
  app.use(cors({ origin: config.CORS_ORIGINS, credentials: true, exposedHeaders: ['x-request-id', 'ratelimit', 'ratelimit-policy', 'deprecation', 'link'] }));
  app.get('/metrics', metricsGuard(config.METRICS_TOKEN), metrics.handler);

  const limitHandler = (message: string): RequestHandler => (_req, _res, next) => next(new HttpError(429, message));
  app.use(
    '/api',
    rateLimit({
      windowMs: config.RATE_LIMIT_WINDOW_SECONDS * 1000,
      limit: config.RATE_LIMIT_MAX,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      skip: (req) => req.path === '/health',
      handler: (req, res, next) => limitHandler(`Too many requests: at most ${config.RATE_LIMIT_MAX} per ${config.RATE_LIMIT_WINDOW_SECONDS}s`)(req, res, next),
    }),
  );
  const authRateLimit = rateLimit({
    windowMs: config.RATE_LIMIT_WINDOW_SECONDS * 1000,
    limit: config.AUTH_RATE_LIMIT_MAX,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (req, res, next) =>
      limitHandler(`Too many sign-in attempts: at most ${config.AUTH_RATE_LIMIT_MAX} per ${config.RATE_LIMIT_WINDOW_SECONDS}s, try again later`)(req, res, next),
  });

  app.use(express.json({ limit: config.BODY_LIMIT, strict: true }));
  app.use((req, _res, next) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && ['POST', 'PUT', 'PATCH'].includes(req.method) && !req.is('application/json') && !NON_JSON_PATHS.some((p) => req.path.startsWith(p))) {
      return next(new HttpError(415, 'Content-Type must be application/json'));
    }
    next();
  });
  // Each request gets its own identity map, forked when a route first asks for it.
  app.use(lazyEntityManager(orm));

  app.use(passport.initialize());

  app.use('/api/health', createOpsHealthRouter(deps));
  app.use('/api/auth', createAuthRouter(deps, { registry, authenticate, authRateLimit }));
  mountFeatureRouters(app, deps, { registry, authenticate, authRateLimit });

  const document = buildOpenApiDocument(registry, config.PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`);
  app.get('/api/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.use('/api/docs', swaggerUi.serve, swaggerUi.setup(document, { customSiteTitle: 'Horse Tempo API' }));

  app.use(methodNotAllowed(document));
  app.use(notFoundHandler);
  app.use(createErrorHandler({ retryAfterSeconds: config.OUTAGE_RETRY_AFTER_SECONDS }));
  return app;
}
