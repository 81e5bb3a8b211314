import type { RequestHandler } from 'express';

/**
 * Old URL prefixes kept as deprecated aliases after a rename, old → new. A request on an
 * old path is served by the new route (same handler, same validation) and answers with
 * `Deprecation` (RFC 9745: the date it was deprecated) and `Link: <new>; rel="successor-version"`
 * so clients can see where to go. Longest prefix first where prefixes overlap.
 */
export const LEGACY_PATHS: readonly { from: string; to: string }[] = [
  { from: '/api/breeding/pregnancies', to: '/api/gestations' },
  { from: '/api/breeding/preferences', to: '/api/notifications/preferences' },
  { from: '/api/webhooks/stripe', to: '/api/billing/webhook' },
];

/** 2026-12-03T00:00:00Z, the day the feature words were unified. */
const DEPRECATED_AT = Math.floor(Date.UTC(2026, 11, 3) / 1000);

/** Where an old path now lives, or null. Only whole path segments match (`/api/webhooks/stripe2` does not). */
export function successorPath(path: string): string | null {
  for (const { from, to } of LEGACY_PATHS) {
    if (path === from || path.startsWith(`${from}/`)) return to + path.slice(from.length);
  }
  return null;
}

/** Must run before the body parsers and routers: it rewrites the URL they route on. */
export function legacyPathAliases(): RequestHandler {
  return (req, res, next) => {
    const [path, query] = splitUrl(req.url);
    const successor = successorPath(path);
    if (successor) {
      res.setHeader('Deprecation', `@${DEPRECATED_AT}`);
      res.setHeader('Link', `<${successor}>; rel="successor-version"`);
      req.url = query === undefined ? successor : `${successor}?${query}`;
    }
    next();
  };
}

function splitUrl(url: string): [string, string | undefined] {
  const i = url.indexOf('?');
  return i < 0 ? [url, undefined] : [url.slice(0, i), url.slice(i + 1)];
}
