/**
 * Frame extraction benchmark: what the analysis' extractFrames activity does (probe, then
 * 12 frames with input seeking spread over parallel ffmpeg processes, MEDIA_FRAME_SEEK) against
 * a full decode of the same clip with the fps filter, measured in the same run, on
 *  - a 60 s 1080p H.264 clip (testsrc + noise, encoded like a camera: 8 Mb/s, B-frames, 2 s GOP)
 *  - a 10-minute clip: that clip ten times end to end (stream copy, so it decodes like a
 *    10-minute camera clip without a 10-minute encode).
 * Clips are cached in the temp folder (the first encode takes minutes on 2 shared cores).
 *
 *   npm run bench -- --only=frames          # through the harness (takes the bench lock)
 *   tsx bench/frames.ts [--full]            # alone; --full: 3 runs of each 10-minute figure
 *   BENCH_FRAMES=12 BENCH_RUNS=3 tsx bench/frames.ts
 *
 * Besides wall time it prints the CPU seconds the ffmpeg processes used (from the kernel's
 * accounting of reaped children), which a loaded machine does not distort. Asserts nothing.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createMedia, type FrameSeek } from '../adapters/media/ffmpeg';
import { generateTestVideo, repeatClip } from '../adapters/media/generate';
import { frameTimestamps } from '../domain/analysis';
import { benchMode, reportBench } from './lib/report';

const FRAMES = Number(process.env.BENCH_FRAMES ?? 12);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LONG_RUNS = Number(process.env.BENCH_LONG_RUNS ?? (benchMode() === 'full' ? 3 : 1));

const dir = join(tmpdir(), 'horse-tempo-bench');
mkdirSync(dir, { recursive: true });
const short = join(dir, 'testsrc-noise-60s-1080p.mp4');
const long = join(dir, 'testsrc-noise-600s-1080p.mp4');
if (!existsSync(short)) {
  console.log(`generating ${short} (60 s, 1920x1080, 25 fps, H.264 veryfast 8 Mb/s with noise, GOP 2 s)…`);
  const t = performance.now();
  await generateTestVideo(short, { seconds: 60, width: 1920, height: 1080, fps: 25, realistic: true });
  console.log(`  generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
if (!existsSync(long)) await repeatClip(short, long, 10, join(dir, 'repeat.ffconcat'));

// The worker's settings: MEDIA_MAX_CONCURRENT=2 and two processes per extraction.
const media = createMedia();

/** CPU seconds (user + system) of this process' reaped children: the ffmpeg processes. */
function childCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // After "pid (comm) ": field 3 is state, so cutime (16) and cstime (17) are at 13 and 14.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function measure(runs: number, fn: () => Promise<Buffer[]>): Promise<{ ms: number; cpu: number; frames: number }> {
  const ms: number[] = [];
  const cpu: number[] = [];
  let frames = 0;
  for (let i = 0; i < runs; i++) {
    const c = childCpuSeconds();
    const t = performance.now();
    frames = (await fn()).length;
    ms.push(performance.now() - t);
    cpu.push(childCpuSeconds() - c);
  }
  return { ms: median(ms), cpu: median(cpu), frames };
}

/** What the activity does: probe (caps, container, size), then the frames. */
const ours = (clip: string, seek: FrameSeek) => async () => {
  const info = await media.probe(clip);
  return media.extractFrames(clip, frameTimestamps(info.durationSec, FRAMES), { info, seek, outDir: join(dir, `ours-${seek}`) });
};
// The baseline decodes a whole 10-minute clip in one process: far past the worker's per-process limit.
const baselineMedia = createMedia({ timeoutMs: 3 * 3600_000 });
const fullDecode = (clip: string) => () => baselineMedia.extractFramesFullDecode(clip, FRAMES, { outDir: join(dir, 'full') });

interface Row {
  label: string;
  clip: string;
  runs: number;
  goal: number;
}
const rows: Row[] = [
  { label: '60 s 1080p', clip: short, runs: RUNS, goal: 5 },
  { label: '10 min 1080p', clip: long, runs: LONG_RUNS, goal: 20 },
];
const results = [];
for (const row of rows) {
  const info = await media.probe(row.clip);
  console.log(`\n${row.label}: ${info.durationSec.toFixed(0)} s, ${info.width}x${info.height} ${info.codec}; ${FRAMES} frames; median of ${row.runs} run(s)`);
  const keyframe = await measure(row.runs, ours(row.clip, 'keyframe'));
  const exact = await measure(row.runs, ours(row.clip, 'exact'));
  const full = await measure(row.runs, fullDecode(row.clip));
  for (const [name, m] of [['keyframe seek (default)', keyframe], ['exact seek', exact], ['full decode (baseline)', full]] as const) {
    console.log(`  ${name.padEnd(24)} ${m.ms.toFixed(0).padStart(7)} ms wall  ${m.cpu.toFixed(2).padStart(7)} s CPU  ${m.frames} frames  (${(full.ms / m.ms).toFixed(1)}x faster, ${(full.cpu / m.cpu).toFixed(1)}x less CPU)`);
  }
  results.push({ row, keyframe, exact, full });
}
for (const { row, keyframe, exact, full } of results) {
  reportBench({
    name: `frames: ${FRAMES} from a ${row.label} clip, probe + extract (goal ≥ ${row.goal}× faster)`,
    ours: keyframe.ms,
    baseline: full.ms,
    unit: 'ms',
    goal: 1 / row.goal,
    higherIsBetter: false,
    baselineLabel: 'full decode with the fps filter, same clip, same run',
    extra: { cpuSeconds: keyframe.cpu, baselineCpuSeconds: full.cpu, exactMs: exact.ms, exactCpuSeconds: exact.cpu, runs: row.runs },
  });
}
