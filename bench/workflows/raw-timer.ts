/**
 * The baseline of the sleeping-workflow benches: a Temporal timer workflow doing nothing
 * else — sleep until an instant, then one activity (which records when it ran).
 */
import { proxyActivities, sleep } from '@temporalio/workflow';

const { rawTimerFired } = proxyActivities<{ rawTimerFired(key: string): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export async function rawTimer(input: { key: string; untilMs: number }): Promise<void> {
  await sleep(Math.max(1, input.untilMs - Date.now()));
  await rawTimerFired(input.key);
}
