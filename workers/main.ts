import { loadConfig, ConfigError } from '../config';
import { createLogger } from '../adapters/logger';
import { createMailer } from '../adapters/email/mailer';
import { createOrm } from '../entities/orm';
import { TemporalGateway } from '../adapters/temporal/client';
import { temporalConnectionSettings } from '../adapters/temporal/connection';
import { installWorkerRuntime, WorkerMetricsProblem } from '../adapters/temporal/telemetry';
import { ALL_TASK_QUEUES, LEGACY_TASK_QUEUES, isLegacyTaskQueue, type TaskQueue } from '../workflows/queues';
import { queueSettingsProblems, startWorkers } from './run';
import { createQueueAdapters } from './activities';
import { ensureSchedules } from './schedules';

/** Worker entrypoint: WORKER_QUEUES=analysis,billing runs only those queues (default: all). */
async function main() {
  const config = (() => {
    try {
      return loadConfig();
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(err.message);
        process.exit(78);
      }
      throw err;
    }
  })();
  const unknown = config.WORKER_QUEUES.filter((q) => !(ALL_TASK_QUEUES as string[]).includes(q));
  if (unknown.length) {
    console.error(`WORKER_QUEUES has unknown queues: ${unknown.join(', ')} (known: ${ALL_TASK_QUEUES.join(', ')})`);
    process.exit(78);
  }
  const unknownLegacy = config.WORKER_LEGACY_QUEUES.filter((q) => !isLegacyTaskQueue(q));
  if (unknownLegacy.length) {
    console.error(`WORKER_LEGACY_QUEUES has unknown queues: ${unknownLegacy.join(', ')} (known: ${Object.keys(LEGACY_TASK_QUEUES).join(', ')})`);
    process.exit(78);
  }
  const legacyQueues = config.WORKER_LEGACY_QUEUES.filter(isLegacyTaskQueue);
  const queues = config.WORKER_QUEUES as TaskQueue[];
  const served = [...new Set([...(queues.length ? queues : ALL_TASK_QUEUES), ...legacyQueues.map((q) => LEGACY_TASK_QUEUES[q])])];
  const tuningProblems = served.flatMap((q) => queueSettingsProblems(q, config.WORKER_TUNING));
  if (tuningProblems.length) {
    console.error(`WORKER_TUNING: ${tuningProblems.join('; ')}`);
    process.exit(78);
  }
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker' });
  try {
    installWorkerRuntime(config);
  } catch (err) {
    if (err instanceof WorkerMetricsProblem) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  if (config.WORKER_METRICS_PORT !== undefined) {
    logger.info({ url: `http://${config.WORKER_METRICS_HOST}:${config.WORKER_METRICS_PORT}/metrics` }, 'Temporal SDK metrics (Prometheus)');
  }
  const orm = await createOrm({ databaseUrl: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX });
  const mailer = createMailer(config, logger);
  const connection = temporalConnectionSettings(config);
  const workers = await startWorkers({
    deps: { config, orm, logger, mailer, ...(await createQueueAdapters(served, config)) },
    address: config.TEMPORAL_ADDRESS,
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    queues,
    legacyQueues,
    tuning: config.WORKER_TUNING,
  });
  logger.info({ queues: queues.length ? queues : ALL_TASK_QUEUES, legacyQueues, mailer: mailer.name }, 'workers running');
  const gateway = new TemporalGateway({ ...connection, namespace: config.TEMPORAL_NAMESPACE });
  await gateway
    .client()
    .then((client) => ensureSchedules(client, config, queues, logger))
    .catch((err) => logger.error({ err }, 'could not reach Temporal to check the schedules'))
    .finally(() => gateway.close());
  const stop = async (signal: string) => {
    logger.info({ signal }, 'workers shutting down (finishing in-flight tasks)');
    await workers.shutdown();
    await orm.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  await workers.done;
}

main().catch((err) => {
  console.error('worker failed:', err);
  process.exit(1);
});
