import type { RequestHandler } from 'express';
import { HttpError } from './errors';

type Document = { paths?: Record<string, object> };

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Mounted after every router: a request that reached it on a path the OpenAPI document
 * declares, with a method the document does not declare there, is a 405 with `Allow`
 * (HTTP semantics, and what a contract fuzzer expects) instead of a 404.
 */
export function methodNotAllowed(document: Document): RequestHandler {
  const routes = Object.entries(document.paths ?? {}).map(([path, ops]) => {
    const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}|\{[^}]+\}/g, '[^/]+')}/?$`);
    const methods = Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => m.toUpperCase());
    if (methods.includes('GET')) methods.push('HEAD');
    return { pattern, methods };
  });
  return (req, res, next) => {
    const allowed = new Set(routes.filter((r) => r.pattern.test(req.path)).flatMap((r) => r.methods));
    if (allowed.size === 0 || allowed.has(req.method)) return next();
    const allow = [...allowed].sort().join(', ');
    res.setHeader('allow', allow);
    next(new HttpError(405, `${req.method} is not allowed on ${req.path}; allowed: ${allow}`));
  };
}
