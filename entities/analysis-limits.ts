/**
 * Limits on starting analyses, checked inside the statement that creates the row
 * (entities/analysis-start.ts): each AI answer costs us real money, so neither one account
 * nor one organization (nor a swarm of throwaway accounts in one organization) may start
 * analyses without bound.
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

/** The first instant of the next calendar month (UTC). */
export function nextMonthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}
