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

    /**
     * Users registered a while ago (but recently) whose welcome email never reached the
     * outbox: their register happened while Temporal was unreachable.
     */
    async findUsersMissingWelcome(input: { olderThanMinutes: number; withinDays: number; limit: number }): Promise<string[]> {
      const rows: { id: string }[] = await deps.orm.em
        .fork()
        .getConnection()
        .execute(
          `select u.id from users u
            where u.created_at < now() - make_interval(mins => ?)
              and u.created_at > now() - make_interval(days => ?)
              and not exists (select 1 from email_outbox e where e.key = 'welcome:' || u.id::text)
            order by u.created_at
            limit ?`,
          [input.olderThanMinutes, input.withinDays, input.limit],
        );
      return rows.map((r) => r.id);
    },
  };
}

export type AccountsActivities = ReturnType<typeof createAccountsActivities>;
