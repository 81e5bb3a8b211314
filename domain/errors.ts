/**
 * Business error types shared by the API (mapped to HTTP statuses) and activities
 * (used as non-retryable ApplicationFailure types). Pure: no I/O, safe in workflows.
 */
export const ErrorType = {
  Validation: 'ValidationError',
  NotFound: 'NotFound',
  Conflict: 'Conflict',
  Unauthorized: 'Unauthorized',
  Forbidden: 'Forbidden',
  PaymentRequired: 'PaymentRequired',
  ServiceUnavailable: 'ServiceUnavailable',
  InvalidVideo: 'InvalidVideo',
  InsufficientCredits: 'InsufficientCredits',
  AiProviderFailed: 'AiProviderFailed',
  AiOutputInvalid: 'AiOutputInvalid',
  PlanLimitReached: 'PlanLimitReached',
  InvalidTransition: 'InvalidTransition',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** A failure the caller can act on; carries a type, an HTTP-friendly message and details. */
export class DomainError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string, id?: string) =>
  new DomainError(ErrorType.NotFound, id ? `${what} ${id} was not found` : `${what} was not found`);
