import { stopInfra } from './infra';

/** Mocha global teardown: stop whatever real servers the run started. */
export async function mochaGlobalTeardown(): Promise<void> {
  await stopInfra();
}
