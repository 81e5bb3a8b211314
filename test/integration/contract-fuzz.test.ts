import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { registerUser } from '../support/http';

/**
 * Contract fuzzing: schemathesis (pinned in scripts/setup.sh) generates requests from the
 * API's own OpenAPI document and runs every check against the real API (examples,
 * coverage, fuzzing and the stateful phase that follows the document's links) with a
 * valid Bearer token. Any failure (a 500, a schema-valid request refused with 400, a
 * schema-violating one accepted, an undocumented status, a response that breaks its
 * schema, an undeclared method not answered 405 …) fails this test.
 *
 * Bounded and repeatable: a fixed seed, deterministic generation and CONTRACT_FUZZ_EXAMPLES
 * cases per operation and phase (default 6). No --max-time: with one, schemathesis keeps
 * generating until the budget is spent, so a faster machine would test other cases.
 */
const SCHEMATHESIS = process.env.HORSE_TEMPO_SCHEMATHESIS ?? join(process.env.HOME ?? '', '.cache/horse-tempo/venv/bin/schemathesis');
const EXAMPLES = process.env.CONTRACT_FUZZ_EXAMPLES ?? '6';
const SEED = process.env.CONTRACT_FUZZ_SEED ?? '20261203';
const here = resolve(import.meta.dirname, '../contract');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

describe('The API keeps its OpenAPI contract under schemathesis (contract fuzzing, integration)', function () {
  this.timeout(600_000);
  let token: string;

  const { stack, api } = useTestStack({ billing: true });
  before(async () => {
    token = (await registerUser(api)).accessToken;
  });

  it('reports no failure across every check, stateful phase included', async () => {
    const reports = mkdtempSync(join(tmpdir(), 'horse-tempo-schemathesis-'));
    const { code, output } = await run(
      SCHEMATHESIS,
      [
        '--config-file', join(here, 'schemathesis.toml'),
        'run', `${stack.baseUrl}/api/openapi.json`,
        '--header', `Authorization: Bearer ${token}`,
        '--checks', 'all',
        '--phases', 'examples,coverage,fuzzing,stateful',
        '--max-examples', EXAMPLES,
        '--seed', SEED,
        '--generation-deterministic',
        '--workers', '2',
        '--no-color',
        '--report', 'junit',
        '--report-junit-path', join(reports, 'junit.xml'),
      ],
      { ...process.env, SCHEMATHESIS_HOOKS: 'hooks', PYTHONPATH: here },
    );
    const summary = output.slice(output.lastIndexOf('== SUMMARY =='));
    // The summary is the figure the README quotes; the whole output only when it failed.
    console.log(summary.split('\n').filter((l) => /Tested|generated|Failures|❌|✅|🚫|passed|failures|Seed/.test(l)).join('\n'));
    expect(code, output).to.equal(0);
    expect(readFileSync(join(reports, 'junit.xml'), 'utf8')).to.match(/<testsuite /);
  });
});
