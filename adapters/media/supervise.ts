/**
 * Deadlines for media processes. An upload can be built to make a decoder spin or block, so
 * every ffmpeg/ffprobe process gets a hard timeout: SIGTERM (ffmpeg stops cleanly), then
 * SIGKILL after a grace period if it is still there. Cancellation kills at once.
 */
import { InvalidVideoError } from './errors';

export interface Deadline {
  timeoutMs: number;
  /** How long a process may take to exit after SIGTERM before it gets SIGKILL. */
  killGraceMs: number;
  signal?: AbortSignal;
}

export class MediaTimeoutError extends InvalidVideoError {
  override name = 'MediaTimeoutError';
}

/**
 * Named AbortError, the convention for an aborted operation: the Temporal worker reports an
 * activity that throws an AbortError after its cancellation signal fired as *cancelled*. Under
 * any other name a cancel that lands while ffprobe/ffmpeg runs came back to the workflow as an
 * activity failure, and a user's cancelled analysis ended `failed`.
 */
export class MediaCancelledError extends Error {
  override name = 'AbortError';
}

/** What a started process gives the supervisor: a way to signal it. */
export type KillFn = (signal: NodeJS.Signals) => void;

/**
 * Runs `run`, which must call `attach(kill)` once its process exists and settle when the
 * process has exited. A signal sent before `attach` (the process not spawned yet) is
 * delivered on attach. A run that outlives the deadline rejects with MediaTimeoutError even
 * if the process then exits 0 (its output may be partial).
 */
export async function supervise<T>(label: string, deadline: Deadline, run: (attach: (kill: KillFn) => void) => Promise<T>): Promise<T> {
  deadline.signal?.throwIfAborted();
  let kill: KillFn | null = null;
  let pending: NodeJS.Signals | null = null;
  const send = (s: NodeJS.Signals) => {
    if (kill) kill(s);
    else pending = s;
  };
  let timedOut = false;
  let aborted = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    send('SIGTERM');
    killTimer = setTimeout(() => send('SIGKILL'), deadline.killGraceMs);
  }, deadline.timeoutMs);
  const onAbort = () => {
    aborted = true;
    send('SIGKILL');
  };
  deadline.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const out = await run((k) => {
      kill = k;
      if (pending) k(pending);
    });
    if (timedOut) throw new Error('finished after its deadline');
    return out;
  } catch (err) {
    if (aborted) throw new MediaCancelledError(`${label} cancelled`);
    if (timedOut) throw new MediaTimeoutError(`${label} took longer than ${Math.round(deadline.timeoutMs / 1000)} s and was killed`);
    throw err;
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
    deadline.signal?.removeEventListener('abort', onAbort);
  }
}
