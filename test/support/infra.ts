import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../scripts/lib/postgres';
import { startTemporalDevServer, type DevServerHandle } from '../../scripts/lib/temporal';
import { startResendStandIn, type ResendStandIn } from '../../scripts/standins/resend';
import { startStripeMock, type StripeMock } from '../../scripts/standins/stripe-mock';
import { startAnthropicStandIn, type AnthropicStandIn } from '../../scripts/standins/anthropic';
import { startOpenAiStandIn, type OpenAiStandIn } from '../../scripts/standins/openai';
import { startService } from '../../scripts/lib/process';
import { freePort, waitForPort } from '../../scripts/lib/ports';
import { createOrm, migrate } from '../../entities/orm';

/**
 * Real servers for the tests, each started on first use and stopped once at the end of
 * the run (global-fixtures.ts). Unit tests that use none of them start none of them.
 * DATABASE_URL / TEMPORAL_ADDRESS in the environment point the tests at servers of yours.
 */
const stops: (() => Promise<void>)[] = [];
const memo = <T>(start: () => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= start());
};

export const logDir = mkdtempSync(join(tmpdir(), 'horse-tempo-test-logs-'));

/** A migrated database (the same migrations the dev stack runs). */
export const testDatabase = memo(async (): Promise<{ url: string }> => {
  let url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const pg: EmbeddedPostgresHandle = await startEmbeddedPostgres({ persistent: false, database: 'horse_tempo_test' });
    stops.push(() => pg.stop());
    url = pg.url;
  }
  const orm = await createOrm({ databaseUrl: url });
  try {
    await migrate(orm);
  } finally {
    await orm.close();
  }
  return { url };
});

export const testTemporal = memo(async (): Promise<{ address: string }> => {
  if (process.env.TEST_TEMPORAL_ADDRESS) return { address: process.env.TEST_TEMPORAL_ADDRESS };
  const server: DevServerHandle = await startTemporalDevServer({ logFile: join(logDir, 'temporal.log') });
  stops.push(() => server.stop());
  return { address: server.address };
});

export const testResend = memo(async (): Promise<ResendStandIn> => {
  const standIn = await startResendStandIn();
  stops.push(() => standIn.close());
  return standIn;
});

/** Local stand-ins for the Anthropic and OpenAI APIs (scriptable per test). */
export const testAnthropic = memo(async (): Promise<AnthropicStandIn> => {
  const standIn = await startAnthropicStandIn();
  stops.push(() => standIn.close());
  return standIn;
});
export const testOpenAi = memo(async (): Promise<OpenAiStandIn> => {
  const standIn = await startOpenAiStandIn();
  stops.push(() => standIn.close());
  return standIn;
});

/** An S3-compatible server (gofakes3, in memory) with a bucket, for the S3 storage adapter. */
export const testS3 = memo(async (): Promise<{ endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string }> => {
  const bin = process.env.HORSE_TEMPO_S3_SERVER;
  if (!bin) throw new Error('HORSE_TEMPO_S3_SERVER is not set: run scripts/setup.sh (npm run setup) first');
  const port = await freePort();
  const bucket = 'horse-tempo-test';
  const service = startService('gofakes3', bin, ['-backend', 'memory', '-host', `127.0.0.1:${port}`, '-initialbucket', bucket], { logFile: join(logDir, 'gofakes3.log') });
  stops.push(() => service.stop(2000));
  await Promise.race([
    waitForPort(port, 'gofakes3', 30_000),
    service.exited.then((code) => {
      throw new Error(`gofakes3 exited with code ${code} before listening (see ${join(logDir, 'gofakes3.log')})`);
    }),
  ]);
  return { endpoint: `http://127.0.0.1:${port}`, bucket, region: 'us-east-1', accessKeyId: 'test', secretAccessKey: 'test-secret' };
});

/** stripe-mock behind a recording proxy (tests pin subscription objects on it). */
export const testStripeMock = memo(async (): Promise<StripeMock> => {
  const mock = await startStripeMock({ logFile: join(logDir, 'stripe-mock.log') });
  stops.push(() => mock.stop());
  return mock;
});

export async function stopInfra(): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch((err) => console.error('stopping test infra:', err));
  stops.length = 0;
}

/** Path of the Java time-skipping test server launcher written by scripts/setup.sh. */
export function timeSkippingServerPath(): string {
  const path = process.env.HORSE_TEMPO_TEST_SERVER;
  if (!path) throw new Error('HORSE_TEMPO_TEST_SERVER is not set: run the tests with `npm test` (it runs scripts/setup.sh)');
  return path;
}
