import type { ApiClient, ApiResponse } from '../support/http';
import { registerVerifiedUser } from '../support/http';
import { uniqueVideo, uploadVideo } from '../support/analysis';

/**
 * Objects the contract fuzzer's stateful phase starts from (test/contract/hooks.py swaps a
 * generated well-formed id for the fixture of its kind). Made through the API, like a
 * client would, before schemathesis runs: one of each kind the API serves by id.
 */
export interface FuzzFixtures {
  /** The fuzzing user's Bearer token and password (POST /api/auth/api-keys asks for it). */
  token: string;
  password: string;
  organization: string;
  /** A gelding: the horse path ids, records, listings and analyses use. */
  horse: string;
  mare: string;
  stallion: string;
  gestation: string;
  /** Published, so public reads and favorites find it. */
  listing: string;
  record: string;
  attachment: string;
  shareToken: string;
  calendarFile: string;
  videoKey: string;
  uploadToken?: string;
  analysis: string;
  /** An invitation of another stable to the fuzzing user, pending. */
  invitation: string;
}

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(600, 0x20), Buffer.from('\n%%EOF\n')]);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

async function created<T = { id: string }>(what: string, res: Promise<ApiResponse>, status = 201): Promise<T> {
  const answer = await res;
  if (answer.status !== status) throw new Error(`fuzz fixture ${what}: expected ${status}, got ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as T;
}

export async function createFuzzFixtures(api: ApiClient, resend: Parameters<typeof registerVerifiedUser>[1]): Promise<FuzzFixtures> {
  // Verified: invitations and analyses (which spend credits) refuse unverified accounts.
  const user = await registerVerifiedUser(api, resend);
  const token = user.accessToken;
  const organization = user.user.defaultOrganizationId as string;
  const horse = (await created('gelding', api.post('/api/horses', { name: 'Fuzz Gelding', gender: 'gelding', organizationId: organization }, token))).id;
  const mare = (await created('mare', api.post('/api/horses', { name: 'Fuzz Mare', gender: 'mare', organizationId: organization }, token))).id;
  const stallion = (await created('stallion', api.post('/api/horses', { name: 'Fuzz Stallion', gender: 'stallion', organizationId: organization }, token))).id;
  const gestation = (
    await created('gestation', api.post('/api/gestations', { mareId: mare, stallionId: stallion, coverDates: [daysAgo(20)], method: 'natural' }, token))
  ).id;
  const draft = { type: 'sale', title: 'Fuzz gelding for sale', description: 'Kind and sound.', priceCents: 1_500_000, currency: 'EUR', country: 'FR', horseId: horse, organizationId: organization };
  const listing = (await created('listing', api.post('/api/marketplace/my/listings', draft, token))).id;
  await created('published listing', api.post(`/api/marketplace/my/listings/${listing}/publish`, {}, token), 200);
  const record = (await created('health record', api.post(`/api/horses/${horse}/health/records`, { kind: 'farrier', date: daysAgo(30), details: { work: 'trim' } }, token))).id;
  const attachment = (
    await created('attachment', api.call('POST', `/api/health/attachments/records/${record}`, { token, raw: PDF, headers: { 'content-type': 'application/pdf' } }))
  ).id;
  const shareToken = (await created<{ token: string }>('share link', api.post(`/api/horses/${horse}/health/share-links`, { label: 'fuzz' }, token))).token;
  const feedUrl = (await created<{ url: string }>('calendar feed', api.post('/api/health/calendar-feeds', { organizationId: organization }, token))).url;
  const calendarFile = new URL(feedUrl).pathname.split('/').pop()!;
  const videoKey = await uploadVideo(api, token, await uniqueVideo());
  const target = await created<{ uploadUrl: string }>('upload target', api.post('/api/uploads', { contentType: 'video/mp4', size: 4096 }, token));
  const uploadToken = /\/api\/uploads\/([^/?]+)$/.exec(new URL(target.uploadUrl).pathname)?.[1];
  const analysis = (await created('analysis', api.post('/api/analyses', { horseId: horse, type: 'locomotion', videoKey }, token), 202)).id;

  const other = await registerVerifiedUser(api, resend);
  const invitation = (
    await created('invitation', api.post(`/api/organizations/${other.user.defaultOrganizationId}/invitations`, { email: user.email, role: 'member' }, other.accessToken))
  ).id;

  return {
    token,
    password: user.password,
    organization,
    horse,
    mare,
    stallion,
    gestation,
    listing,
    record,
    attachment,
    shareToken,
    calendarFile,
    videoKey,
    uploadToken,
    analysis,
    invitation,
  };
}
