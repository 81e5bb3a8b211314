import { Router } from 'express';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { Invitation, Membership, Organization, User, INVITATION_STATUSES, ORG_ROLES, type OrgRole } from '../../entities';
import { routeBuilder, IdParams } from '../http/route';
import { HttpError } from '../http/errors';
import { assertMember } from './access';
import { lockOrganization, rolesThatGrant } from './locks';
import { assertVerified } from '../accounts/verified';
import type { AuthUser } from '../accounts/types';
import { createAccountEmails } from '../accounts/email-links';

export const InvitationView = z
  .object({
    id: z.uuid(),
    organizationId: z.uuid(),
    email: z.string(),
    role: z.enum(ORG_ROLES),
    status: z.enum([...INVITATION_STATUSES, 'expired']),
    invitedBy: z.uuid(),
    expiresAt: z.date(),
    createdAt: z.date(),
    respondedAt: z.date().nullable(),
  })
  .openapi('Invitation');

/** A pending invitation past its expiry reads as "expired" (nothing rewrites the row). */
export function invitationView(inv: Invitation) {
  const expired = inv.status === 'pending' && inv.expiresAt.getTime() <= Date.now();
  return {
    id: inv.id,
    organizationId: inv.organization.id,
    email: inv.email,
    role: inv.role,
    status: expired ? ('expired' as const) : inv.status,
    invitedBy: inv.invitedBy,
    expiresAt: inv.expiresAt,
    createdAt: inv.createdAt,
    respondedAt: inv.respondedAt ?? null,
  };
}

/**
 * The organization's side: invite an address (the answer is the same whether or not it has
 * an account, and says nothing about it), list, revoke. Membership happens only when the
 * verified owner of the address accepts (createInvitationsRouter).
 */
export function createInvitationService(deps: AppDeps) {
  const emails = createAccountEmails(deps);
  return {
    async invite(em: EntityManager, user: AuthUser, orgId: string, input: { email: string; role: OrgRole }, log: { error: (o: object, m: string) => void }) {
      assertMember(user, orgId, 'Organization', ['owner', 'admin']);
      if (input.role === 'owner') assertMember(user, orgId, 'Organization', ['owner']);
      assertVerified(user, 'invite others');
      const invitation = await em.transactional(async (tx) => {
        await lockOrganization(tx, orgId, user.id, rolesThatGrant(input.role));
        // Members are listed to owners and admins already: saying so tells them nothing new.
        const [member] = await tx
          .getConnection()
          .execute('select 1 from memberships m join users u on u.id = m.user_id where m.organization_id = ? and u.email = ?', [orgId, input.email], 'all', tx.getTransactionContext());
        if (member) throw new HttpError(409, `${input.email} is already a member of this organization`);
        const pending = await tx.findOne(Invitation, { organization: orgId, email: input.email, status: 'pending', expiresAt: { $gt: new Date() } });
        if (pending) {
          throw new HttpError(409, `${input.email} already has a pending invitation (until ${pending.expiresAt.toISOString()}): revoke it first to send another`, [
            { location: 'body', field: 'email', message: 'has a pending invitation' },
          ]);
        }
        const created = tx.create(Invitation, {
          organization: orgId,
          email: input.email,
          role: input.role,
          invitedBy: user.id,
          expiresAt: new Date(Date.now() + deps.config.INVITATION_TTL_DAYS * 86_400_000),
        });
        await tx.flush();
        return created;
      });
      if (!(await emails.send({ kind: 'invitation', id: invitation.id }, log))) {
        await em.nativeDelete(Invitation, { id: invitation.id });
        throw new HttpError(503, 'Could not queue the invitation email; no invitation was made, try again shortly');
      }
      return invitationView(invitation);
    },

    async list(em: EntityManager, user: AuthUser, orgId: string) {
      assertMember(user, orgId, 'Organization', ['owner', 'admin']);
      const rows = await em.find(Invitation, { organization: orgId }, { orderBy: { createdAt: 'desc' }, limit: 200 });
      return rows.map(invitationView);
    },

    async revoke(em: EntityManager, user: AuthUser, orgId: string, invitationId: string) {
      assertMember(user, orgId, 'Organization', ['owner', 'admin']);
      const updated = await em.nativeUpdate(Invitation, { id: invitationId, organization: orgId, status: 'pending' }, { status: 'revoked', respondedAt: new Date(), respondedBy: user.id });
      if (updated) return;
      const inv = await em.findOne(Invitation, { id: invitationId, organization: orgId });
      if (!inv) throw new HttpError(404, 'Invitation not found');
      throw new HttpError(409, `This invitation was already ${inv.status}`);
    },
  };
}

const MyInvitationView = InvitationView.omit({ email: true }).extend({ organizationName: z.string() }).openapi('MyInvitation');

/**
 * The invitee's side, /api/invitations: only a verified account whose address is the
 * invited one sees or answers an invitation; to anyone else it does not exist (404).
 */
export function createInvitationsRouter(ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/invitations', tag: 'organizations', authenticate: ctx.authenticate });

  /** The invitation, row-locked, if it is addressed to the caller; else 404. */
  async function mine(tx: EntityManager, user: AuthUser, id: string) {
    assertVerified(user, 'answer invitations');
    const inv = await tx.findOne(Invitation, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!inv || inv.email !== user.email) throw new HttpError(404, 'Invitation not found');
    if (inv.status !== 'pending') throw new HttpError(409, `This invitation was already ${inv.status}`);
    if (inv.expiresAt.getTime() <= Date.now()) throw new HttpError(409, 'This invitation has expired: ask the organization for a new one');
    return inv;
  }

  r.get(
    '/',
    { summary: 'Pending invitations addressed to my (verified) email', response: z.array(MyInvitationView), errors: [403] },
    async ({ em, user }) => {
      assertVerified(user, 'see invitations');
      const rows = await em.find(Invitation, { email: user.email, status: 'pending', expiresAt: { $gt: new Date() } }, { populate: ['organization'], orderBy: { createdAt: 'desc' } });
      return rows.map((inv) => {
        const { email: _email, ...view } = invitationView(inv);
        return { ...view, organizationName: (inv.organization as Organization).name };
      });
    },
  );

  r.post(
    '/:id/accept',
    {
      summary: 'Accept an invitation addressed to my verified email: I become a member with its role',
      description: 'Single use. 404 for an invitation addressed to another email; 409 when it was revoked, answered, expired, or its sender can no longer grant the role.',
      params: IdParams,
      response: z.object({ id: z.uuid(), name: z.string(), role: z.enum(ORG_ROLES), createdAt: z.date() }),
      errors: [403, 404, 409],
    },
    async ({ em, user, params }) =>
      em.transactional(async (tx) => {
        assertVerified(user, 'answer invitations');
        // The organization lock first (like role changes and removals), then the invitation.
        const peek = await tx.findOne(Invitation, { id: params.id });
        if (!peek || peek.email !== user.email) throw new HttpError(404, 'Invitation not found');
        const org = await tx.findOne(Organization, { id: peek.organization.id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        const inv = await mine(tx, user, params.id);
        if (!org) throw new HttpError(404, 'Invitation not found');
        // The role locks hold at acceptance too: a sender who was demoted or left cannot grant.
        const sender = await tx.findOne(Membership, { organization: org.id, user: inv.invitedBy }, { refresh: true });
        if (!sender || !rolesThatGrant(inv.role).includes(sender.role)) {
          throw new HttpError(409, 'This invitation is no longer valid: the member who sent it can no longer grant this role; ask for a new one');
        }
        if (await tx.count(Membership, { organization: org.id, user: user.id })) throw new HttpError(409, 'You are already a member of this organization');
        const m = tx.create(Membership, { organization: org, user: tx.getReference(User, user.id), role: inv.role });
        inv.status = 'accepted';
        inv.respondedAt = new Date();
        inv.respondedBy = user.id;
        await tx.flush();
        return { id: org.id, name: org.name, role: m.role, createdAt: org.createdAt };
      }),
  );

  r.post(
    '/:id/decline',
    { summary: 'Decline an invitation addressed to my verified email', params: IdParams, status: 204, errors: [403, 404, 409] },
    async ({ em, user, params }) => {
      await em.transactional(async (tx) => {
        const inv = await mine(tx, user, params.id);
        inv.status = 'declined';
        inv.respondedAt = new Date();
        inv.respondedBy = user.id;
        await tx.flush();
      });
    },
  );

  return router;
}
