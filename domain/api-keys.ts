/**
 * API-key scopes. A key is limited to what its scopes name, on every route: `read` lets it
 * read (GET/HEAD) every feature; a feature scope lets it read and write that feature. Paths
 * of no known feature, and the account routes that manage keys and passwords, are closed to
 * keys (fail closed: a new feature is not reachable by old keys until it has a scope).
 *
 * Invitations: `organizations` is the organization-admin scope. With it a key may send, list
 * and revoke an organization's invitations (the key's owner still needs the owner or admin
 * role, as in a session); `read` does not list them, because they name the people invited.
 * The invitee side (/api/invitations) belongs to the same feature: a key may list the
 * invitations addressed to its owner, but accepting or declining one stays a decision the
 * person makes signed in with their password — joining an organization is consent, and a
 * leaked key must not be able to give it.
 */
export const API_KEY_SCOPES = ['read', 'horses', 'analyses', 'marketplace', 'gestation', 'health', 'billing', 'organizations', 'notifications'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
export type ApiKeyFeature = Exclude<ApiKeyScope, 'read'> | 'accounts';

/** The feature a request path belongs to (null: no feature, closed to keys). */
export function featureOfPath(path: string): ApiKeyFeature | null {
  const p = path.replace(/\/+$/, '').toLowerCase();
  const under = (prefix: string) => p === prefix || p.startsWith(`${prefix}/`);
  // The health book lives under a horse (/api/horses/:id/health/...) and under /api/health/...
  // (/api/health alone is the unauthenticated ops check).
  if (/^\/api\/horses\/[^/]+\/health(\/|$)/.test(p) || p.startsWith('/api/health/')) return 'health';
  if (under('/api/horses')) return 'horses';
  if (under('/api/analyses') || under('/api/uploads')) return 'analyses';
  if (under('/api/marketplace')) return 'marketplace';
  if (under('/api/gestations')) return 'gestation';
  if (under('/api/billing')) return 'billing';
  if (under('/api/organizations') || under('/api/invitations')) return 'organizations';
  if (under('/api/notifications')) return 'notifications';
  if (under('/api/auth') || under('/api/accounts')) return 'accounts';
  return null;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/** null when the key may make this request, else why not (for the 403). */
export function apiKeyRefusal(scopes: readonly string[], method: string, path: string): string | null {
  const feature = featureOfPath(path);
  const read = READ_METHODS.has(method.toUpperCase());
  if (feature === 'accounts') {
    // Keys may read who they act for (GET /api/auth/me), never manage keys or passwords.
    if (read && /\/me$/.test(path.replace(/\/+$/, '')) && scopes.length > 0) return null;
    return 'API keys cannot manage accounts or API keys: sign in with your password';
  }
  if (!feature) return 'API keys cannot use this route';
  const route = path.replace(/\/+$/, '').toLowerCase();
  if (/^\/api\/invitations\/[^/]+\/(accept|decline)$/.test(route)) {
    return 'API keys cannot accept or decline invitations: joining an organization is a decision the invited person makes signed in with their password';
  }
  if (/^\/api\/organizations\/[^/]+\/invitations(\/|$)/.test(route)) {
    if (scopes.includes('organizations')) return null;
    return `This API key lacks the 'organizations' scope needed for ${method.toUpperCase()} ${path} (invitations name the people invited: 'read' does not list them)`;
  }
  if (scopes.includes(feature)) return null;
  if (read && scopes.includes('read')) return null;
  return `This API key lacks the '${feature}' scope${read ? " (or 'read')" : ''} needed for ${method.toUpperCase()} ${path}`;
}
