import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './errors';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Who may read /metrics (route names, request counts, process internals): with
 * METRICS_TOKEN, whoever sends `Authorization: Bearer <token>`; without it, only clients
 * on this machine that did not come through a proxy (a request carrying X-Forwarded-For
 * was relayed for someone else).
 */
export function metricsGuard(token: string | undefined): RequestHandler {
  return (req, res, next) => {
    if (token) {
      const header = req.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (given && sameSecret(given, token)) return next();
      res.setHeader('www-authenticate', 'Bearer realm="metrics"');
      return next(new HttpError(401, 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>'));
    }
    const local = LOOPBACK.has(req.socket.remoteAddress ?? '') && req.headers['x-forwarded-for'] === undefined;
    if (local) return next();
    next(new HttpError(403, 'Metrics are served to local clients only; set METRICS_TOKEN to scrape them remotely'));
  };
}
