import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { CUSTOM_SEARCH_ATTRIBUTES, devServerArgs } from '../../temporal-config/search-attributes';

describe('temporal-config', () => {
  it('registers the same search attributes for the dev server and for docker-compose', () => {
    const script = readFileSync(new URL('../../temporal-config/register-search-attributes.sh', import.meta.url), 'utf8');
    const listed = /for attr in ([^;]+);/.exec(script)![1].trim().split(/\s+/);
    expect(listed).to.deep.equal(Object.entries(CUSTOM_SEARCH_ATTRIBUTES).map(([k, t]) => `${k}:${t}`));
    const args = devServerArgs({ port: 7233, namespace: 'default', uiPort: 8233, dbFile: 'x.db' });
    for (const k of Object.keys(CUSTOM_SEARCH_ATTRIBUTES)) expect(args).to.include(`${k}=Keyword`);
    expect(args.join(' ')).to.contain('--sqlite-pragma journal_mode=WAL');
    expect(args.join(' ')).to.contain('--db-filename x.db');
  });
});

describe('schedules', () => {
  it('creates each schedule from the workers that poll its queue, with the configured billing cron', async () => {
    const { schedulesFor } = await import('../../workers/schedules');
    const ids = (queues: Parameters<typeof schedulesFor>[1]) => schedulesFor({ BILLING_RECONCILE_CRON: '5 4 * * *' }, queues).map((s) => s.scheduleId);
    expect(ids([])).to.include.members(['billing-reconcile', 'analysis-reconcile', 'accounts-reconcile', 'free-plan-credits']);
    expect(ids(['accounts'])).to.deep.equal(['accounts-reconcile', 'account-emails-reconcile', 'free-plan-credits']);
    expect(ids(['gestation'])).to.deep.equal([]);
    const billing = schedulesFor({ BILLING_RECONCILE_CRON: '5 4 * * *' }, ['billing'])[0];
    expect(billing.spec.cronExpressions).to.deep.equal(['5 4 * * *']);
    for (const s of schedulesFor({ BILLING_RECONCILE_CRON: '5 4 * * *' }, [])) expect(s.policies?.overlap, s.scheduleId).to.not.equal(undefined);
  });
});
