/**
 * The frames still serve the analysis: on a clip whose picture shows the time (a bar moving
 * 20 px per second), each extracted frame is read back to see which moment it shows.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createMedia, splitGroups, type FrameSeek } from '../../adapters/media/ffmpeg';
import { generateTimeBarVideo } from '../../adapters/media/generate';
import { frameTimestamps } from '../../domain/analysis';
import { barPosition } from '../support/media';

const PX_PER_SECOND = 20;
/** Where the bar is read vs where the timestamp puts it: JPEG edges and the frame grid (25 fps). */
const EXACT_TOLERANCE_S = 0.25;

describe('frame extraction: frames show the moments the analysis asked for', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'horse-tempo-frames-'));
  const clip2s = join(dir, 'gop2.mp4');
  const clip10s = join(dir, 'gop10.mp4');
  const media = createMedia();

  before(async () => {
    await generateTimeBarVideo(clip2s, { seconds: 20, pxPerSecond: PX_PER_SECOND, gopSeconds: 2 });
    await generateTimeBarVideo(clip10s, { seconds: 20, pxPerSecond: PX_PER_SECOND, gopSeconds: 10 });
  });

  /** The moment (s) each frame shows. */
  async function shown(clip: string, timestamps: number[], seek: FrameSeek): Promise<number[]> {
    const frames = await media.extractFrames(clip, timestamps, { seek, outDir: join(dir, `out-${seek}`) });
    expect(frames).to.have.length(timestamps.length);
    const x = await Promise.all(frames.map((f, i) => barPosition(f, dir, `${seek}-${i}`)));
    return x.map((p) => (p - 1.5) / PX_PER_SECOND); // the bar is 4 px wide: its middle is 1.5 px right of its left edge
  }

  it('exact: every frame shows its timestamp', async () => {
    const ts = frameTimestamps(20, 12);
    const got = await shown(clip2s, ts, 'exact');
    got.forEach((s, i) => expect(s, `frame ${i} asked at ${ts[i]} s`).to.be.closeTo(ts[i], EXACT_TOLERANCE_S));
  });

  it('keyframe: every frame shows a moment at most one GOP (2 s) after its timestamp, in order, all different', async () => {
    const ts = frameTimestamps(20, 8); // 1.25 s … 18.75 s: the last one lies after the last keyframe (18 s)
    const got = await shown(clip2s, ts, 'keyframe');
    got.forEach((s, i) => {
      expect(s, `frame ${i} asked at ${ts[i]} s`).to.be.at.least(ts[i] - EXACT_TOLERANCE_S);
      expect(s, `frame ${i} asked at ${ts[i]} s`).to.be.at.most(ts[i] + 2 + EXACT_TOLERANCE_S);
    });
    for (let i = 1; i < got.length; i++) expect(got[i], `frame ${i} after frame ${i - 1}`).to.be.greaterThan(got[i - 1]);
  });

  it('keyframe with a GOP longer than the spacing (10 s GOP, a frame every 2.5 s): still distinct moments, in order', async () => {
    const ts = frameTimestamps(20, 8);
    const got = await shown(clip10s, ts, 'keyframe');
    for (let i = 1; i < got.length; i++) expect(got[i] - got[i - 1], `frames ${i - 1} and ${i}`).to.be.greaterThan(0.5);
    got.forEach((s, i) => expect(s, `frame ${i}`).to.be.at.least(ts[i] - EXACT_TOLERANCE_S));
  });

  it('spreads the frames over parallel processes, fewer inputs per process for large pictures', () => {
    const twelve = Array.from({ length: 12 }, (_, i) => i);
    expect(splitGroups(twelve, 2, { width: 1920, height: 1080 }).map((g) => g.length)).to.deep.equal([6, 6]);
    expect(splitGroups(twelve, 2, { width: 4096, height: 4096 }).map((g) => g.length)).to.deep.equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(splitGroups(twelve, 2, { width: 3840, height: 2160 }).map((g) => g.length)).to.deep.equal([2, 2, 2, 2, 2, 2]);
    expect(splitGroups([1], 2, { width: 320, height: 240 })).to.deep.equal([[1]]);
    expect(splitGroups(twelve, 2, { width: 1920, height: 1080 }).flat()).to.deep.equal(twelve);
  });
});
