import { Router, type RequestHandler } from 'express';
import { LockMode } from '@mikro-orm/core';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { text } from '../http/input-policy';
import { Membership, Organization, User, ORG_ROLES } from '../../entities';
import { routeBuilder, IdParams } from '../http/route';
import { HttpError } from '../http/errors';
import { assertMember } from './access';

const OrganizationView = z
  .object({ id: z.uuid(), name: z.string(), role: z.enum(ORG_ROLES), createdAt: z.date() })
  .openapi('Organization');
const MemberView = z
  .object({ userId: z.uuid(), email: z.string(), firstName: z.string(), lastName: z.string(), role: z.enum(ORG_ROLES), since: z.date() })
  .openapi('OrganizationMember');
const MemberParams = z.object({ id: z.uuid(), userId: z.uuid() });
const Role = z.enum(ORG_ROLES, { message: `must be one of ${ORG_ROLES.join(', ')}` });

/**
 * Organizations (stables) and their members. Owners and admins manage members; only an
 * owner can make or unmake owners; the last owner can neither leave nor be demoted.
 */
export function createOrganizationsRouter(opts: { registry: OpenAPIRegistry; authenticate: RequestHandler }) {
  const router = Router();
  const r = routeBuilder({ router, registry: opts.registry, basePath: '/api/organizations', tag: 'organizations', authenticate: opts.authenticate });

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

  r.post(
    '/:id/members',
    {
      summary: 'Add a registered user by email',
      params: IdParams,
      body: z.strictObject({ email: z.string().trim().toLowerCase().pipe(z.email()), role: Role.default('member') }),
      status: 201,
      response: MemberView,
      errors: [403, 404, 409],
    },
    async ({ params, body, em, user }) => {
      assertMember(user, params.id, 'Organization', ['owner', 'admin']);
      if (body.role === 'owner') assertMember(user, params.id, 'Organization', ['owner']);
      const invitee = await em.findOne(User, { email: body.email });
      if (!invitee) throw new HttpError(404, `No account with email ${body.email}: ask them to register first`, [{ location: 'body', field: 'email', message: 'has no account' }]);
      if (await em.count(Membership, { organization: params.id, user: invitee.id })) throw new HttpError(409, `${body.email} is already a member`);
      const m = em.create(Membership, { organization: params.id, user: invitee, role: body.role });
      await em.flush();
      return { userId: invitee.id, email: invitee.email, firstName: invitee.firstName, lastName: invitee.lastName, role: m.role, since: m.createdAt };
    },
  );

  type Em = Parameters<Parameters<typeof r.get>[2]>[0]['em'];
  async function ownersLeft(em: Em, orgId: string) {
    return em.count(Membership, { organization: orgId, role: 'owner' });
  }

  /**
   * Role changes and removals run under a lock on the organization row and re-read the
   * caller's role from the database: two owners demoting each other (or leaving) at once are
   * serialised, so the second sees the first's change and the organization keeps an owner.
   */
  async function lockOrganization(tx: Em, orgId: string, callerId: string, roles?: readonly (typeof ORG_ROLES)[number][]) {
    const org = await tx.findOne(Organization, { id: orgId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const caller = org ? await tx.findOne(Membership, { organization: orgId, user: callerId }, { refresh: true }) : null;
    if (!org || !caller) throw new HttpError(404, `Organization ${orgId} not found`);
    if (roles && !roles.includes(caller.role)) throw new HttpError(403, `Only ${roles.join(' or ')} of this organization can do this (you are ${caller.role})`);
    return caller;
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
