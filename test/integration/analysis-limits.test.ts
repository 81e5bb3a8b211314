import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { startTestStack, type TestStack } from '../support/stack';
import { apiClient, eventually, registerVerifiedUser, type ApiClient } from '../support/http';
import { createHorse, credits, testVideos, uploadVideo, waitForAnalysis, type TestVideos } from '../support/analysis';
import { Analysis, CreditTransaction, Horse } from '../../entities';
import { analysisWorkflowId } from '../../workflows/ids';

/**
 * Each analysis costs us AI calls: one account, one organization (however many throwaway
 * accounts it holds) and one organization's monthly spend are all bounded, and a refused
 * start writes nothing and reserves nothing.
 */
describe('analysis start limits (per user and organization per hour, organization monthly AI spend cap)', () => {
  let stack: TestStack;
  let api: ApiClient;
  let videos: TestVideos;
  before(async function () {
    this.timeout(180_000);
    [stack, videos] = await Promise.all([
      startTestStack({ env: { ANALYSIS_STARTS_PER_USER_PER_HOUR: '2', ANALYSIS_STARTS_PER_ORG_PER_HOUR: '3', AI_ORG_MONTHLY_SPEND_CAP_USD: '1' } }),
      testVideos(),
    ]);
    api = apiClient(stack.baseUrl);
  });
  after(async () => {
    await stack?.close();
  });

  async function owner() {
    const user = await registerVerifiedUser(api, stack.resend);
    const horseId = await createHorse(api, user.accessToken);
    return { user, token: user.accessToken, horseId, organizationId: user.user.organizations[0].organizationId as string };
  }
  let started: { token: string; id: string } | undefined;
  const start = async (token: string, horseId: string) => api.post('/api/analyses', { horseId, type: 'locomotion', videoKey: await uploadVideo(api, token, videos.short) }, token);

  /** Analyses other members of the organization started (rows only: what the limits count). */
  async function startedByOthers(organizationId: string, horseId: string, n: number, estimatedCostUsd: number | null = null) {
    const em = stack.orm.em.fork();
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      em.create(Analysis, {
        id,
        organization: organizationId,
        horse: em.getReference(Horse, horseId),
        userId: randomUUID(),
        type: 'locomotion',
        status: 'completed',
        stage: 'done',
        credits: 1,
        videoKey: `orgs/${organizationId}/uploads/${id}.mp4`,
        workflowId: analysisWorkflowId(id),
        estimatedCostUsd,
      } as never);
    }
    await em.flush();
  }

  it('given an account that started its hourly allowance, answers 429 with Retry-After and reserves nothing', async () => {
    const { token, horseId, user } = await owner();
    const first = await start(token, horseId);
    expect(first.status).to.equal(202);
    expect((await start(token, horseId)).status).to.equal(202);
    started = { token, id: first.body.id };
    const before = await credits(api, token);
    const third = await start(token, horseId);
    expect(third.status).to.equal(429);
    expect(third.body.message).to.match(/one account may start 2 per hour/);
    expect(Number(third.headers.get('retry-after'))).to.be.within(1, 3600);
    expect(await credits(api, token)).to.deep.equal(before);
    expect(await stack.orm.em.fork().count(Analysis, { userId: user.user.id })).to.equal(2);
  });

  it('given concurrent starts by one account, accepts exactly its hourly allowance and reserves credits for those only', async () => {
    const { token, horseId, user } = await owner();
    // The uploads first, so the starts really arrive together (the start statement counts under the locks).
    const keys = await Promise.all(Array.from({ length: 5 }, () => uploadVideo(api, token, videos.short)));
    const answers = await Promise.all(keys.map((videoKey) => api.post('/api/analyses', { horseId, type: 'locomotion', videoKey }, token)));
    expect(answers.map((a) => a.status).sort()).to.deep.equal([202, 202, 429, 429, 429]);
    const em = stack.orm.em.fork();
    expect(await em.count(Analysis, { userId: user.user.id })).to.equal(2);
    expect(await em.count(CreditTransaction, { userId: user.user.id, kind: 'reserve' })).to.equal(2);
  });

  it('exposes AI tokens and estimated cost per provider and model, and the fallback ratio, on /metrics', async () => {
    await waitForAnalysis(api, started!.token, started!.id);
    const text = await (await fetch(`${stack.baseUrl}/metrics`)).text();
    const value = (line: RegExp) => Number(text.split('\n').find((l) => line.test(l))?.split(' ').pop());
    expect(value(/^ai_tokens\{provider="anthropic",model="[^"]+",direction="input"\}/)).to.be.greaterThan(0);
    expect(value(/^ai_tokens\{provider="anthropic",model="[^"]+",direction="output"\}/)).to.be.greaterThan(0);
    expect(value(/^ai_estimated_cost_usd\{provider="anthropic"/)).to.be.greaterThan(0);
    expect(value(/^ai_analyses\{provider="anthropic",model="[^"]+",fallback="false"\}/)).to.be.at.least(1);
    expect(value(/^ai_fallback_ratio /)).to.be.within(0, 1);
  });

  it('given both models answer invalid output: the analysis is charged, and the cost of its two calls is on the row, counts toward the spend cap and shows in the metrics', async function () {
    // Generous: on a loaded 2-core machine the earlier tests' analyses (ffmpeg, two providers) can take minutes.
    this.timeout(300_000);
    const em = () => stack.orm.em.fork();
    // The stand-ins' script is shared: let analyses started by earlier tests finish first.
    await eventually(async () => (await em().count(Analysis, { status: { $in: ['pending', 'running'] } })) === 0, 180_000, 'earlier analyses to finish');
    const scrape = async () => {
      const text = await (await fetch(`${stack.baseUrl}/metrics`)).text();
      const sum = (prefix: string) =>
        text
          .split('\n')
          .filter((l) => l.startsWith(prefix))
          .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
      return { anthropicCalls: sum('ai_provider_calls{provider="anthropic"'), openaiCalls: sum('ai_provider_calls{provider="openai"'), cost: sum('ai_estimated_cost_usd{'), tokens: sum('ai_tokens{') };
    };
    // The scrape is memoized for 1 s: take the baseline only once it shows the totals as they
    // are now, or usage recorded by earlier tests' analyses after their scrape lands in our delta.
    const dbCost = async () => {
      const [r] = await em().getConnection().execute<{ cost: string | null }[]>('select sum(estimated_cost_usd) as cost from ai_usage_totals');
      return Number(r?.cost ?? 0);
    };
    const before = await eventually(async () => {
      const m = await scrape();
      return Math.abs(m.cost - (await dbCost())) < 1e-9 ? m : null;
    });

    const { token, horseId, organizationId, user } = await owner();
    stack.anthropic.script('invalid');
    stack.openai.script('invalid');
    const res = await start(token, horseId);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const done = await waitForAnalysis(api, token, res.body.id);
    expect(done.status).to.equal('failed');
    // Charged per the policy: a provider answered.
    expect(await credits(api, token)).to.deep.equal({ balance: 2, reserved: 0 });

    const row = await em().findOneOrFail(Analysis, { id: res.body.id });
    expect(row.inputTokens, 'tokens of both calls').to.be.greaterThan(0);
    expect(row.outputTokens).to.be.greaterThan(0);
    const cost = Number(row.estimatedCostUsd ?? 0);
    expect(cost, 'estimated cost of both calls').to.be.greaterThan(0);

    // The metrics count both calls (the scrape reads the running totals; wait past its 1 s memo).
    const after = await eventually(async () => {
      const m = await scrape();
      return m.anthropicCalls >= before.anthropicCalls + 1 && m.openaiCalls >= before.openaiCalls + 1 ? m : null;
    });
    expect(after.cost - before.cost).to.be.closeTo(cost, 1e-9);
    expect(after.tokens - before.tokens).to.equal((row.inputTokens ?? 0) + (row.outputTokens ?? 0));

    // The spend cap counts it: earlier spend of 1 − cost/2 USD is under the 1 USD cap alone, over it with this analysis.
    await startedByOthers(organizationId, horseId, 1, 1 - cost / 2);
    const refused = await start(token, horseId);
    expect(refused.status, JSON.stringify(refused.body)).to.equal(402);
    expect(refused.body.details.spentUsd).to.be.closeTo(1 + cost / 2, 1e-3);
    expect(await em().count(Analysis, { userId: user.user.id })).to.equal(1);
  });

  it('given an organization whose members started its hourly allowance, refuses a new account in it too (429)', async () => {
    const { token, horseId, organizationId } = await owner();
    await startedByOthers(organizationId, horseId, 3);
    const res = await start(token, horseId);
    expect(res.status).to.equal(429);
    expect(res.body.message).to.match(/one organization may start 3 per hour/);
    expect(res.body.details).to.include({ scope: 'organization', limit: 3 });
    expect(Number(res.headers.get('retry-after'))).to.be.within(1, 3600);
    expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
  });

  it('given an organization past its monthly AI spend cap, answers 402 saying the cap, the spend and when it resets', async () => {
    const { token, horseId, organizationId } = await owner();
    await startedByOthers(organizationId, horseId, 1, 1.25);
    const res = await start(token, horseId);
    expect(res.status).to.equal(402);
    expect(res.body.message).to.match(/monthly AI spend cap \(1 USD, 1\.25 USD used\)/);
    expect(res.body.details).to.include({ capUsd: 1, spentUsd: 1.25 });
    expect(new Date(res.body.details.resetsAt).getUTCDate()).to.equal(1);
    // What to do: wait until the next UTC month, which the message, the details and Retry-After all say.
    const resetsAt = new Date(res.body.details.resetsAt);
    expect(res.body.message).to.contain(`analyses start again on ${resetsAt.toISOString().slice(0, 10)} at 00:00 UTC`);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter, 'Retry-After = seconds until the cap resets').to.be.within(1, 31 * 86_400);
    expect(Math.abs(Date.now() + retryAfter * 1000 - resetsAt.getTime())).to.be.below(60_000);
    expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
  });
});
