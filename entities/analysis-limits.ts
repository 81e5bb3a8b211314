import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Limits on starting analyses, checked inside the transaction that creates the row: each AI
 * answer costs us real money, so neither one account nor one organization (nor a swarm of
 * throwaway accounts in one organization) may start analyses without bound.
 */
export interface AnalysisStartLimits {
  perUserPerHour: number;
  perOrganizationPerHour: number;
  /** Estimated AI spend (USD) one organization may cause per calendar month (UTC); 0 = no cap. */
  organizationMonthlySpendCapUsd: number;
}

export class AnalysisLimitReached extends Error {
  constructor(
    readonly statusCode: 402 | 429,
    message: string,
    readonly retryAfterSeconds: number,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AnalysisLimitReached';
  }
}

const HOUR_MS = 3_600_000;

/** The first instant of the next calendar month (UTC). */
export function nextMonthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

/**
 * Throws AnalysisLimitReached when a new analysis by `userId` in `organizationId` would pass a
 * limit. Takes transaction-scoped locks (user, then organization: always that order, so two
 * starts cannot deadlock) so concurrent starts are counted one after the other.
 */
export async function assertAnalysisStartAllowed(tx: EntityManager, input: { userId: string; organizationId: string; limits: AnalysisStartLimits; now?: Date }): Promise<void> {
  const now = input.now ?? new Date();
  const { limits } = input;
  const run = <T>(sql: string, params: unknown[]) => tx.getConnection().execute<T[]>(sql, params, 'all', tx.getTransactionContext());
  await run('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`analysis-start:user:${input.userId}`]);
  await run('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`analysis-start:org:${input.organizationId}`]);

  const since = new Date(now.getTime() - HOUR_MS);
  const window = async (column: 'user_id' | 'organization_id', id: string, limit: number, who: string) => {
    const [row] = await run<{ n: string; oldest: Date | string | null }>(`select count(*) as n, min(created_at) as oldest from analyses where ${column} = ? and created_at > ?`, [id, since]);
    const n = Number(row?.n ?? 0);
    if (n < limit) return;
    const retryAfter = Math.max(1, Math.ceil((new Date(row!.oldest!).getTime() + HOUR_MS - now.getTime()) / 1000));
    throw new AnalysisLimitReached(429, `Too many analyses started: ${who} may start ${limit} per hour; retry in ${retryAfter} s`, retryAfter, { limit, windowSeconds: 3600, scope: column === 'user_id' ? 'user' : 'organization' });
  };
  await window('user_id', input.userId, limits.perUserPerHour, 'one account');
  await window('organization_id', input.organizationId, limits.perOrganizationPerHour, 'one organization');

  if (limits.organizationMonthlySpendCapUsd > 0) {
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const [row] = await run<{ spent: string | null }>('select coalesce(sum(estimated_cost_usd), 0) as spent from analyses where organization_id = ? and created_at >= ?', [input.organizationId, monthStart]);
    const spent = Number(row?.spent ?? 0);
    if (spent >= limits.organizationMonthlySpendCapUsd) {
      const resetsAt = nextMonthStart(now);
      throw new AnalysisLimitReached(
        402,
        `This organization reached its monthly AI spend cap (${limits.organizationMonthlySpendCapUsd} USD, ${spent.toFixed(2)} USD used); analyses start again on ${resetsAt.toISOString().slice(0, 10)} at 00:00 UTC (Retry-After); results already stored stay readable`,
        Math.ceil((resetsAt.getTime() - now.getTime()) / 1000),
        { capUsd: limits.organizationMonthlySpendCapUsd, spentUsd: Number(spent.toFixed(4)), resetsAt: resetsAt.toISOString() },
      );
    }
  }
}
