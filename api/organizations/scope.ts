import { LockMode, type EntityName, type FilterQuery, type FindOptions, type Loaded } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuthUser } from '../accounts/types';
import { HttpError } from '../http/errors';
import { memberOrgIds } from './access';

/**
 * The two shapes every organization-scoped feature repeats: "load this row or 404 if it is
 * not in one of my organizations" and "one page of rows". Kept here so the 404 rule (never
 * 403, so ids of other stables cannot be probed) and the page arithmetic exist once.
 */

/** Rows of the caller's organizations (the `organization` relation of an entity). */
export function inMyOrganizations(user: AuthUser): { organization: { $in: string[] } } {
  return { organization: { $in: memberOrgIds(user) } };
}

export interface LoadOwnedOptions<T extends object> {
  /** Names the object in the 404 message ("Listing 3f… not found"). */
  what: string;
  /** Locks the row FOR UPDATE (inside a transaction) and re-reads it, so a transition sees every committed one. */
  lock?: boolean;
  /** More conditions besides id and organization (e.g. not soft-deleted). */
  where?: FilterQuery<T>;
}

/**
 * The row with this id in one of the caller's organizations, else 404 whether it exists
 * or not. Populate relations afterwards (`em.populate`): Postgres cannot lock the nullable
 * side of the outer join a populate would add.
 */
export async function loadOwned<T extends { id: string; organization: unknown }>(
  em: EntityManager,
  entity: EntityName<T>,
  user: AuthUser,
  id: string,
  options: LoadOwnedOptions<T>,
): Promise<T> {
  // The id + organization filter is valid for every entity this accepts; the ORM's
  // FilterQuery cannot see that through the generic.
  const where = { ...(options.where as object | undefined), id, ...inMyOrganizations(user) } as FilterQuery<T>;
  const row = await em.findOne<T, never, '*', never, never>(entity, where, options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {});
  if (!row) throw new HttpError(404, `${options.what} ${id} not found`);
  return row;
}

/** `?page=&limit=` of every paginated list (1-based page). */
export interface PageQuery {
  page: number;
  limit: number;
}

export interface Page<V> {
  items: V[];
  total: number;
  page: number;
  limit: number;
}

/** The page answer every list route sends: `{ items, total, page, limit }`. */
export function pageOf<V>(items: V[], total: number, query: PageQuery): Page<V> {
  return { items, total, page: query.page, limit: query.limit };
}

/** One page of rows and the total matching, ordered as asked (always add a unique tiebreaker). */
export async function findPage<T extends object, P extends string = never>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<NoInfer<T>>,
  query: PageQuery,
  options: Omit<FindOptions<T, P, '*'>, 'limit' | 'offset' | 'using'>,
): Promise<Page<Loaded<T, P>>> {
  const [rows, total] = await em.findAndCount<T, P, '*', never, never>(entity, where, { ...options, limit: query.limit, offset: (query.page - 1) * query.limit });
  return pageOf(rows, total, query);
}
