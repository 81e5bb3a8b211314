import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { baseProperties } from './base';
import { PLANS } from '../domain/plans';

export const ORG_ROLES = ['owner', 'admin', 'member'] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    ...baseProperties,
    email: p.string().unique(),
    passwordHash: p.string().hidden(),
    firstName: p.string(),
    lastName: p.string(),
    /** Bumped on password change so older access tokens stop working. */
    tokenVersion: p.integer().default(0),
    plan: p.enum(PLANS).default('free'),
    stripeCustomerId: p.string().nullable().unique(),
    lastLoginAt: p.datetime().nullable(),
  },
});
export type User = InferEntity<typeof User>;

export const Organization = defineEntity({
  name: 'Organization',
  tableName: 'organizations',
  properties: {
    ...baseProperties,
    name: p.string(),
    /** The user who created it (their personal stable on register). */
    ownerId: p.uuid().index(),
  },
});
export type Organization = InferEntity<typeof Organization>;

export const Membership = defineEntity({
  name: 'Membership',
  tableName: 'memberships',
  uniques: [{ properties: ['organization', 'user'] }],
  properties: {
    ...baseProperties,
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    user: () => p.manyToOne(User).deleteRule('cascade'),
    role: p.enum(ORG_ROLES),
  },
});
export type Membership = InferEntity<typeof Membership>;

/**
 * Refresh tokens are stored hashed. Every use rotates the token inside its family; a
 * token presented after it was rotated (reuse) revokes the whole family.
 */
export const RefreshToken = defineEntity({
  name: 'RefreshToken',
  tableName: 'refresh_tokens',
  properties: {
    ...baseProperties,
    user: () => p.manyToOne(User).deleteRule('cascade'),
    familyId: p.uuid().index(),
    tokenHash: p.string().unique(),
    expiresAt: p.datetime(),
    usedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    userAgent: p.string().nullable(),
  },
});
export type RefreshToken = InferEntity<typeof RefreshToken>;

/** Long-lived keys for server-to-server clients; only the sha256 is stored. */
export const ApiKey = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    ...baseProperties,
    user: () => p.manyToOne(User).deleteRule('cascade'),
    name: p.string(),
    prefix: p.string(),
    keyHash: p.string().unique(),
    /** domain/api-keys.ts API_KEY_SCOPES; enforced on every route by the authenticate middleware. */
    scopes: p.array().default([]),
    /** After this instant the key is refused (null: no expiry). */
    expiresAt: p.datetime().nullable(),
    lastUsedAt: p.datetime().nullable(),
    /** Set on DELETE, and for every key of a user when their password changes or is reset. */
    revokedAt: p.datetime().nullable(),
  },
});
export type ApiKey = InferEntity<typeof ApiKey>;
