/**
 * URL paths whose segment after the prefix is a capability (whoever has the URL may use
 * it): they must never reach the logs. The request logger replaces that segment.
 * Add a prefix here when a feature puts a bearer secret in a path.
 */
export const CAPABILITY_PATH_PREFIXES = ['/api/uploads/', '/api/health/shared/', '/api/health/calendar/'];

export const REDACTED = '[redacted]';

/** `/api/uploads/eyJ…?x=1` → `/api/uploads/[redacted]?x=1`; other URLs unchanged. */
export function redactCapabilityUrl(url: string): string {
  for (const prefix of CAPABILITY_PATH_PREFIXES) {
    if (url.startsWith(prefix)) {
      const rest = url.slice(prefix.length);
      const end = rest.search(/[/?#]/);
      return `${prefix}${REDACTED}${end === -1 ? '' : rest.slice(end)}`;
    }
  }
  return url;
}

/** The request logger's `req` serializer (api/http/request-logger.ts): the std-serialized request with capability segments redacted. */
export function redactRequest<T extends { url?: string; params?: Record<string, unknown> }>(req: T): T {
  if (typeof req.url === 'string') {
    const redacted = redactCapabilityUrl(req.url);
    if (redacted !== req.url) {
      req.url = redacted;
      // Express fills params once routed, e.g. {token: …} for PUT /api/uploads/:token.
      if (req.params && typeof req.params === 'object') req.params = Object.fromEntries(Object.keys(req.params).map((k) => [k, REDACTED]));
    }
  }
  return req;
}
