import { Router } from 'express';
import type { AppDeps } from '../deps';

/** Database and Temporal are checked separately; either one down answers 503. */
export function createOpsHealthRouter(deps: AppDeps) {
  const router = Router();
  router.get('/', async (_req, res) => {
    const started = Date.now();
    const database = await deps.orm.em
      .fork()
      .getConnection()
      .execute('select 1')
      .then(() => true)
      .catch(() => false);
    const temporal = await deps.temporal.isHealthy();
    const ok = database && temporal;
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'degraded',
      checks: {
        database: { status: database ? 'ok' : 'down' },
        temporal: { status: temporal ? 'ok' : 'down', namespace: deps.temporal.namespace },
      },
      durationMs: Date.now() - started,
    });
  });
  return router;
}
