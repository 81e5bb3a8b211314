import type { AuthUser } from './types';
import { HttpError } from '../http/errors';

export const VERIFY_HINT = 'open the link we emailed you, or ask for a new one with POST /api/auth/verification/resend';

/**
 * Refuses callers whose address is not verified yet (403). The flag comes with the caller
 * (one SQL statement, cached like the rest of it), so the check costs nothing per request.
 */
export function assertVerified(user: AuthUser, toDo: string): void {
  if (!user.emailVerified) throw new HttpError(403, `Confirm your email address before you ${toDo}: ${VERIFY_HINT}`);
}

/** What an account must still do, for GET /api/auth/me. */
export function actionsRequired(user: Pick<AuthUser, 'emailVerified'>) {
  return user.emailVerified
    ? []
    : [{ action: 'verify-email' as const, message: `Confirm your email address to use your credits and to invite or join others: ${VERIFY_HINT}` }];
}
