import type { AuthUser } from '../accounts/types';
import type { OrgRole } from '../../entities/accounts';
import { HttpError } from '../http/errors';

/**
 * Ownership checks. Another organization's object answers 404 (never 403) so ids of
 * other stables cannot be probed.
 */
export function memberOrgIds(user: AuthUser): string[] {
  return user.memberships.map((m) => m.organizationId);
}

export function assertMember(user: AuthUser, organizationId: string, what = 'Resource', roles?: OrgRole[]): void {
  const membership = user.memberships.find((m) => m.organizationId === organizationId);
  if (!membership) throw new HttpError(404, `${what} not found`);
  if (roles && !roles.includes(membership.role)) {
    throw new HttpError(403, `Your role "${membership.role}" in this organization cannot do this; needs ${roles.join(' or ')}`);
  }
}

/** The organization a new object goes into: the one asked for (if a member) or the user's own. */
export function targetOrganization(user: AuthUser, requested?: string): string {
  if (requested) {
    assertMember(user, requested, 'Organization');
    return requested;
  }
  if (!user.defaultOrganizationId) throw new HttpError(409, 'You belong to no organization');
  return user.defaultOrganizationId;
}
