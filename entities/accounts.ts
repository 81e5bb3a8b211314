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
    /**
     * When the owner proved they read this address (verification link or password reset).
     * Until then: no credits spent, no invitations sent or accepted (api/accounts/verified.ts).
     */
    emailVerifiedAt: p.datetime().nullable(),
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

export const ACCOUNT_TOKEN_PURPOSES = ['verify-email', 'reset-password'] as const;
export type AccountTokenPurpose = (typeof ACCOUNT_TOKEN_PURPOSES)[number];

/**
 * Single-use links sent by email. Only the sha256 of the token is stored; the token itself
 * is derived from the row id and a server secret (entities/account-tokens.ts), so the
 * worker that emails it can rebuild the same link on a retry without it ever being written.
 */
export const AccountToken = defineEntity({
  name: 'AccountToken',
  tableName: 'account_tokens',
  indexes: [{ properties: ['user', 'purpose', 'createdAt'] }],
  properties: {
    ...baseProperties,
    user: () => p.manyToOne(User).deleteRule('cascade'),
    purpose: p.enum(ACCOUNT_TOKEN_PURPOSES),
    tokenHash: p.string().unique(),
    expiresAt: p.datetime(),
    /** Set once, by the one request that used the link (or by a reset that ends the others). */
    usedAt: p.datetime().nullable(),
  },
});
export type AccountToken = InferEntity<typeof AccountToken>;

export const INVITATION_STATUSES = ['pending', 'accepted', 'declined', 'revoked'] as const;
export type InvitationStatus = (typeof INVITATION_STATUSES)[number];

/**
 * An organization's offer of membership to an email address. Nobody becomes a member
 * until the verified owner of that address accepts; the organization learns nothing about
 * the address (whether it has an account, a name) before that.
 */
export const Invitation = defineEntity({
  name: 'Invitation',
  tableName: 'invitations',
  indexes: [{ properties: ['email', 'status'] }, { properties: ['organization', 'status'] }],
  properties: {
    ...baseProperties,
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    email: p.string(),
    role: p.enum(ORG_ROLES),
    /** The member who invited (a user id, kept when that user is gone). */
    invitedBy: p.uuid(),
    status: p.enum(INVITATION_STATUSES).default('pending'),
    expiresAt: p.datetime(),
    respondedAt: p.datetime().nullable(),
    /** The account that accepted or declined. */
    respondedBy: p.uuid().nullable(),
  },
});
export type Invitation = InferEntity<typeof Invitation>;
