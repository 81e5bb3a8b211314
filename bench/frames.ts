/**
 * Frame extraction benchmark: the method the analysis uses (input seeking, `-ss` before
 * `-i`, one short decode per frame) against a naive full decode of the whole clip with the
 * fps filter, on a 60 s 1080p H.264 clip generated with ffmpeg's testsrc plus noise, encoded
 * like a camera (8 Mb/s, B-frames, 2 s GOP); cached in the temp folder so a second run skips
 * the encode.
 *
 *   tsx bench/frames.ts                     # 12 frames, 3 runs each
 *   BENCH_FRAMES=20 BENCH_RUNS=5 BENCH_SECONDS=60 tsx bench/frames.ts
 *
 * Not part of the test suite; prints figures, asserts nothing.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { extractFrames, extractFramesFullDecode, generateTestVideo, probeVideo } from '../adapters/media/ffmpeg';
import { frameTimestamps } from '../domain/analysis';

const FRAMES = Number(process.env.BENCH_FRAMES ?? 12);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);

const dir = join(tmpdir(), 'horse-tempo-bench');
mkdirSync(dir, { recursive: true });
const clip = join(dir, `testsrc-noise-${SECONDS}s-1080p.mp4`);
if (!existsSync(clip)) {
  console.log(`generating ${clip} (${SECONDS} s, 1920x1080, 25 fps, H.264 veryfast 8 Mb/s with noise, GOP 2 s)…`);
  const t = performance.now();
  await generateTestVideo(clip, { seconds: SECONDS, width: 1920, height: 1080, fps: 25, realistic: true });
  console.log(`  generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const info = await probeVideo(clip);
console.log(`clip: ${info.durationSec.toFixed(1)} s, ${info.width}x${info.height} ${info.codec}; ${FRAMES} frames, ${RUNS} runs each (median)`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(fn: () => Promise<Buffer[]>): Promise<{ ms: number; frames: number }> {
  const runs: number[] = [];
  let frames = 0;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    frames = (await fn()).length;
    runs.push(performance.now() - t);
  }
  return { ms: median(runs), frames };
}

const seek = await time(() => extractFrames(clip, frameTimestamps(info.durationSec, FRAMES), { outDir: join(dir, 'seek') }));
const full = await time(() => extractFramesFullDecode(clip, FRAMES, info.durationSec, { outDir: join(dir, 'full') }));

console.log(`input seeking (-ss before -i):  ${seek.ms.toFixed(0).padStart(7)} ms for ${seek.frames} frames`);
console.log(`full decode (fps filter):       ${full.ms.toFixed(0).padStart(7)} ms for ${full.frames} frames`);
console.log(`ratio full / seeking:           ${(full.ms / seek.ms).toFixed(1)}x`);
