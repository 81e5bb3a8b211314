import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stopInfra } from './infra';

// Workers log every state change at INFO; tests only want real problems.
Runtime.install({ logger: new DefaultLogger((process.env.TEST_TEMPORAL_LOG_LEVEL as 'ERROR') ?? 'ERROR') });

/** Mocha global teardown: stop whatever real servers the run started. */
export async function mochaGlobalTeardown(): Promise<void> {
  await stopInfra();
}
