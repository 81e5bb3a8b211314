import { ActivityFailure, isCancellation, log } from '@temporalio/workflow';

/**
 * Runs an activity whose failure must not stop the workflow — a notice to a bounced
 * address, a provider down past its few attempts, a Stripe call the state machine can do
 * without: the failure is logged and the workflow carries on with every timer intact.
 * Cancellation and workflow bugs (anything but an activity failure) still propagate.
 */
export async function bestEffort<T>(what: string, context: Record<string, unknown>, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    log.warn(`${what} failed; carrying on`, { ...context, error: err.cause?.message ?? err.message });
    return undefined;
  }
}
