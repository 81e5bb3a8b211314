import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTestVideo } from '../../adapters/media/generate';
import type { ApiClient } from './http';
import { eventually } from './http';

/** Test videos generated with ffmpeg's testsrc (plus a file that is not a video), once per run. */
export interface TestVideos {
  dir: string;
  /** 4 s, 320x240 H.264. */
  short: string;
  /** 3 s, another size: different bytes, so no cache hit with `short`. */
  other: string;
  /** 601 s at 1 fps and 64x48: longer than MAX_VIDEO_SECONDS. */
  tooLong: string;
  /** Text bytes named .mp4. */
  notVideo: string;
}

let videos: Promise<TestVideos> | undefined;
export function testVideos(): Promise<TestVideos> {
  videos ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'horse-tempo-videos-'));
    const v: TestVideos = {
      dir,
      short: join(dir, 'short.mp4'),
      other: join(dir, 'other.mp4'),
      tooLong: join(dir, 'too-long.mp4'),
      notVideo: join(dir, 'not-a-video.mp4'),
    };
    await generateTestVideo(v.short, { seconds: 4, width: 320, height: 240 });
    await generateTestVideo(v.other, { seconds: 3, width: 256, height: 144 });
    await generateTestVideo(v.tooLong, { seconds: 601, width: 64, height: 48, fps: 1 });
    writeFileSync(v.notVideo, 'This is a plain text file pretending to be a video.\n'.repeat(20));
    return v;
  })();
  return videos;
}

let unique = 0;
/** A fresh short clip whose bytes no other call produced (so no cache hit from earlier tests). */
export async function uniqueVideo(): Promise<string> {
  const { dir } = await testVideos();
  const file = join(dir, `unique-${++unique}.mp4`);
  await generateTestVideo(file, { seconds: 2 + unique * 0.2, width: 160, height: 120 });
  return file;
}

/** Asks for an upload URL and PUTs the file there, like a client does. Returns the videoKey. */
export async function uploadVideo(api: ApiClient, token: string, file: string, contentType = 'video/mp4'): Promise<string> {
  const bytes = readFileSync(file);
  const target = await api.post('/api/uploads', { contentType, size: bytes.length, filename: 'clip.mp4' }, token);
  if (target.status !== 201) throw new Error(`upload URL refused: ${target.status} ${JSON.stringify(target.body)}`);
  const put = await fetch(target.body.uploadUrl, { method: 'PUT', headers: target.body.headers, body: bytes });
  if (put.status !== 200) throw new Error(`upload refused: ${put.status} ${await put.text()}`);
  return target.body.videoKey;
}

export async function createHorse(api: ApiClient, token: string, name = 'Jappeloup'): Promise<string> {
  const res = await api.post('/api/horses', { name, gender: 'gelding' }, token);
  if (res.status !== 201) throw new Error(`horse not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** Polls GET /api/analyses/:id until it reaches a terminal status. */
export function waitForAnalysis(api: ApiClient, token: string, id: string, timeoutMs = 45_000) {
  return eventually(
    async () => {
      const res = await api.get(`/api/analyses/${id}`, token);
      return ['completed', 'failed', 'canceled'].includes(res.body?.status) ? res.body : null;
    },
    timeoutMs,
    `analysis ${id} to finish`,
  );
}

export async function credits(api: ApiClient, token: string): Promise<{ balance: number; reserved: number }> {
  return (await api.get('/api/auth/me', token)).body.credits;
}
