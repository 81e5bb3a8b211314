import { expect } from 'chai';
import { createServer, request, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { startTestStack, type TestStack } from '../support/stack';
import { testDatabase, testS3 } from '../support/infra';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { apiClient, registerUser, type ApiClient } from '../support/http';
import { dayOf, plusDays } from '../../domain/health';
import { HealthAttachment, StorageOrphan, recordStorageOrphan } from '../../entities';
import { TaskQueue } from '../../workflows/queues';
import type { healthReconcile } from '../../workflows/health/healthReconcile';

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(600, 0x20), Buffer.from('\n%%EOF\n')]);
/** Attachments with this filename fail at COMMIT (a deferred constraint trigger): after the object is stored. */
const FAIL_AT_COMMIT = 'fail-at-commit.pdf';

/**
 * An HTTP proxy in front of the S3 stand-in that, while `refuseDeletes` is set, answers 503
 * to what a delete sends (the listing of the prefix and the DeleteObjects call) and forwards
 * everything else: storage accepts the upload, then refuses to delete it.
 */
async function startS3DeleteFaults(target: string) {
  const state = { refuseDeletes: false, refused: 0 };
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const isDelete = req.method === 'DELETE' || (req.method === 'POST' && /[?&]delete\b/.test(url)) || (req.method === 'GET' && /[?&]list-type=2\b/.test(url));
    if (state.refuseDeletes && isDelete) {
      state.refused++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>test: deletes refused</Message></Error>');
      return;
    }
    const upstream = request(new URL(url, target), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    state,
    endpoint: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Attachments with the S3 driver against the S3 stand-in (gofakes3): an object is never
 * left behind without its row when the database write fails after the upload — deleted at
 * once, or, when storage refuses the delete too, recorded in storage_orphans and deleted by
 * the health-reconcile workflow on the real health worker.
 */
describe('health attachments: no orphaned storage objects (S3 stand-in)', () => {
  let stack: TestStack;
  let api: ApiClient;
  let s3: S3Client;
  let bucket: string;
  let faults: Awaited<ReturnType<typeof startS3DeleteFaults>>;
  /** Postgres behind a TCP proxy that can drop the answer to a COMMIT (the transaction commits, the API cannot know). */
  let db: TcpProxy;

  before(async function () {
    this.timeout(240_000);
    const server = await testS3();
    bucket = server.bucket;
    faults = await startS3DeleteFaults(server.endpoint);
    const dbUrl = new URL((await testDatabase()).url);
    db = await startTcpProxy({ host: dbUrl.hostname, port: Number(dbUrl.port) });
    dbUrl.port = String(db.port);
    stack = await startTestStack({
      queues: [TaskQueue.health],
      env: {
        DATABASE_URL: dbUrl.toString(),
        STORAGE_DRIVER: 's3',
        S3_BUCKET: server.bucket,
        S3_ENDPOINT: faults.endpoint,
        S3_REGION: server.region,
        S3_ACCESS_KEY_ID: server.accessKeyId,
        S3_SECRET_ACCESS_KEY: server.secretAccessKey,
      },
    });
    api = apiClient(stack.baseUrl);
    s3 = new S3Client({ endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    // A real failure of the database write, at COMMIT: the row and the audit are flushed and
    // the object is stored before Postgres refuses the transaction.
    await stack.orm.em.getConnection().execute(`
      create or replace function test_fail_attachment_commit() returns trigger language plpgsql as $$
      begin
        if new.filename = '${FAIL_AT_COMMIT}' then raise exception 'test: attachment commit refused'; end if;
        return new;
      end $$;
      create constraint trigger test_fail_attachment_commit after insert on health_attachments
        deferrable initially deferred for each row execute function test_fail_attachment_commit();`);
  });
  after(async () => {
    await stack?.orm.em.getConnection().execute('drop trigger if exists test_fail_attachment_commit on health_attachments; drop function if exists test_fail_attachment_commit();').catch(() => {});
    s3?.destroy();
    await stack?.close();
    await faults?.close();
    await db?.close();
  });

  const objects = async (prefix: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);

  /** A horse with one document record of a new user; `upload(filename)` posts a PDF to it. */
  async function documentRecord() {
    const reg = await registerUser(api);
    const horse = await api.post('/api/horses', { name: 'Paper', gender: 'mare' }, reg.accessToken);
    expect(horse.status, JSON.stringify(horse.body)).to.equal(201);
    const record = await api.post(
      `/api/horses/${horse.body.id}/health/records`,
      { kind: 'document', date: plusDays(dayOf(Date.now()), -1), details: { documentType: 'passport' } },
      reg.accessToken,
    );
    expect(record.status, JSON.stringify(record.body)).to.equal(201);
    const prefix = `orgs/${horse.body.organizationId}/health/${horse.body.id}/`;
    const upload = (filename: string) =>
      api.call('POST', `/api/health/attachments/records/${record.body.id}?filename=${filename}`, { token: reg.accessToken, raw: PDF, headers: { 'content-type': 'application/pdf' } });
    return { prefix, recordId: record.body.id as string, upload };
  }

  const orphanRow = (key: string) => stack.orm.em.fork().findOne(StorageOrphan, { key });
  const runReconcile = async () =>
    (await stack.temporal.client()).workflow.execute<typeof healthReconcile>('healthReconcile', { taskQueue: TaskQueue.health, workflowId: `health-reconcile-test-${randomUUID()}`, args: [{}] });

  it('deletes the stored object when the database write fails after the upload, and keeps it when the write succeeds', async () => {
    const { prefix, recordId, upload } = await documentRecord();
    const failed = await upload(FAIL_AT_COMMIT);
    expect(failed.status, JSON.stringify(failed.body)).to.be.at.least(500);
    expect(await stack.orm.em.fork().count(HealthAttachment, { record: recordId }), 'no row').to.equal(0);
    expect(await objects(prefix), 'no object left behind').to.deep.equal([]);
    expect(await stack.orm.em.fork().count(StorageOrphan, { key: { $like: `${prefix}%` } }), 'nothing left for the reconcile').to.equal(0);

    // Control: the same upload with a filename the trigger lets through is stored, row and object.
    const stored = await upload('passport.pdf');
    expect(stored.status, JSON.stringify(stored.body)).to.equal(201);
    expect(await objects(prefix)).to.deep.equal([`${prefix}${stored.body.id}.pdf`]);
  });

  it('records the key when storage refuses the delete too, and the health-reconcile workflow deletes it once storage answers', async function () {
    this.timeout(120_000);
    const { prefix, recordId, upload } = await documentRecord();
    faults.state.refuseDeletes = true;
    try {
      const failed = await upload(FAIL_AT_COMMIT);
      expect(failed.status, JSON.stringify(failed.body)).to.be.at.least(500);
      expect(faults.state.refused, 'the delete reached storage and was refused').to.be.above(0);
      expect(await stack.orm.em.fork().count(HealthAttachment, { record: recordId }), 'no row').to.equal(0);
      const [orphan] = await objects(prefix);
      expect(orphan, 'the object outlived its row').to.be.a('string');
      const row = await orphanRow(orphan);
      expect(row, 'its key waits in storage_orphans').to.not.equal(null);
      expect(row!.kind).to.equal('health_attachment');

      // Storage still refuses: the reconcile keeps the key, counting the attempt.
      const refused = await runReconcile();
      expect(refused.orphans.failed).to.include(orphan);
      expect((await orphanRow(orphan))?.attempts).to.equal(2);
      expect(await objects(prefix)).to.deep.equal([orphan]);

      faults.state.refuseDeletes = false;
      const done = await runReconcile();
      expect(done.orphans.deleted).to.include(orphan);
      expect(await objects(prefix), 'the orphan is gone from storage').to.deep.equal([]);
      expect(await orphanRow(orphan), 'and from storage_orphans').to.equal(null);
    } finally {
      faults.state.refuseDeletes = false;
    }
  });

  it('never deletes an object whose row exists (a COMMIT reported failed that succeeded): the reconcile only drops the key', async () => {
    const { prefix, upload } = await documentRecord();
    const stored = await upload('insurance.pdf');
    expect(stored.status, JSON.stringify(stored.body)).to.equal(201);
    const key = `${prefix}${stored.body.id}.pdf`;
    await recordStorageOrphan(stack.orm.em.fork(), key, 'health_attachment', 'test: commit answer lost');
    const result = await runReconcile();
    expect(result.orphans.referenced).to.include(key);
    expect(result.orphans.deleted).to.not.include(key);
    expect(await objects(prefix), 'the live attachment keeps its object').to.deep.equal([key]);
    expect(await orphanRow(key)).to.equal(null);
  });

  it('never deletes the object when the COMMIT outcome is unknown (the connection dropped during COMMIT): it records the key, and the reconcile keeps the saved attachment', async function () {
    this.timeout(120_000);
    const { prefix, recordId, upload } = await documentRecord();
    // The API's connection is cut when Postgres answers the upload's COMMIT: the row is saved, the API cannot know.
    const dropped = db.dropCommitAnswer(/insert into "health_attachments"/i);
    const unknown = await upload('vet-invoice.pdf');
    await dropped;
    expect(unknown.status, JSON.stringify(unknown.body)).to.be.at.least(500);
    const [row] = await stack.orm.em.fork().find(HealthAttachment, { record: recordId });
    expect(row, 'the transaction did commit: the attachment row exists').to.not.equal(undefined);
    expect(await objects(prefix), 'its object was not deleted').to.deep.equal([row.storageKey]);
    const orphan = await orphanRow(row.storageKey);
    expect(orphan, 'the key waits in storage_orphans for the reconcile to decide').to.not.equal(null);
    expect(orphan!.kind).to.equal('health_attachment');

    // The reconcile sees the row: it drops the key and keeps the object, which still downloads.
    const result = await runReconcile();
    expect(result.orphans.referenced).to.include(row.storageKey);
    expect(result.orphans.deleted).to.not.include(row.storageKey);
    expect(await objects(prefix)).to.deep.equal([row.storageKey]);
    expect(await orphanRow(row.storageKey)).to.equal(null);
  });
});
