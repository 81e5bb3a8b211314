import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stopInfra } from './infra';

// Workers log every state change at INFO and the native core warns about the test
// server's version on every worker start; tests only want real problems.
const level = (process.env.TEST_TEMPORAL_LOG_LEVEL as 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | undefined) ?? 'ERROR';
Runtime.install({
  logger: new DefaultLogger(level),
  telemetryOptions: { logging: { filter: { core: level, other: level } } },
});

/** Mocha global teardown: stop whatever real servers the run started. */
export async function mochaGlobalTeardown(): Promise<void> {
  await stopInfra();
}
