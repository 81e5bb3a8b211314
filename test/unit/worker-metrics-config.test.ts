import { expect } from 'chai';
import { loadConfig, ConfigError } from '../../config';
import { workerTelemetryOptions } from '../../adapters/temporal/telemetry';

describe('worker metrics settings (WORKER_METRICS_*)', () => {
  it('exports nothing when no port and no collector are set', () => {
    expect(workerTelemetryOptions(loadConfig({}))).to.equal(undefined);
  });

  it('binds Prometheus to 127.0.0.1 unless told otherwise, tagged with the queue group', () => {
    expect(workerTelemetryOptions(loadConfig({ WORKER_METRICS_PORT: '9464', WORKER_QUEUES: 'accounts,billing' }))).to.deep.equal({
      metrics: { globalTags: { worker_queues: 'accounts,billing' }, prometheus: { bindAddress: '127.0.0.1:9464' } },
    });
    expect(workerTelemetryOptions(loadConfig({ WORKER_METRICS_PORT: '9464', WORKER_METRICS_HOST: '::' }))).to.deep.include({
      metrics: { globalTags: { worker_queues: 'all' }, prometheus: { bindAddress: '[::]:9464' } },
    });
  });

  it('pushes to an OpenTelemetry collector over gRPC or HTTP', () => {
    expect(workerTelemetryOptions(loadConfig({ WORKER_METRICS_OTEL_URL: 'grpc://127.0.0.1:4317' }))?.metrics).to.deep.include({ otel: { url: 'grpc://127.0.0.1:4317', http: false } });
    expect(workerTelemetryOptions(loadConfig({ WORKER_METRICS_OTEL_URL: 'http://127.0.0.1:4318/v1/metrics', WORKER_METRICS_OTEL_PROTOCOL: 'http' }))?.metrics).to.deep.include({
      otel: { url: 'http://127.0.0.1:4318/v1/metrics', http: true },
    });
  });

  it('names each bad setting and what it expects', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        return (err as ConfigError).problems.join('\n');
      }
      return expect.fail(`accepted ${JSON.stringify(env)}`);
    };
    expect(problems({ WORKER_METRICS_PORT: '70000' })).to.match(/^WORKER_METRICS_PORT .*\(got "70000"\)/);
    expect(problems({ WORKER_METRICS_PORT: 'nine' })).to.match(/^WORKER_METRICS_PORT /);
    expect(problems({ WORKER_METRICS_PORT: '9464', WORKER_METRICS_HOST: 'localhost' })).to.match(/^WORKER_METRICS_HOST must be an IP address to bind/);
    expect(problems({ WORKER_METRICS_OTEL_URL: 'ftp://collector:21' })).to.match(/^WORKER_METRICS_OTEL_URL must start with grpc:\/\//);
    expect(problems({ WORKER_METRICS_OTEL_PROTOCOL: 'udp' })).to.match(/^WORKER_METRICS_OTEL_PROTOCOL /);
    expect(problems({ WORKER_METRICS_PORT: '9464', WORKER_METRICS_OTEL_URL: 'grpc://127.0.0.1:4317' })).to.match(/WORKER_METRICS_OTEL_URL and WORKER_METRICS_PORT are both set/);
  });
});
