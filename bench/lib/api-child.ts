/**
 * The product's API (api/server.ts) as a child process on a test stack's servers and
 * settings, for benches whose load generator would otherwise share one event loop with the
 * API it measures: in one process the HTTP client's CPU (undici, signing the payload) was
 * counted against the API, which a real caller (Stripe, a browser) never costs us.
 */
import { join } from 'node:path';
import type { Config } from '../../config';
import type { TestStack } from '../../test/support/stack';
import { startChildServer, type ChildServer } from './load';

/** Environment that makes loadConfig() give back `config` (arrays as CSV, objects as JSON). */
export function envOf(config: Config): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) env[key] = value.join(',');
    else if (typeof value === 'object') {
      if (Object.keys(value).length) env[key] = JSON.stringify(value);
    } else env[key] = String(value);
  }
  return env;
}

/**
 * api/server.ts on the stack's Postgres, Temporal and stand-ins, with the stack's settings
 * and `env` on top. LOG_LEVEL info as deployed (the log goes to .data/bench/logs/<name>.log).
 */
export async function startApiChild(stack: TestStack, name: string, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<ChildServer> {
  return startChildServer(name, 'api/server.ts', { ...envOf(stack.config), LOG_LEVEL: 'info', ...env }, { logFile: join('.data/bench/logs', `${name}.log`), nodeFlags });
}
