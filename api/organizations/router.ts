import { Router } from 'express';
import { z } from 'zod';
import { emailInput, text } from '../http/input-policy';
import { Membership, Organization, User, ORG_ROLES } from '../../entities';
import { routeBuilder, IdParams } from '../http/route';
import { HttpError } from '../http/errors';
import { assertMember } from './access';
import { lockOrganization } from './locks';
import { createInvitationService, InvitationView } from './invitations';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';

const OrganizationView = z
  .object({ id: z.uuid(), name: z.string(), role: z.enum(ORG_ROLES), createdAt: z.date() })
  .openapi('Organization');
const MemberView = z
  .object({ userId: z.uuid(), email: z.string(), firstName: z.string(), lastName: z.string(), role: z.enum(ORG_ROLES), since: z.date() })
  .openapi('OrganizationMember');
const MemberParams = z.object({ id: z.uuid(), userId: z.uuid() });
const Role = z.enum(ORG_ROLES, { message: `must be one of ${ORG_ROLES.join(', ')}` });

/**
 * Organizations (stables) and their members. Owners and admins invite and manage members; only an
 * owner can make or unmake owners; the last owner can neither leave nor be demoted.
 */
export function createOrganizationsRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/organizations', tag: 'organizations', authenticate: ctx.authenticate });
  const invitations = createInvitationService(deps);

  r.get('/', { summary: 'Organizations I belong to, with my role', response: z.array(OrganizationView) }, async ({ em, user }) => {
    const rows = await em.find(Membership, { user: user.id }, { populate: ['organization'], orderBy: { createdAt: 'asc' } });
    return rows.map((m) => ({ id: m.organization.id, name: (m.organization as Organization).name, role: m.role, createdAt: m.organization.createdAt }));
  });

  r.post(
    '/',
    { summary: 'Create another organization (I become its owner)', body: z.strictObject({ name: text({ max: 100 }) }), status: 201, response: OrganizationView },
    async ({ body, em, user }) => {
      const org = em.create(Organization, { name: body.name, ownerId: user.id });
      em.create(Membership, { organization: org, user: user.id, role: 'owner' });
      await em.flush();
      return { id: org.id, name: org.name, role: 'owner' as const, createdAt: org.createdAt };
    },
  );

  r.get('/:id/members', { summary: 'Members of an organization', params: IdParams, response: z.array(MemberView), errors: [404] }, async ({ params, em, user }) => {
    assertMember(user, params.id, 'Organization');
    const rows = await em.find(Membership, { organization: params.id }, { populate: ['user'], orderBy: { createdAt: 'asc' } });
    return rows.map((m) => {
      const u = m.user as User;
      return { userId: u.id, email: u.email, firstName: u.firstName, lastName: u.lastName, role: m.role, since: m.createdAt };
    });
  });

  // Members join by invitation only (api/organizations/invitations.ts): the direct
  // "add a registered email" route was removed, as it told whether an address had an account
  // and pushed strangers into organizations without their consent.
  r.post(
    '/:id/invitations',
    {
      summary: 'Invite an email address to join (owners and admins; owners only for role owner)',
      description:
        'The answer is the same whether or not the address has an account and never names anyone; an email with the invitation link goes to the address. ' +
        'Membership starts only when the verified owner of the address accepts (POST /api/invitations/{id}/accept). Needs a verified email. ' +
        '409 when the address is already a member or has a pending invitation.',
      params: IdParams,
      body: z.strictObject({ email: emailInput(), role: Role.default('member') }),
      status: 201,
      response: InvitationView,
      errors: [403, 404, 409, 429, 503],
      middleware: [ctx.authRateLimit],
    },
    async ({ params, body, em, user, req }) => invitations.invite(em, user, params.id, body, req.log),
  );
  r.get(
    '/:id/invitations',
    { summary: "The organization's invitations, newest first (owners and admins)", params: IdParams, response: z.array(InvitationView), errors: [403, 404] },
    async ({ params, em, user }) => invitations.list(em, user, params.id),
  );
  r.delete(
    '/:id/invitations/:invitationId',
    {
      summary: 'Revoke a pending invitation (owners and admins)',
      params: z.object({ id: z.uuid({ message: 'must be a UUID' }), invitationId: z.uuid({ message: 'must be a UUID' }) }),
      status: 204,
      errors: [403, 404, 409],
    },
    async ({ params, em, user }) => invitations.revoke(em, user, params.id, params.invitationId),
  );

  type Em = Parameters<Parameters<typeof r.get>[2]>[0]['em'];
  async function ownersLeft(em: Em, orgId: string) {
    return em.count(Membership, { organization: orgId, role: 'owner' });
  }

  r.patch(
    '/:id/members/:userId',
    { summary: "Change a member's role", params: MemberParams, body: z.strictObject({ role: Role }), response: MemberView, errors: [403, 404, 409] },
    async ({ params, body, em, user }) => {
      assertMember(user, params.id, 'Organization', ['owner', 'admin']);
      return em.transactional(async (tx) => {
        const caller = await lockOrganization(tx, params.id, user.id, ['owner', 'admin']);
        const m = await tx.findOne(Membership, { organization: params.id, user: params.userId }, { populate: ['user'], refresh: true });
        if (!m) throw new HttpError(404, 'Member not found');
        if ((m.role === 'owner' || body.role === 'owner') && caller.role !== 'owner') throw new HttpError(403, 'Only an owner can make or unmake owners');
        if (m.role === 'owner' && body.role !== 'owner' && (await ownersLeft(tx, params.id)) <= 1) {
          throw new HttpError(409, 'An organization needs at least one owner: make someone else owner first');
        }
        m.role = body.role;
        await tx.flush();
        const u = m.user as User;
        return { userId: u.id, email: u.email, firstName: u.firstName, lastName: u.lastName, role: m.role, since: m.createdAt };
      });
    },
  );

  r.delete('/:id/members/:userId', { summary: 'Remove a member (or leave)', params: MemberParams, status: 204, errors: [403, 404, 409] }, async ({ params, em, user }) => {
    const leaving = params.userId === user.id;
    assertMember(user, params.id, 'Organization', leaving ? undefined : ['owner', 'admin']);
    await em.transactional(async (tx) => {
      const caller = await lockOrganization(tx, params.id, user.id, leaving ? undefined : ['owner', 'admin']);
      const m = await tx.findOne(Membership, { organization: params.id, user: params.userId }, { refresh: true });
      if (!m) throw new HttpError(404, 'Member not found');
      if (m.role === 'owner' && !leaving && caller.role !== 'owner') throw new HttpError(403, 'Only an owner can remove an owner');
      if (m.role === 'owner' && (await ownersLeft(tx, params.id)) <= 1) throw new HttpError(409, 'The last owner cannot leave: make someone else owner first');
      tx.remove(m);
      await tx.flush();
    });
  });

  return router;
}
