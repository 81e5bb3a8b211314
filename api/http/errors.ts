import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { UniqueConstraintViolationException, ForeignKeyConstraintViolationException } from '@mikro-orm/core';
import { WorkflowNotFoundError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { DomainError, ErrorType } from '../../domain/errors';
import { unavailableDependency } from './outages';

/** An error with the HTTP status it should be answered with. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string, details?: unknown) => new HttpError(400, message, details);
export const notFoundError = (what: string) => new HttpError(404, `${what} not found`);

const DOMAIN_STATUS: Record<ErrorType, number> = {
  [ErrorType.Validation]: 400,
  [ErrorType.NotFound]: 404,
  [ErrorType.Conflict]: 409,
  [ErrorType.Unauthorized]: 401,
  [ErrorType.Forbidden]: 403,
  [ErrorType.PaymentRequired]: 402,
  [ErrorType.InsufficientCredits]: 402,
  [ErrorType.PlanLimitReached]: 402,
  [ErrorType.ServiceUnavailable]: 503,
  [ErrorType.InvalidVideo]: 422,
  [ErrorType.AiProviderFailed]: 502,
  [ErrorType.AiOutputInvalid]: 502,
  [ErrorType.InvalidTransition]: 409,
};

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
  requestId: string;
}

/** What a client reads on a 503 caused by an outage: when to retry, nothing about which server is down. */
export const UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable; nothing was changed, retry after the Retry-After delay';

function toHttp(err: unknown): { status: number; message: string; details?: unknown; dependency?: string } {
  const dependency = unavailableDependency(err);
  if (dependency) return { status: 503, message: UNAVAILABLE_MESSAGE, dependency };
  if (err instanceof HttpError) return { status: err.statusCode, message: err.message, details: err.details };
  if (err instanceof DomainError) return { status: DOMAIN_STATUS[err.type] ?? 400, message: err.message, details: err.details };
  if (err instanceof UniqueConstraintViolationException) return { status: 409, message: 'This resource already exists' };
  if (err instanceof ForeignKeyConstraintViolationException) return { status: 409, message: 'A referenced resource does not exist or is still in use' };
  if (err instanceof WorkflowNotFoundError) return { status: 404, message: 'No running workflow for this resource' };
  if (err instanceof WorkflowExecutionAlreadyStartedError) return { status: 409, message: 'A workflow for this resource already exists' };
  const e = err as { type?: string; status?: number; statusCode?: number; expose?: boolean; message?: string };
  // body-parser errors carry a type and an exposable status.
  if (e?.type === 'entity.parse.failed') return { status: 400, message: `Malformed JSON body: ${e.message}` };
  if (e?.type === 'entity.too.large') return { status: 413, message: `Request body is larger than the ${e.message?.match(/\d+/)?.[0] ?? ''} byte limit`.replace(' the  byte', ' the') };
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return { status: 415, message: e.message ?? 'Unsupported encoding' };
  if (e?.expose && typeof (e.status ?? e.statusCode) === 'number') return { status: (e.status ?? e.statusCode)!, message: e.message ?? 'Bad request' };
  return { status: 500, message: 'Internal server error' };
}

export function errorBody(status: number, message: string, requestId: string, details?: unknown): ErrorBody {
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, ...(details !== undefined ? { details } : {}), requestId };
}

/**
 * The one error middleware: one JSON shape, no stack traces to clients. Every 503 carries
 * Retry-After; outages (database, Temporal, object storage unreachable or timing out) are
 * 503 whatever the route, with the details in the server log only.
 */
export function createErrorHandler(opts: { retryAfterSeconds: number }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { status, message, details, dependency } = toHttp(err);
    const log = req.log ?? console;
    if (dependency) log.warn({ err, dependency }, 'dependency unavailable');
    else if (status >= 500) log.error({ err }, 'request failed');
    else log.info({ status, message }, 'request rejected');
    if (res.headersSent) return;
    if (status === 503) res.setHeader('retry-after', String(opts.retryAfterSeconds));
    res.status(status).json(errorBody(status, message, String(req.id ?? ''), details));
  };
}


export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, `No route for ${req.method} ${req.path}`));
};
