/**
 * Run as a child process by test/integration/temporal-connection.test.ts (a fresh process: the
 * test runner's own may have turned promise hooks on elsewhere). Connects to Temporal at
 * argv[2] through the API's TemporalGateway, starts and describes a workflow, and prints
 * whether promises are tracked (Node's promise hooks on) after that; then does the same with
 * the SDK's plain Connection as the control. Prints one JSON line.
 */
import { executionAsyncId } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { TemporalGateway } from '../../adapters/temporal/client';

/** With promise hooks on, each continuation runs in an async resource of its own. */
async function promisesTracked(): Promise<boolean> {
  await Promise.resolve();
  const first = executionAsyncId();
  await Promise.resolve();
  return first !== executionAsyncId();
}

async function exercise(client: Client): Promise<void> {
  const workflowId = `hooks-probe-${randomUUID()}`;
  await client.workflow.start('hooksProbe', { taskQueue: `hooks-probe-${randomUUID()}`, workflowId });
  await client.workflow.getHandle(workflowId).describe();
  await client.workflow.getHandle(workflowId).terminate();
}

const address = process.argv[2];
const gateway = new TemporalGateway({ address, namespace: 'default', callTimeoutMs: 10_000 });
const ours = await gateway.client();
await exercise(ours);
const gatewayTracks = await promisesTracked();
const header = (ours.connection as Connection).options.metadata['temporal-namespace'];
await gateway.close();

const connection = await Connection.connect({ address });
await exercise(new Client({ connection, namespace: 'default' }));
const sdkTracks = await promisesTracked();
await connection.close();
console.log(JSON.stringify({ gatewayTracks, sdkTracks, header }));
