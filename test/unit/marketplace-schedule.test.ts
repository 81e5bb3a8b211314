import { expect } from 'chai';
import { marketplaceReconcileSchedule, schedulesFor } from '../../workers/schedules';
import { TaskQueue } from '../../workflows/queues';

describe('marketplace-reconcile schedule (workers/schedules)', () => {
  it('runs marketplaceReconcile on the marketplace queue every 15 minutes, skipping overlaps', () => {
    const s = marketplaceReconcileSchedule();
    expect(s.scheduleId).to.equal('marketplace-reconcile');
    expect(s.spec.intervals).to.deep.equal([{ every: '15 minutes' }]);
    expect(s.action).to.include({ type: 'startWorkflow', workflowType: 'marketplaceReconcile', workflowId: 'marketplace-reconcile', taskQueue: TaskQueue.marketplace });
    expect(s.policies?.overlap).to.not.equal(undefined);
  });

  it('is ensured by the workers that poll the marketplace queue (and by an all-queues worker), not by others', () => {
    const ids = (queues: TaskQueue[]) => schedulesFor({ BILLING_RECONCILE_CRON: '30 3 * * *' }, queues).map((s) => s.scheduleId);
    expect(ids([TaskQueue.marketplace])).to.deep.equal(['marketplace-reconcile']);
    expect(ids([])).to.include('marketplace-reconcile');
    expect(ids([TaskQueue.billing, TaskQueue.gestation])).to.not.include('marketplace-reconcile');
  });
});
