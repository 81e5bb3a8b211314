/**
 * A problem with the machine the dev stack or the tests run on (a missing tool, a folder
 * the Postgres user cannot reach, a port in use) that our code cannot fix by itself.
 * Its message is one sentence saying what is wrong and what to do; the top-level
 * handlers print only that sentence, because a stack trace would point at our code
 * when the fix is on the machine.
 */
export class EnvironmentProblem extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EnvironmentProblem';
  }
}

/** The text a top-level handler prints: the sentence alone for an EnvironmentProblem. */
export function describeStartFailure(err: unknown): string {
  if (err instanceof EnvironmentProblem) return err.message;
  return (err as Error)?.stack ?? String(err);
}
