import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { validate } from 'dockerfile-utils';

const tool = (variable: string): string => {
  const path = process.env[variable];
  if (!path) throw new Error(`${variable} is not set: run the tests with \`npm test\` (scripts/setup.sh installs the validators)`);
  return path;
};
const exec = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });

describe('deployment files', function () {
  this.timeout(120_000);
  const scratch = mkdtempSync(join(tmpdir(), 'horse-tempo-deploy-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  describe('Dockerfile', () => {
    const text = readFileSync('Dockerfile', 'utf8');
    const runtime = text.slice(text.lastIndexOf('\nFROM '));

    it('passes the dockerfile-utils linter with no problem', () => {
      const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
      expect(problems).to.deep.equal([]);
      // The linter does find problems: a broken file is reported.
      expect(validate('FROM node:22\nEXPOSE notaport\nHEALTHCHECK\n')).to.have.length.greaterThan(0);
    });

    it('builds with npm ci, ships production dependencies and dist/ only, runs as non-root under tini with a HEALTHCHECK and Debian ffmpeg', () => {
      expect(text).to.match(/RUN npm ci --no-audit/);
      expect(text).to.match(/npm ci --omit=dev/);
      expect(text).not.to.match(/npm install/);
      expect(runtime).to.match(/apt-get install -y --no-install-recommends ffmpeg tini/);
      expect(runtime).to.match(/^USER node$/m);
      expect(runtime).to.match(/^HEALTHCHECK /m);
      expect(runtime).to.match(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node"/m);
      expect(runtime).to.match(/COPY --from=build .*\/app\/dist/);
      expect(runtime).not.to.match(/tsx|COPY \. \./);
      // The API's port and the workers' Prometheus port (WORKER_METRICS_PORT in compose and k8s/).
      expect(runtime).to.match(/^EXPOSE 4000 9464$/m);
    });
  });

  describe('docker-compose.yml (parsed by podman-compose)', () => {
    // podman-compose asks `podman version` before parsing; no container engine here, so a
    // stand-in answers that one question. The parsing and interpolation are podman-compose's.
    const podman = join(scratch, 'podman');
    writeFileSync(podman, '#!/bin/sh\necho "podman version 5.4.2"\n');
    chmodSync(podman, 0o755);
    const secrets = { JWT_SECRET: 'j'.repeat(64), POSTGRES_PASSWORD: 'pg-secret', MINIO_ROOT_USER: 'horse', MINIO_ROOT_PASSWORD: 'minio-secret' };
    const config = (env: Record<string, string>) => {
      const clean = { ...process.env };
      for (const k of Object.keys(secrets)) delete clean[k];
      return execFileSync(tool('HORSE_TEMPO_PODMAN_COMPOSE'), ['--podman-path', podman, '-f', 'docker-compose.yml', 'config'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...clean, ...env },
      });
    };

    it('refuses to start without each secret, naming it', () => {
      for (const name of Object.keys(secrets)) {
        const without: Record<string, string> = { ...secrets };
        delete without[name];
        let message = '';
        try {
          config(without);
        } catch (err) {
          message = String((err as { stderr?: string }).stderr);
        }
        expect(message, name).to.match(new RegExp(`required variable ${name} is missing a value: set ${name}`));
      }
    });

    it('publishes only the API on all interfaces; S3, the Temporal UI and the workers\' metrics on 127.0.0.1; one worker service per queue group', () => {
      const out = config(secrets);
      const ports = [...out.matchAll(/^\s+- (['"]?)(\d[\d.]*(?::[\d-]+)+)\1$/gm)].map((m) => m[2]);
      expect(ports.sort()).to.deep.equal(['127.0.0.1:8233:8080', '127.0.0.1:9000:9000', '127.0.0.1:9464-9467:9464', '127.0.0.1:9468-9471:9464', '127.0.0.1:9472-9475:9464', '127.0.0.1:9476-9479:9464', '4000:4000']);
      // Every worker serves its Temporal SDK metrics on 9464 in its container (published above on 127.0.0.1 only).
      const workers = out.split(/^ {2}(?=\S)/m).filter((svc) => svc.startsWith('worker-'));
      expect(workers).to.have.length(4);
      for (const svc of workers) {
        expect(svc).to.match(/WORKER_METRICS_HOST: 0\.0\.0\.0\n/);
        expect(svc).to.match(/WORKER_METRICS_PORT: '9464'\n/);
        expect(svc).to.match(/- 127\.0\.0\.1:\d+-\d+:9464\n/);
      }
      expect(out).to.contain('S3_PUBLIC_ENDPOINT: http://127.0.0.1:9000');
      expect(out).to.contain(`JWT_SECRET: ${secrets.JWT_SECRET}`);
      const queues = [...out.matchAll(/WORKER_QUEUES: (\S+)/g)].map((m) => m[1].split(','));
      expect(queues.flat().sort()).to.deep.equal(['accounts', 'analysis', 'billing', 'gestation', 'health', 'marketplace']);
      expect(queues).to.have.length(4);
      // The reminder queues run apart from the listing lifecycles (README "Reminders worker").
      expect(queues).to.deep.include(['gestation', 'health']);
      expect(out).not.to.match(/minioadmin|postgres:postgres@/);
    });
  });

  describe('k8s/ (kustomize build + kubernetes-validate --strict)', () => {
    const build = (dir: string) => exec(tool('HORSE_TEMPO_KUSTOMIZE'), ['build', dir]);
    const check = (yaml: string) => {
      const file = join(scratch, `rendered-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, yaml);
      return exec(tool('HORSE_TEMPO_KUBERNETES_VALIDATE'), ['--strict', '--kubernetes-version', '1.33', file]);
    };

    it('the production overlay renders and every resource passes the Kubernetes 1.33 schemas', () => {
      const rendered = build('k8s/overlays/production');
      const out = check(rendered);
      expect(out).not.to.match(/ERROR|failed/i);
      const kinds = [...rendered.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
      expect(kinds.filter((k) => k === 'Deployment')).to.have.length(5);
      expect(kinds.filter((k) => k === 'PodDisruptionBudget')).to.have.length(5);
      expect(kinds.filter((k) => k === 'HorizontalPodAutoscaler')).to.have.length(5);
      expect(kinds).to.include.members(['Job', 'ConfigMap', 'Service', 'Namespace']);
      // Temporal and PostgreSQL are external: nothing of theirs is deployed here.
      expect(rendered).not.to.match(/image: .*(temporalio|postgres)/);
      expect(rendered).to.match(/path: \/api\/health/);
      expect(rendered).to.match(/secretRef:\s+name: horse-tempo-secrets/);
      expect(rendered).to.match(/namespace: horse-tempo/);
      // Every worker Deployment exports the Temporal SDK metrics on a named port Prometheus is told to scrape.
      const workers = rendered.split(/^---$/m).filter((doc) => /^kind: Deployment$/m.test(doc) && /name: worker-/.test(doc));
      expect(workers).to.have.length(4);
      for (const doc of workers) {
        expect(doc).to.match(/prometheus\.io\/scrape: "true"/);
        expect(doc).to.match(/prometheus\.io\/port: "9464"/);
        expect(doc).to.match(/containerPort: 9464\s+name: metrics/);
        expect(doc).to.match(/name: WORKER_METRICS_PORT\s+value: "9464"/);
      }
    });

    it('the validator rejects a broken resource (it really checks)', () => {
      tool('HORSE_TEMPO_KUBERNETES_VALIDATE'); // a missing validator must fail this test, not pass it
      const broken = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\nspec: { replicas: "two", selector: {}, template: {}, bogus: 1 }\n';
      expect(() => check(broken)).to.throw();
    });
  });
});
