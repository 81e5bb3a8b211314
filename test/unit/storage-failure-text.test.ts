import { expect } from 'chai';
import { storageFailureText } from '../../adapters/storage/failure-text';

describe('storageFailureText (what storage_orphans.last_error keeps of a failed S3 call)', () => {
  it("keeps the error's class and HTTP status, not its message (bucket, key, host, request id)", () => {
    const s3 = Object.assign(new Error('Access Denied for bucket ht-prod key orgs/o1/health/a1 (request 8F2K, host 10.0.3.7)'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403, requestId: '8F2K' },
    });
    expect(storageFailureText(s3)).to.equal('the object storage call failed (AccessDenied, HTTP 403)');
    const network = Object.assign(new Error('connect ECONNREFUSED 10.0.3.7:9000'), { name: 'TimeoutError' });
    expect(storageFailureText(network)).to.equal('the object storage call failed (TimeoutError)');
    expect(storageFailureText('a string thrown')).to.equal('the object storage call failed (Error)');
    expect(storageFailureText(Object.assign(new Error('x'), { name: 'name with 10.0.3.7' }))).to.equal('the object storage call failed (Error)');
  });
});
