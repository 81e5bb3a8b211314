import type { EntityManager } from '@mikro-orm/postgresql';
import { Membership, Organization } from '../../entities';

/**
 * Who hears about something a member set up in an organization (a health record, a gestation,
 * a listing): that member while they still belong to the organization (it may be another one
 * now: the horse moved, or they left), else the organization's owners. The health, gestation
 * and marketplace reminders share this one rule.
 */
export async function reminderRecipients(em: EntityManager, organizationId: string, memberId: string | null): Promise<string[]> {
  if (memberId) {
    const member = await em.findOne(Membership, { organization: organizationId, user: memberId });
    if (member) return [memberId];
  }
  return organizationOwners(em, organizationId);
}

/** The organization's owners, oldest membership first; its recorded owner when no membership says so. */
export async function organizationOwners(em: EntityManager, organizationId: string): Promise<string[]> {
  const rows = await em.find(Membership, { organization: organizationId, role: 'owner' }, { orderBy: { createdAt: 'asc' } });
  if (rows.length) return rows.map((m) => m.user.id);
  const org = await em.findOne(Organization, { id: organizationId });
  return org ? [org.ownerId] : [];
}
