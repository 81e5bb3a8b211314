import { randomUUID } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { stdSerializers, type Level, type Logger } from 'pino';
import { redactRequest } from './request-log';

declare module 'http' {
  interface IncomingMessage {
    /** The request id: the caller's X-Request-Id when well-formed, else a new UUID. */
    id: string;
    /** A child of the app's logger bound to this request (`req` in every line). */
    log: Logger;
  }
  interface ServerResponse {
    /** The same logger as `req.log`. */
    log: Logger;
    /** Set by code that wants an error logged with the request line (as pino-http reads it). */
    err?: Error;
  }
}

/** Level of the request line: failures are errors, refusals info, successes debug. */
export function requestLogLevel(res: Response, err?: Error): Level {
  return err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug';
}

const REQUEST_ID = /^[\w.-]{1,100}$/;

/**
 * The request log, writing the same lines pino-http wrote (a `req` binding on every line of
 * `req.log`, one "request completed" / "request errored" line with `res` and `responseTime`
 * when the response ends) at a fraction of the cost: pino-http builds the request's child
 * logger eagerly, which serializes, redacts and stringifies the request (headers and all) on
 * every request, although in production (level info) a successful request writes nothing.
 * bench/api-auth.ts measured that at about a fifth of the API's CPU per authenticated read.
 * Here the request is captured (a cheap object, as it is on arrival) and the child logger is
 * built on first use: by a route that logs, or by the request line when its level is on.
 */
export function requestLogger(logger: Logger): RequestHandler {
  const serializeRequest = stdSerializers.wrapRequestSerializer(redactRequest);
  const base = logger.child(
    {},
    {
      serializers: {
        // A request captured on arrival is already serialized (a plain object); a raw request
        // logged by hand is an IncomingMessage (Express's req is one) and is serialized and
        // redacted here.
        req: (req: unknown) => (req instanceof IncomingMessage ? serializeRequest(req) : req),
        res: stdSerializers.res,
        err: stdSerializers.err,
      },
    },
  );

  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', id);
    req.id = id;
    const startedAt = Date.now();
    // As pino-http saw it: on arrival, before routing rewrites req.url or fills req.params.
    const snapshot = serializeRequest(req);
    let child: Logger | undefined;
    const logOf = () => (child ??= base.child({ req: snapshot }));
    defineLazyLog(req, logOf);
    defineLazyLog(res, logOf);

    const onDone = (err?: Error) => {
      res.removeListener('close', onDone);
      res.removeListener('finish', onDone);
      res.removeListener('error', onDone);
      const level = requestLogLevel(res, err);
      if (!base.isLevelEnabled(level)) return;
      const responseTime = Date.now() - startedAt;
      if (err || res.err || res.statusCode >= 500) {
        const error = err || res.err || new Error(`failed with status code ${res.statusCode}`);
        res.log[level]({ res, err: error, responseTime }, 'request errored');
        return;
      }
      res.log[level]({ res, responseTime }, !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted');
    };
    res.on('close', onDone);
    res.on('finish', onDone);
    res.on('error', onDone);
    next();
  };
}

/** `target.log`, built on first read; assignable like a plain property. */
function defineLazyLog(target: Request | Response, build: () => Logger): void {
  Object.defineProperty(target, 'log', {
    configurable: true,
    enumerable: true,
    get: build,
    set(value: Logger) {
      Object.defineProperty(target, 'log', { configurable: true, enumerable: true, writable: true, value });
    },
  });
}
