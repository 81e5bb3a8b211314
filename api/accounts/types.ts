import type { Plan } from '../../domain/plans';
import type { OrgRole } from '../../entities/accounts';

/** The authenticated caller, as routes see it. */
export interface AuthUser {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  plan: Plan;
  /** The address was proven (link or reset); needed to spend credits and to send or accept invitations. */
  emailVerified: boolean;
  /** Organizations the user belongs to, with the role in each. */
  memberships: { organizationId: string; role: OrgRole }[];
  /** The organization created on register (their own stable). */
  defaultOrganizationId: string | null;
  via: 'jwt' | 'apiKey';
  /** With `via: 'apiKey'`: the key's scopes (domain/api-keys.ts). */
  scopes?: string[];
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends AuthUser {}
  }
}
