import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Request, RequestHandler, Response } from 'express';
import type { Config } from '../../config';
import { errorBody } from './errors';

/**
 * Defences against clients that open connections and then send slowly or not at all
 * (slowloris, a body that never completes): each such connection would otherwise hold a
 * file descriptor and a pool of buffers for as long as the client likes, while staying far
 * under the request rate limit.
 *
 * - headers: `server.headersTimeout` (Node answers 408 and closes);
 * - ordinary bodies (JSON, webhooks): the whole body within HTTP_BODY_TIMEOUT_SECONDS;
 * - streamed uploads: no total limit (a large video over a slow link is legitimate) but
 *   at most HTTP_UPLOAD_IDLE_TIMEOUT_SECONDS between two chunks;
 * - `server.requestTimeout`: Node's absolute cap on any request, uploads included;
 * - at most HTTP_MAX_CONNECTIONS_PER_IP open connections per client address.
 */
export type ServerLimits = Pick<
  Config,
  | 'HTTP_HEADERS_TIMEOUT_SECONDS'
  | 'HTTP_BODY_TIMEOUT_SECONDS'
  | 'HTTP_UPLOAD_IDLE_TIMEOUT_SECONDS'
  | 'HTTP_REQUEST_TIMEOUT_SECONDS'
  | 'HTTP_KEEP_ALIVE_TIMEOUT_SECONDS'
  | 'HTTP_MAX_CONNECTIONS_PER_IP'
>;

/** Node's server-level timeouts and the per-address connection cap. */
export function applyServerLimits(server: Server, limits: ServerLimits, onRefused?: (address: string) => void): Server {
  server.headersTimeout = limits.HTTP_HEADERS_TIMEOUT_SECONDS * 1000;
  server.requestTimeout = limits.HTTP_REQUEST_TIMEOUT_SECONDS * 1000;
  server.keepAliveTimeout = limits.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS * 1000;
  const max = limits.HTTP_MAX_CONNECTIONS_PER_IP;
  if (max > 0) {
    const open = new Map<string, number>();
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? 'unknown';
      const count = (open.get(address) ?? 0) + 1;
      if (count > max) {
        // Refused before any byte is parsed: the cheapest answer for a client already over its share.
        onRefused?.(address);
        socket.destroy();
        return;
      }
      open.set(address, count);
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1;
        if (left > 0) open.set(address, left);
        else open.delete(address);
      });
    });
  }
  return server;
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Answers 408 (if nothing was sent yet) and closes the connection: the rest of the body is not coming. */
function timeOut(req: Request, res: Response, message: string): void {
  if (req.complete) return;
  req.log?.info({ path: req.path, bytesRead: req.socket.bytesRead }, 'request body timed out');
  const close = () => {
    req.socket.destroy();
  };
  if (res.headersSent) return close();
  const body = JSON.stringify(errorBody(408, message, String(req.id ?? '')));
  res.writeHead(408, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body, close);
}

/**
 * Body-read deadlines, mounted before any body parser. `isStreaming` picks the routes that
 * get the inactivity timeout instead of the total one.
 */
export function bodyTimeouts(limits: ServerLimits, isStreaming: (req: Request) => boolean): RequestHandler {
  const totalMs = limits.HTTP_BODY_TIMEOUT_SECONDS * 1000;
  const idleMs = limits.HTTP_UPLOAD_IDLE_TIMEOUT_SECONDS * 1000;
  return (req, res, next) => {
    if (req.complete || !hasBody(req)) return next();
    if (isStreaming(req)) {
      // Socket inactivity: reset by every chunk that arrives.
      const onIdle = () => timeOut(req, res, `Upload stalled: no data for ${limits.HTTP_UPLOAD_IDLE_TIMEOUT_SECONDS}s`);
      req.setTimeout(idleMs, onIdle);
      const done = () => {
        req.off('timeout', onIdle);
        if (!req.socket.destroyed) req.socket.setTimeout(0);
      };
      req.once('end', done);
      res.once('close', done);
    } else {
      const timer = setTimeout(() => timeOut(req, res, `Request body not received within ${limits.HTTP_BODY_TIMEOUT_SECONDS}s`), totalMs);
      timer.unref();
      // Not cleared when the response goes out: a route that answers early (401, 415) leaves
      // the unread rest of the body to Node, which would otherwise wait for it.
      const done = () => clearTimeout(timer);
      req.once('end', done);
      req.once('close', done);
    }
    next();
  };
}
