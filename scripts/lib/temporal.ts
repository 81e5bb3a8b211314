import { Connection } from '@temporalio/client';
import { devServerArgs } from '../../temporal-config/search-attributes';
import { startService, type Service } from './process';
import { EnvironmentProblem } from './environment-problem';
import { freePort, waitForPort } from './ports';

export interface DevServerHandle {
  address: string;
  port: number;
  uiUrl: string | null;
  service: Service;
  stop(): Promise<void>;
}

function temporalBin(): string {
  const bin = process.env.HORSE_TEMPO_TEMPORAL_BIN;
  if (!bin) throw new EnvironmentProblem('HORSE_TEMPO_TEMPORAL_BIN is not set: run scripts/setup.sh (npm run setup) first.');
  return bin;
}

/** Starts `temporal server start-dev` and waits until the namespace answers. */
export async function startTemporalDevServer(opts: {
  port?: number;
  uiPort?: number;
  dbFile?: string;
  namespace?: string;
  logFile?: string;
}): Promise<DevServerHandle> {
  const port = opts.port ?? (await freePort());
  const namespace = opts.namespace ?? 'default';
  const service = startService('temporal', temporalBin(), devServerArgs({ port, uiPort: opts.uiPort, dbFile: opts.dbFile, namespace }), {
    logFile: opts.logFile,
  });
  const address = `127.0.0.1:${port}`;
  await Promise.race([
    waitForPort(port, 'Temporal dev server', 90_000),
    service.exited.then((code) => {
      throw new Error(`Temporal dev server exited with code ${code} before listening${opts.logFile ? ` (see ${opts.logFile})` : ''}`);
    }),
  ]);
  await waitForNamespace(address, namespace);
  return {
    address,
    port,
    uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : null,
    service,
    stop: () => service.stop(),
  };
}

async function waitForNamespace(address: string, namespace: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  const connection = await Connection.connect({ address });
  try {
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`namespace ${namespace} not ready on ${address}: ${(err as Error).message}`, { cause: err });
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await connection.close();
  }
}
