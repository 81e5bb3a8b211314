import { expect } from 'chai';
import {
  ANALYSIS_CREDIT_COST,
  ANALYSIS_FRAME_COUNT,
  ANALYSIS_PROMPTS,
  ANALYSIS_TYPES,
  AnalysisResultSchema,
  buildPrompt,
  cacheKeyOf,
  estimateCostUsd,
  frameTimestamps,
  analysisPrefix,
  analysisVideoKey,
  bareMediaType,
  framesPrefix,
  isVideoContentType,
  parseModelAnswer,
  parseVideoKey,
  sandboxAnswer,
  videoKey,
  PROMPT_VERSION,
} from '../../domain/analysis';
import { SNIFF_BYTES, looksLikeVideo } from '../../adapters/media/sniff';

const ORG = '3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b';
const ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe('analysis domain rules', () => {
  it('charges the seed credit costs per type', () => {
    expect(ANALYSIS_CREDIT_COST).to.deep.equal({ locomotion: 1, jumping: 2, dressage: 2, behavior: 1, conformation: 1 });
    for (const t of ANALYSIS_TYPES) expect(ANALYSIS_FRAME_COUNT[t]).to.be.within(2, 20);
  });

  it('spaces frame timestamps evenly, centred in equal slices, never at 0 or the end', () => {
    expect(frameTimestamps(10, 5)).to.deep.equal([1, 3, 5, 7, 9]);
    const ts = frameTimestamps(3.7, 12);
    expect(ts).to.have.length(12);
    expect(ts[0]).to.be.greaterThan(0);
    expect(ts[11]).to.be.lessThan(3.7);
    expect(frameTimestamps(0, 5)).to.deep.equal([]);
  });

  it('scopes video keys per organization and parses only keys it issued', () => {
    const key = videoKey(ORG, ID, 'video/quicktime');
    expect(key).to.equal(`orgs/${ORG}/videos/${ID}.mov`);
    expect(parseVideoKey(key)).to.deep.equal({ organizationId: ORG, id: ID, ext: 'mov' });
    expect(parseVideoKey(`orgs/${ORG}/videos/../../x.mp4`)).to.equal(null);
    expect(parseVideoKey(`orgs/${ORG}/analyses/${ID}.mp4`)).to.equal(null);
    expect(parseVideoKey('videos/x.mp4')).to.equal(null);
  });

  it('accepts only video content types', () => {
    expect(isVideoContentType('video/mp4')).to.equal(true);
    expect(isVideoContentType('Video/QuickTime; codecs=x')).to.equal(true);
    expect(isVideoContentType('application/pdf')).to.equal(false);
    expect(isVideoContentType('image/jpeg')).to.equal(false);
  });

  it('reduces a content type with parameters to the bare media type', () => {
    expect(bareMediaType('video/mp4; codecs="avc1.42E01E, mp4a.40.2"')).to.equal('video/mp4');
    expect(bareMediaType(' Video/QuickTime ')).to.equal('video/quicktime');
  });

  it('keeps an analysis’ own video copy and its frames under one analysis prefix, away from upload keys', () => {
    expect(analysisVideoKey(ORG, ID, 'mp4')).to.equal(`orgs/${ORG}/analyses/${ID}/video.mp4`);
    expect(framesPrefix(ORG, ID).startsWith(analysisPrefix(ORG, ID))).to.equal(true);
    expect(parseVideoKey(analysisVideoKey(ORG, ID, 'mp4'))).to.equal(null);
  });

  it('keys the cache by organization, video hash, type and prompt version (no entry is shared across tenants)', () => {
    expect(cacheKeyOf(ORG, 'abc', 'jumping')).to.equal(`${ORG}:abc:jumping:${PROMPT_VERSION}`);
    expect(cacheKeyOf(ORG, 'abc', 'jumping', 'v0')).to.not.equal(cacheKeyOf(ORG, 'abc', 'jumping'));
    expect(cacheKeyOf(ORG, 'abc', 'jumping')).to.not.equal(cacheKeyOf(ID, 'abc', 'jumping'));
  });

  it('prompts per type say the product does not diagnose and recommend a vet for lameness signs', () => {
    for (const t of ANALYSIS_TYPES) {
      const p = buildPrompt(t, 8);
      expect(p.user).to.contain(`Analysis type: ${t}`);
      expect(p.user).to.contain('8 frames');
      expect(p.system).to.match(/do NOT diagnose/);
      expect(p.system).to.match(/veterinarian/);
      for (const c of ANALYSIS_PROMPTS[t].categories) expect(p.user).to.contain(c);
    }
    expect(buildPrompt('locomotion', 12).user).to.match(/veterinary lameness examination/);
  });

  it('parses a valid model answer (also inside a ```json fence) and rejects out-of-range or malformed ones', () => {
    const good = sandboxAnswer('jumping');
    expect(parseModelAnswer(JSON.stringify(good))).to.deep.equal({ ok: true, value: good });
    expect(parseModelAnswer('```json\n' + JSON.stringify(good) + '\n```').ok).to.equal(true);
    const high = parseModelAnswer(JSON.stringify({ ...good, globalScore: 250 }));
    expect(high.ok).to.equal(false);
    expect(high.ok === false && high.error).to.match(/globalScore/);
    expect(parseModelAnswer(JSON.stringify({ ...good, confidence: 3 })).ok).to.equal(false);
    expect(parseModelAnswer(JSON.stringify({ ...good, categories: [] })).ok).to.equal(false);
    expect(parseModelAnswer(JSON.stringify({ ...good, extra: 1 })).ok).to.equal(false);
    expect(parseModelAnswer('Sorry, I cannot help').ok).to.equal(false);
  });

  it('the stored result adds aiModel and processingTime to the answer', () => {
    expect(AnalysisResultSchema.safeParse({ ...sandboxAnswer('behavior'), aiModel: 'gpt-4o', processingTime: 1234 }).success).to.equal(true);
    expect(AnalysisResultSchema.safeParse(sandboxAnswer('behavior')).success).to.equal(false);
  });

  it('estimates the cost from the model price per million tokens; unknown models cost null', () => {
    expect(estimateCostUsd('claude-sonnet-4-5', 1_000_000, 0)).to.equal(3);
    expect(estimateCostUsd('claude-sonnet-4-5', 10_000, 1_000)).to.equal(0.045);
    expect(estimateCostUsd('gpt-4o', 1_000_000, 1_000_000)).to.equal(12.5);
    expect(estimateCostUsd('gpt-4o-mini', 1_000_000, 0)).to.equal(0.15);
    expect(estimateCostUsd('llama-3', 1000, 1000)).to.equal(null);
  });

  it('recognises video containers by their first bytes and refuses text', () => {
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypisom'), Buffer.alloc(20)]);
    const mkv = Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.alloc(20)]);
    const avi = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('AVI LIST'), Buffer.alloc(10)]);
    expect(looksLikeVideo(mp4)).to.equal(true);
    expect(looksLikeVideo(mkv)).to.equal(true);
    expect(looksLikeVideo(avi)).to.equal(true);
    expect(looksLikeVideo(Buffer.from('hello, this is not a video at all'))).to.equal(false);
    expect(looksLikeVideo(Buffer.from('%PDF-1.7 something'))).to.equal(false);
  });

  it('takes MPEG-TS only with sync bytes at 0, 188 and 376, never text that starts with G', () => {
    const ts = Buffer.alloc(SNIFF_BYTES, 0xff);
    for (const at of [0, 188, 376]) ts[at] = 0x47;
    expect(looksLikeVideo(ts)).to.equal(true);
    const text = Buffer.from('GIVEN the horse trots, WHEN filmed, THEN ... '.repeat(20));
    expect(text.length).to.be.greaterThan(376);
    expect(looksLikeVideo(text)).to.equal(false);
    // One sync byte short, and too short to hold three packets.
    const broken = Buffer.from(ts);
    broken[376] = 0x00;
    expect(looksLikeVideo(broken)).to.equal(false);
    expect(looksLikeVideo(Buffer.concat([Buffer.from([0x47]), Buffer.alloc(187), Buffer.from([0x47]), Buffer.alloc(20)]))).to.equal(false);
  });
});
