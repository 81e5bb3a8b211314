import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Membership, Organization, type OrgRole } from '../../entities';
import { HttpError } from '../http/errors';

/**
 * Takes the organization row lock and re-reads the caller's role from the database.
 * Everything that changes who belongs to an organization with which role (role changes,
 * removals, accepted invitations) runs under it, so concurrent changes are serialised and
 * see each other: two owners demoting each other keep one owner.
 */
export async function lockOrganization(tx: EntityManager, orgId: string, callerId: string, roles?: readonly OrgRole[]) {
  const org = await tx.findOne(Organization, { id: orgId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  const caller = org ? await tx.findOne(Membership, { organization: orgId, user: callerId }, { refresh: true }) : null;
  if (!org || !caller) throw new HttpError(404, `Organization ${orgId} not found`);
  if (roles && !roles.includes(caller.role)) throw new HttpError(403, `Only ${roles.join(' or ')} of this organization can do this (you are ${caller.role})`);
  return caller;
}

/** Who may grant a role: owners make owners; owners and admins make admins and members. */
export const rolesThatGrant = (role: OrgRole): OrgRole[] => (role === 'owner' ? ['owner'] : ['owner', 'admin']);
