import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from '../../config';

/**
 * How to reach Temporal, from the configuration: plain gRPC for the dev server; TLS with
 * the system's CAs, a private CA, a client certificate (mTLS, self-hosted or Cloud) and/or
 * an API key (Temporal Cloud). The same settings serve the workers' NativeConnection and
 * the clients' Connection. Files are read here, at start, so a missing or unreadable one
 * stops the process with its variable name instead of failing the first connect.
 */
export interface TemporalConnectionSettings {
  address: string;
  tls?: TLSConfig | false;
  apiKey?: string;
}

export function temporalConnectionSettings(config: Config): TemporalConnectionSettings {
  const read = (variable: string, path: string | undefined): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
  };
  const useTls = config.TEMPORAL_TLS ?? Boolean(config.TEMPORAL_API_KEY || config.TEMPORAL_TLS_CLIENT_CERT_FILE || config.TEMPORAL_TLS_SERVER_CA_FILE);
  if (!useTls) return { address: config.TEMPORAL_ADDRESS, ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}) };
  const crt = read('TEMPORAL_TLS_CLIENT_CERT_FILE', config.TEMPORAL_TLS_CLIENT_CERT_FILE);
  const key = read('TEMPORAL_TLS_CLIENT_KEY_FILE', config.TEMPORAL_TLS_CLIENT_KEY_FILE);
  const ca = read('TEMPORAL_TLS_SERVER_CA_FILE', config.TEMPORAL_TLS_SERVER_CA_FILE);
  const tls: TLSConfig = {
    ...(config.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
  };
  return { address: config.TEMPORAL_ADDRESS, tls, ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}) };
}
