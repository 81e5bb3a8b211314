import { Router, type RequestHandler } from 'express';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { EntityManager } from '@mikro-orm/postgresql';
import { LockMode, type FilterQuery } from '@mikro-orm/core';
import { Horse, Organization, activeAnalysesOfHorse } from '../../entities';
import { routeBuilder, IdParams, paginated } from '../http/route';
import { HttpError } from '../http/errors';
import { targetOrganization, assertMember } from '../organizations/access';
import { findPage, inMyOrganizations } from '../organizations/scope';
import { CreateHorseBody, HorseView, ListHorsesQuery, UpdateHorseBody } from './schemas';
import { horseView, loadOwnedHorse, loadOwnedHorseView } from './access';

type ParentRefs = { sireId?: string | null; damId?: string | null };

/** A sire must be a stallion and a dam a mare, both of the same organization. */
async function checkParents(em: EntityManager, organizationId: string, refs: ParentRefs, selfId?: string) {
  const checks: [keyof ParentRefs, 'stallion' | 'mare'][] = [
    ['sireId', 'stallion'],
    ['damId', 'mare'],
  ];
  for (const [field, gender] of checks) {
    const id = refs[field];
    if (!id) continue;
    const parent = id === selfId ? null : await em.findOne(Horse, { id, organization: organizationId });
    if (!parent || parent.gender !== gender) {
      throw new HttpError(422, `Invalid body.${field}: must be a ${gender} of the same organization`, [
        { location: 'body', field, message: `must be a ${gender} of the same organization` },
      ]);
    }
  }
}

export function createHorsesRouter(opts: { registry: OpenAPIRegistry; authenticate: RequestHandler }) {
  const router = Router();
  const r = routeBuilder({ router, registry: opts.registry, basePath: '/api/horses', tag: 'horses', authenticate: opts.authenticate });

  r.post('/', { summary: 'Add a horse', body: CreateHorseBody, status: 201, response: HorseView, errors: [404, 422] }, async ({ body, em, user }) => {
    const { organizationId: requested, ...fields } = body;
    const organizationId = targetOrganization(user, requested);
    await checkParents(em, organizationId, fields);
    const horse = em.create(Horse, {
      ...fields,
      images: fields.images ?? [],
      organization: em.getReference(Organization, organizationId),
      createdById: user.id,
    });
    await em.flush();
    return horseView(horse);
  });

  r.get('/', { summary: 'List my horses (filters, sort, pagination)', query: ListHorsesQuery, response: paginated(HorseView) }, async ({ query, em, user }) => {
    if (query.organizationId) assertMember(user, query.organizationId, 'Organization');
    const where: FilterQuery<Horse> = query.organizationId ? { organization: query.organizationId } : inMyOrganizations(user);
    if (query.q) where.name = { $ilike: `%${query.q.replace(/[%_\\]/g, (c) => `\\${c}`)}%` };
    if (query.gender) where.gender = query.gender;
    if (query.breed) where.breed = { $ilike: query.breed };
    const desc = query.sort.startsWith('-');
    const field = query.sort.replace('-', '') as 'name' | 'birthDate' | 'createdAt';
    const page = await findPage(em, Horse, where, query, { orderBy: { [field]: desc ? 'desc nulls last' : 'asc nulls last', id: 'asc' } });
    return { ...page, items: page.items.map(horseView) };
  });

  r.get('/:id', { summary: 'One horse', params: IdParams, response: HorseView, errors: [404] }, async ({ params, em, user }) => {
    return loadOwnedHorseView(em, user, params.id);
  });

  r.patch('/:id', { summary: 'Change a horse', params: IdParams, body: UpdateHorseBody, response: HorseView, errors: [404, 422] }, async ({ params, body, em, user }) => {
    const horse = await loadOwnedHorse(em, user, params.id);
    await checkParents(em, horse.organization.id, body, horse.id);
    em.assign(horse, body);
    await em.flush();
    return horseView(horse);
  });

  r.delete('/:id', { summary: 'Delete a horse', params: IdParams, status: 204, errors: [404, 409] }, async ({ params, em, user }) => {
    const horse = await loadOwnedHorse(em, user, params.id);
    await em.transactional(async (tx) => {
      // The row lock waits for an analysis being created for this horse, so the count sees it.
      const locked = await tx.findOneOrFail(Horse, { id: horse.id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (await activeAnalysesOfHorse(tx, horse.id)) {
        throw new HttpError(409, 'This horse has an analysis in progress: cancel it first (POST /api/analyses/:id/cancel), then delete the horse');
      }
      tx.remove(locked);
    });
  });

  return router;
}
