import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { MikroORM } from '../../entities/orm';
import type { Mailer } from '../../adapters/email/mailer';
import { User } from '../../entities';
import { ErrorType } from '../../domain/errors';
import { welcomeMessage } from '../../domain/messages';
import { createNotifyActivities, type EmailResult } from '../notify';
import { entitlementsOf } from '../../domain/plans';
import { grantPeriodCredits } from '../../entities/credit-ledger';

export function createAccountsActivities(deps: { orm: MikroORM; mailer: Mailer; logger: Logger }) {
  const notify = createNotifyActivities(deps);
  return {
    /**
     * The welcome email, worded here from the user row: the address and the first name never
     * pass through the workflow, so they never land in its history (ops can read histories).
     * Keyed `welcome:<userId>` like every send, so a retry emails nobody twice.
     */
    async sendWelcomeEmail(input: { userId: string }): Promise<EmailResult> {
      const user = await deps.orm.em.fork().findOne(User, { id: input.userId });
      if (!user) throw ApplicationFailure.nonRetryable(`user ${input.userId} not found`, ErrorType.NotFound);
      return notify.sendEmail({ key: `welcome:${user.id}`, userId: user.id, to: user.email, ...welcomeMessage(user.firstName) });
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
