import { ApplicationFailure } from '@temporalio/common';
import type { MikroORM } from '../../entities/orm';
import { User } from '../../entities';
import { ErrorType } from '../../domain/errors';
import { entitlementsOf } from '../../domain/plans';
import { grantPeriodCredits } from '../../entities/credit-ledger';

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

    /**
     * Resets one page of free-plan users to the free monthly allowance. Keyed per user and
     * period, so a retried page or a re-run of the month grants nothing twice.
     */
    async grantFreePlanCreditsBatch(input: { period: string; afterId: string | null; limit: number }): Promise<{ granted: number; lastId: string | null }> {
      const em = deps.orm.em.fork();
      const users = await em.find(
        User,
        { plan: 'free', ...(input.afterId ? { id: { $gt: input.afterId } } : {}) },
        { orderBy: { id: 'asc' }, limit: input.limit },
      );
      const amount = entitlementsOf('free').monthlyAnalysisCredits;
      for (const u of users) await grantPeriodCredits(em.fork(), u.id, amount, `grant:${u.id}:free:${input.period}`, `free plan ${input.period}`);
      return { granted: users.length, lastId: users.length === input.limit ? users[users.length - 1].id : null };
    },
  };
}

export type AccountsActivities = ReturnType<typeof createAccountsActivities>;
