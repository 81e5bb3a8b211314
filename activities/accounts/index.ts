import { ApplicationFailure } from '@temporalio/common';
import type { MikroORM } from '../../entities/orm';
import { User } from '../../entities';
import { ErrorType } from '../../domain/errors';

export interface UserProfile {
  userId: string;
  email: string;
  firstName: string;
  plan: string;
}

export function createAccountsActivities(deps: { orm: MikroORM }) {
  return {
    async getUserProfile(userId: string): Promise<UserProfile> {
      const user = await deps.orm.em.fork().findOne(User, { id: userId });
      if (!user) throw ApplicationFailure.nonRetryable(`user ${userId} not found`, ErrorType.NotFound);
      return { userId: user.id, email: user.email, firstName: user.firstName, plan: user.plan };
    },
  };
}

export type AccountsActivities = ReturnType<typeof createAccountsActivities>;
