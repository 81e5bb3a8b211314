import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { ClaudeVision } from '../../adapters/ai/claude';
import { OpenAiVision } from '../../adapters/ai/openai';
import { AiProviderError, type VisionClient } from '../../adapters/ai/types';
import { LocalStorage } from '../../adapters/storage/local';
import { InvalidVideoError, createMedia } from '../../adapters/media/ffmpeg';
import { generateTestVideo } from '../../adapters/media/generate';
import { jpegSize } from '../support/media';
import { waitFor } from '../support/wait';
import { createAnalysisActivities, type AiOutcome } from '../../activities/analysis';
import { loadConfig } from '../../config';
import { ErrorType } from '../../domain/errors';
import { MODEL_ANSWER_JSON_SCHEMA, buildPrompt, parseModelAnswer } from '../../domain/analysis';
import { testAnthropic, testOpenAi } from '../support/infra';
import type { AiStandIn } from '../../scripts/standins/ai-script';

const FRAME = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0xff, 0xd9]);
const prompt = buildPrompt('jumping', 2);
const request = (timeoutMs = 3000, analysisId = 'a-1') => ({
  model: 'm',
  system: prompt.system,
  prompt: prompt.user,
  images: [FRAME, FRAME],
  jsonSchema: MODEL_ANSWER_JSON_SCHEMA as unknown as Record<string, unknown>,
  timeoutMs,
  analysisId,
});
/** An activity environment that logs only errors (failed attempts are expected here). */
const mockEnv = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: AiProviderError) => e,
  );

describe('AI adapters through the real SDKs against the local stand-ins', () => {
  let anthropic: AiStandIn;
  let openai: AiStandIn;
  let claude: VisionClient;
  let gpt: VisionClient;
  before(async () => {
    [anthropic, openai] = await Promise.all([testAnthropic(), testOpenAi()]);
    claude = new ClaudeVision({ apiKey: 'sk-ant-test', baseURL: anthropic.baseURL });
    gpt = new OpenAiVision({ apiKey: 'sk-test', baseURL: openai.baseURL });
  });
  beforeEach(() => {
    anthropic.reset();
    openai.reset();
  });

  for (const name of ['anthropic', 'openai'] as const) {
    const client = () => (name === 'anthropic' ? claude : gpt);
    const standIn = () => (name === 'anthropic' ? anthropic : openai);

    it(`${name}: sends the frames and the prompt, and returns a valid sandbox answer with usage`, async () => {
      const res = await client().complete({ ...request(), model: name === 'anthropic' ? 'claude-sonnet-4-5' : 'gpt-4o' });
      expect(res).to.include({ provider: name, model: name === 'anthropic' ? 'claude-sonnet-4-5' : 'gpt-4o', sandbox: true });
      expect(res.inputTokens).to.be.greaterThan(0);
      expect(parseModelAnswer(res.text).ok).to.equal(true);
      expect(standIn().requests).to.have.length(1);
      expect(standIn().requests[0]).to.include({ images: 2, type: 'jumping', analysisId: 'a-1' });
    });

    it(`${name}: classifies 429, 500 and 529 as retryable, 400/401 as not, and a hang past the timeout as a retryable timeout`, async () => {
      standIn().script(429, 500, 529, 400, 401, 'hang');
      const kinds: [string, boolean][] = [];
      for (let i = 0; i < 6; i++) {
        const e = await failure(client().complete(request(400)));
        expect(e).to.be.instanceOf(AiProviderError);
        kinds.push([e.kind, e.retryable]);
      }
      expect(kinds).to.deep.equal([
        ['rate_limited', true],
        ['server', true],
        ['overloaded', true],
        ['rejected', false],
        ['auth', false],
        ['timeout', true],
      ]);
      expect(standIn().requests).to.have.length(6); // the SDKs' own retries are off
    });
  }

  it('fails at once, non-retryable, when a provider has no API key', async () => {
    const e = await failure(new ClaudeVision({}).complete(request()));
    expect(e.kind).to.equal('not_configured');
    expect(e.retryable).to.equal(false);
    expect(anthropic.requests).to.have.length(0);
  });

  describe('the provider activities', () => {
    const dir = mkdtempSync(join(tmpdir(), 'horse-tempo-ai-activity-'));
    const storage = new LocalStorage({ dir, secret: 'x'.repeat(40) });
    const keys = ['orgs/o/analyses/a/frames/000.jpg', 'orgs/o/analyses/a/frames/001.jpg'];
    const config = loadConfig({ NODE_ENV: 'test', AI_TIMEOUT_SECONDS: '30' });
    let acts: ReturnType<typeof createAnalysisActivities>;
    // What the activities report as spent (in the worker: the analysis row and the AI usage totals).
    const usage: { analysisId: string; provider: string; inputTokens: number; estimatedCostUsd: number | null }[] = [];
    before(async () => {
      for (const k of keys) await storage.putObject(k, FRAME, 'image/jpeg');
      const logger = { warn() {}, info() {}, error() {} } as never;
      acts = createAnalysisActivities({
        config,
        orm: {} as never,
        logger,
        storage,
        ai: { primary: claude, fallback: gpt, sandbox: true },
        // Counts what is saved, without Postgres (the stored-once behaviour with Postgres: test/integration/ai-usage-once.test.ts).
        answers: {
          find: async () => null,
          save: async (analysisId, answer) => {
            usage.push({ analysisId, ...answer });
            return { answer, counted: true };
          },
          forget: async () => {},
        },
      });
    });
    const input = { analysisId: 'act-1', type: 'locomotion' as const, frameKeys: keys };

    it('returns a validated outcome with model, tokens, cost and latency', async () => {
      const out = (await mockEnv().run(acts.analyzeWithClaude, input)) as AiOutcome;
      expect(out).to.include({ provider: 'anthropic', model: config.AI_MODEL_PRIMARY, sandbox: true });
      expect(out.result.aiModel).to.equal(config.AI_MODEL_PRIMARY);
      expect(out.estimatedCostUsd).to.be.greaterThan(0);
      expect(anthropic.requests[0]).to.include({ images: 2, type: 'locomotion' });
    });

    it('turns invalid output into a non-retryable AiOutputInvalid (its usage still counted) and a 429 into a retryable AiProviderFailed (nothing counted)', async () => {
      openai.script('invalid', 429);
      usage.length = 0;
      const invalid = await mockEnv().run(acts.analyzeWithOpenAI, input).catch((e) => e);
      expect(invalid).to.be.instanceOf(ApplicationFailure);
      expect(invalid).to.include({ type: ErrorType.AiOutputInvalid, nonRetryable: true });
      // The answer was paid for: tokens and cost are counted before validation.
      expect(usage).to.have.length(1);
      expect(usage[0]).to.include({ analysisId: 'act-1', provider: 'openai' });
      expect(usage[0].inputTokens).to.be.greaterThan(0);
      expect(usage[0].estimatedCostUsd).to.be.greaterThan(0);
      const limited = await mockEnv().run(acts.analyzeWithOpenAI, input).catch((e) => e);
      expect(limited).to.include({ type: ErrorType.AiProviderFailed, nonRetryable: false });
      expect(usage).to.have.length(1);
    });

    it('heartbeats while waiting for the model and aborts the HTTP call when cancelled', async () => {
      anthropic.script('hang');
      const env = mockEnv();
      let beats = 0;
      env.on('heartbeat', () => beats++);
      const running = env.run(acts.analyzeWithClaude, input).catch((e: ApplicationFailure) => e);
      // The request is in flight at the stand-in and the activity has heartbeated: cancel now.
      await waitFor('the model request to reach the stand-in and a heartbeat', () => anthropic.requests.length > 0 && beats > 0);
      env.cancel();
      const err = (await running) as ApplicationFailure;
      expect(err).to.include({ type: ErrorType.AiProviderFailed });
      // Our own wording for an aborted provider call (activities/analysis/ai-failure-text.ts).
      expect(err.message).to.equal('anthropic: the request was canceled');
    });
  });
});

describe('media adapter (ffprobe / ffmpeg)', function () {
  this.timeout(60_000);
  const media = createMedia();
  const probeVideo = (path: string) => media.probe(path);
  const dir = mkdtempSync(join(tmpdir(), 'horse-tempo-media-'));
  const hd = join(dir, 'hd.mp4');
  before(async () => {
    await generateTestVideo(hd, { seconds: 3, width: 1920, height: 1080 });
  });

  it('probes duration and size, and says clearly when a file is not a video', async () => {
    const info = await probeVideo(hd);
    expect(info).to.include({ width: 1920, height: 1080, codec: 'h264' });
    expect(info.durationSec).to.be.closeTo(3, 0.1);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'text.mp4'), 'not a video');
    const err = await probeVideo(join(dir, 'text.mp4')).catch((e) => e);
    expect(err).to.be.instanceOf(InvalidVideoError);
    expect(err.message).to.match(/^the file is not a video container we accept/);
  });

  it('refuses a text file that starts with G (looks like MPEG-TS to a lax sniff) before ffprobe sees it', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = join(dir, 'g-text.ts');
    writeFileSync(file, 'Good morning, this is a text file. '.repeat(30));
    const err = await probeVideo(file).catch((e) => e);
    expect(err).to.be.instanceOf(InvalidVideoError);
    expect(err.message).to.match(/^the file is not a video container we accept/);
    expect(err.message).to.not.contain(file);
  });

  it('extracts one JPEG per timestamp, scaled down to at most 1024 px on the long edge', async () => {
    const frames = await media.extractFrames(hd, [0.5, 1.5, 2.5], { outDir: join(dir, 'frames') });
    expect(frames).to.have.length(3);
    for (const f of frames) expect(f.subarray(0, 2).equals(Buffer.from([0xff, 0xd8]))).to.equal(true);
    expect(jpegSize(frames[0])).to.deep.equal({ width: 1024, height: 576 });
  });
});
