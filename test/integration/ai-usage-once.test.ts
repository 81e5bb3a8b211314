import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { useTestStack } from '../support/use-test-stack';
import { registerVerifiedUser } from '../support/http';
import { testDatabase } from '../support/infra';
import { createHorse, uniqueVideo, uploadVideo, waitForAnalysis } from '../support/analysis';
import { Analysis, AnalysisProviderAnswer, Horse } from '../../entities';
import { analysisWorkflowId } from '../../workflows/ids';
import { createAnalysisActivities, type AiOutcome } from '../../activities/analysis';
import { createAiClients } from '../../adapters/ai';
import { createLogger } from '../../adapters/logger';
import { createOrm } from '../../entities/orm';

const FRAME = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0xff, 0xd9]);

/**
 * A provider answer is paid for once: when writing its usage fails, neither a retry within the
 * attempt nor a retry of the activity calls the provider again or counts the usage twice.
 * The failure is real: a deferred constraint trigger this file installs makes the commit of the
 * usage write (the analysis row's tokens) fail for the organizations it names.
 */
describe('AI usage counted once per provider answer (usage write failing after the provider answered)', () => {
  const { stack, api } = useTestStack();
  const sql = <T extends Record<string, unknown>[] = Record<string, unknown>[]>(text: string, params: unknown[] = []) => stack.orm.em.fork().getConnection().execute<T>(text, params);

  before(async () => {
    await sql(`create table if not exists test_usage_write_faults (organization_id uuid primary key, fail_first int not null)`);
    await sql(`create sequence if not exists test_usage_write_fault_seq`);
    // The sequence counts failed commits (sequences ignore rollbacks); raising in a deferred
    // trigger fails the transaction at commit, after every statement in it succeeded.
    await sql(`create or replace function test_fail_usage_write() returns trigger language plpgsql as $$
      declare fail_first int;
      begin
        select f.fail_first into fail_first from test_usage_write_faults f where f.organization_id = NEW.organization_id;
        if fail_first is not null and nextval('test_usage_write_fault_seq') <= fail_first then
          raise exception 'test fault: the usage write of analysis % fails at commit', NEW.id;
        end if;
        return null;
      end $$`);
    await sql(`drop trigger if exists test_fail_usage_write on analyses`);
    await sql(`create constraint trigger test_fail_usage_write after update on analyses deferrable initially deferred
      for each row when (OLD.input_tokens is distinct from NEW.input_tokens) execute function test_fail_usage_write()`);
  });
  // The stack's after() hook (registered first) has closed its ORM by now: a connection of our own.
  after(async () => {
    const orm = await createOrm({ databaseUrl: (await testDatabase()).url });
    try {
      const conn = orm.em.getConnection();
      await conn.execute(`drop trigger if exists test_fail_usage_write on analyses`);
      await conn.execute(`drop function if exists test_fail_usage_write()`);
      await conn.execute(`drop table if exists test_usage_write_faults`);
      await conn.execute(`drop sequence if exists test_usage_write_fault_seq`);
    } finally {
      await orm.close();
    }
  });

  /** The next `n` usage writes of the organization's analyses fail at commit. */
  async function failUsageWrites(organizationId: string, n: number) {
    await sql(`delete from test_usage_write_faults`);
    await sql(`alter sequence test_usage_write_fault_seq restart with 1`);
    await sql(`insert into test_usage_write_faults (organization_id, fail_first) values (?, ?)`, [organizationId, n]);
  }
  /** How many usage writes were attempted while faults were set (failed ones included). */
  const faultChecks = async () => Number((await sql<{ last_value: string; is_called: boolean }[]>(`select last_value, is_called from test_usage_write_fault_seq`)).map((r) => (r.is_called ? r.last_value : 0))[0]);
  const totals = async (provider: string) => {
    const [r] = await sql<{ calls: string | null; input: string | null }[]>(`select sum(calls) as calls, sum(input_tokens) as input from ai_usage_totals where provider = ?`, [provider]);
    return { calls: Number(r?.calls ?? 0), input: Number(r?.input ?? 0) };
  };

  async function owner() {
    const user = await registerVerifiedUser(api, stack.resend);
    const horseId = await createHorse(api, user.accessToken);
    return { token: user.accessToken, horseId, organizationId: user.user.organizations[0].organizationId as string };
  }

  /**
   * Rows this file makes 'running' by hand have no workflow to finish them: they are closed
   * after each test, or later files that wait for every running analysis to end (the spend
   * cap test in analysis-limits) would wait for them forever.
   */
  const fabricated: string[] = [];
  afterEach(async () => {
    if (fabricated.length) await sql(`update analyses set status = 'failed', stage = 'failed' where id in (${fabricated.map(() => '?').join(', ')}) and status in ('pending', 'running')`, fabricated);
    fabricated.length = 0;
  });

  /** A running analysis row of the organization with two stored frames, for driving the provider activity directly. */
  async function runningAnalysis(organizationId: string, horseId: string) {
    const id = randomUUID();
    fabricated.push(id);
    const em = stack.orm.em.fork();
    em.create(Analysis, {
      id,
      organization: organizationId,
      horse: em.getReference(Horse, horseId),
      userId: randomUUID(),
      type: 'locomotion',
      status: 'running',
      stage: 'analyzing',
      credits: 1,
      videoKey: `orgs/${organizationId}/uploads/${id}.mp4`,
      workflowId: analysisWorkflowId(id),
    } as never);
    await em.flush();
    const frameKeys = [0, 1].map((i) => `orgs/${organizationId}/analyses/${id}/frames/00${i}.jpg`);
    for (const k of frameKeys) await stack.storage.putObject(k, FRAME, 'image/jpeg');
    return { analysisId: id, type: 'locomotion' as const, frameKeys };
  }

  const activities = () =>
    createAnalysisActivities({
      config: stack.config,
      orm: stack.orm,
      logger: createLogger({ level: 'silent', name: 'test' }),
      storage: stack.storage,
      ai: createAiClients(stack.config),
      answerSaveRetryDelaysMs: [20, 20],
    });
  /** An activity environment for the given attempt number (what a retry of the activity sees). */
  const attemptEnv = (attempt: number) => new MockActivityEnvironment({ attempt }, { logger: new DefaultLogger('ERROR') });

  it('given the first usage write fails at commit, the analysis completes with the provider called once and its usage counted once', async function () {
    this.timeout(120_000);
    const { token, horseId, organizationId } = await owner();
    await failUsageWrites(organizationId, 1);
    const before = await totals('anthropic');
    const res = await api.post('/api/analyses', { horseId, type: 'locomotion', videoKey: await uploadVideo(api, token, await uniqueVideo()) }, token);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const done = await waitForAnalysis(api, token, res.body.id);
    expect(done.status, JSON.stringify(done)).to.equal('completed');
    expect(await faultChecks(), 'the fault fired once, then the write went through').to.equal(2);

    expect(stack.anthropic.requestsFor(res.body.id), 'provider calls').to.have.length(1);
    const stored = await stack.orm.em.fork().find(AnalysisProviderAnswer, { analysisId: res.body.id });
    expect(stored.map((a) => a.provider)).to.deep.equal(['anthropic']);
    // The cost stays on record; the answer text (the analysis content) does not outlive the analysis.
    expect(stored[0].text, 'answer text kept after the analysis finished').to.equal(null);
    const row = await stack.orm.em.fork().findOneOrFail(Analysis, { id: res.body.id });
    expect(row.inputTokens, 'row tokens = one answer').to.equal(stored[0].inputTokens);
    expect(row.outputTokens).to.equal(stored[0].outputTokens);
    expect(Number(row.estimatedCostUsd)).to.be.closeTo(Number(stored[0].estimatedCostUsd), 1e-12);
    const after = await totals('anthropic');
    expect(after.calls - before.calls, 'calls counted in the totals').to.equal(1);
    expect(after.input - before.input).to.equal(stored[0].inputTokens);
  });

  it('given an attempt stored its answer and then died, the retry returns that answer without calling the provider or counting again', async function () {
    this.timeout(60_000);
    const { horseId, organizationId } = await owner();
    const input = await runningAnalysis(organizationId, horseId);
    const acts = activities();
    const before = await totals('anthropic');
    const first = (await attemptEnv(1).run(acts.analyzeWithClaude, input)) as AiOutcome;
    // The worker "died" before Temporal heard of the result: the activity runs again.
    const retry = (await attemptEnv(2).run(acts.analyzeWithClaude, input)) as AiOutcome;

    expect(retry).to.deep.equal(first);
    expect(stack.anthropic.requestsFor(input.analysisId), 'provider calls').to.have.length(1);
    const row = await stack.orm.em.fork().findOneOrFail(Analysis, { id: input.analysisId });
    expect(row.inputTokens).to.equal(first.inputTokens);
    const after = await totals('anthropic');
    expect(after.calls - before.calls).to.equal(1);
    expect(after.input - before.input).to.equal(first.inputTokens);
  });

  it('given every in-attempt save fails, the attempt fails retryably saying so, and nothing is counted', async function () {
    this.timeout(60_000);
    const { horseId, organizationId } = await owner();
    const input = await runningAnalysis(organizationId, horseId);
    await failUsageWrites(organizationId, 100);
    const before = await totals('anthropic');
    const err = await attemptEnv(1)
      .run(activities().analyzeWithClaude, input)
      .then(
        () => null,
        (e: Error) => e,
      );
    expect(err?.message).to.match(new RegExp(`saving the anthropic answer of analysis ${input.analysisId} failed 3 times: .*test fault`));
    expect(await faultChecks()).to.equal(3);
    expect(stack.anthropic.requestsFor(input.analysisId)).to.have.length(1);
    expect(await stack.orm.em.fork().count(AnalysisProviderAnswer, { analysisId: input.analysisId })).to.equal(0);
    expect((await stack.orm.em.fork().findOneOrFail(Analysis, { id: input.analysisId })).inputTokens).to.equal(null);
    expect(await totals('anthropic')).to.deep.equal(before);
  });
});
