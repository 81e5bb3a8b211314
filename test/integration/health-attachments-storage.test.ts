import { expect } from 'chai';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { startTestStack, type TestStack } from '../support/stack';
import { testS3 } from '../support/infra';
import { apiClient, registerUser, type ApiClient } from '../support/http';
import { dayOf, plusDays } from '../../domain/health';
import { HealthAttachment } from '../../entities';

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(600, 0x20), Buffer.from('\n%%EOF\n')]);
/** Attachments with this filename fail at COMMIT (a deferred constraint trigger): after the object is stored. */
const FAIL_AT_COMMIT = 'fail-at-commit.pdf';

/**
 * Attachments with the S3 driver against the S3 stand-in (gofakes3): an object is never
 * left behind without its row when the database write fails after the upload.
 */
describe('health attachments: no orphaned storage objects (S3 stand-in)', () => {
  let stack: TestStack;
  let api: ApiClient;
  let s3: S3Client;
  let bucket: string;

  before(async function () {
    this.timeout(240_000);
    const server = await testS3();
    bucket = server.bucket;
    stack = await startTestStack({
      workers: false,
      env: {
        STORAGE_DRIVER: 's3',
        S3_BUCKET: server.bucket,
        S3_ENDPOINT: server.endpoint,
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
  });

  const objects = async (prefix: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);

  it('deletes the stored object when the database write fails after the upload, and keeps it when the write succeeds', async () => {
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

    const failed = await upload(FAIL_AT_COMMIT);
    expect(failed.status, JSON.stringify(failed.body)).to.be.at.least(500);
    expect(await stack.orm.em.fork().count(HealthAttachment, { record: record.body.id }), 'no row').to.equal(0);
    expect(await objects(prefix), 'no object left behind').to.deep.equal([]);

    // Control: the same upload with a filename the trigger lets through is stored, row and object.
    const stored = await upload('passport.pdf');
    expect(stored.status, JSON.stringify(stored.body)).to.equal(201);
    expect(await objects(prefix)).to.deep.equal([`${prefix}${stored.body.id}.pdf`]);
  });
});
