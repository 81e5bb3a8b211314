import { proxyActivities } from '@temporalio/workflow';
import type { AccountsActivities } from '../../activities/accounts';

const { grantFreePlanCreditsBatch } = proxyActivities<Pick<AccountsActivities, 'grantFreePlanCreditsBatch'>>({ startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 10 } });

/**
 * Run by the `free-plan-credits` Schedule on the 1st of each month: free users get the
 * free plan's monthly allowance (paid plans are reset by their subscription workflow on
 * invoice.paid). Pages through users so one run stays small.
 */
export async function grantFreePlanCredits(input: { period?: string; pageSize?: number } = {}): Promise<{ period: string; granted: number }> {
  // Workflow time is deterministic, so the period is stable across replays.
  const period = input.period ?? new Date().toISOString().slice(0, 7);
  let afterId: string | null = null;
  let granted = 0;
  do {
    const page: { granted: number; lastId: string | null } = await grantFreePlanCreditsBatch({ period, afterId, limit: input.pageSize ?? 500 });
    granted += page.granted;
    afterId = page.lastId;
  } while (afterId);
  return { period, granted };
}
