import { Runtime, type TelemetryOptions } from '@temporalio/worker';
import type { Config } from '../../config';

/**
 * The Temporal Runtime of a worker process, with the SDK's own metrics exported: task slots
 * available/used per worker type (`temporal_worker_task_slots_available`), workflow and
 * activity schedule-to-start latency (`temporal_workflow_task_schedule_to_start_latency`,
 * `temporal_activity_schedule_to_start_latency`), sticky cache size and hits/misses
 * (`temporal_sticky_cache_*`), pollers, failures. These tell when a queue group needs more
 * workers; the API's prom-client /metrics cannot see them (they live in the Rust core).
 *
 * Prometheus (WORKER_METRICS_PORT): the core serves /metrics on WORKER_METRICS_HOST:PORT.
 * OpenTelemetry (WORKER_METRICS_OTEL_URL): pushed to a collector every second.
 * Runtime.install must run before the first NativeConnection, once per process.
 */
export function workerTelemetryOptions(config: Config): TelemetryOptions | undefined {
  // Every series carries the queue group, so a dashboard can sum per Deployment.
  const globalTags = { worker_queues: config.WORKER_QUEUES.length ? config.WORKER_QUEUES.join(',') : 'all' };
  if (config.WORKER_METRICS_PORT !== undefined) {
    return { metrics: { globalTags, prometheus: { bindAddress: bindAddress(config.WORKER_METRICS_HOST, config.WORKER_METRICS_PORT) } } };
  }
  if (config.WORKER_METRICS_OTEL_URL) {
    return { metrics: { globalTags, otel: { url: config.WORKER_METRICS_OTEL_URL, http: config.WORKER_METRICS_OTEL_PROTOCOL === 'http' } } };
  }
  return undefined;
}

function bindAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A metrics setting the machine refuses (port taken, address not local): one sentence naming the variable. */
export class WorkerMetricsProblem extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WorkerMetricsProblem';
  }
}

/**
 * Installs the process's Temporal Runtime (signals left to our own shutdown) with the
 * configured exporter. The Prometheus port is bound here, at start: a port in use stops
 * the worker before it polls, rather than running without the metrics an alert relies on.
 */
export function installWorkerRuntime(config: Config): void {
  const telemetryOptions = workerTelemetryOptions(config);
  try {
    Runtime.install({ shutdownSignals: [], ...(telemetryOptions ? { telemetryOptions } : {}) });
  } catch (err) {
    const reason = (err as Error).message.replace(/^Failed to start prometheus metrics exporter:\s*/i, '');
    if (config.WORKER_METRICS_PORT !== undefined && /prometheus/i.test((err as Error).message)) {
      throw new WorkerMetricsProblem(
        `WORKER_METRICS_PORT ${config.WORKER_METRICS_PORT} on WORKER_METRICS_HOST ${config.WORKER_METRICS_HOST} cannot be bound (${reason}): choose a free port, or an address of this machine.`,
        { cause: err },
      );
    }
    if (config.WORKER_METRICS_OTEL_URL) {
      throw new WorkerMetricsProblem(`WORKER_METRICS_OTEL_URL ${config.WORKER_METRICS_OTEL_URL} was refused by the Temporal runtime (${(err as Error).message}).`, { cause: err });
    }
    throw err;
  }
}
