import { expect } from 'chai';
import { testDatabase } from '../support/infra';
import { createOrm } from '../../entities/orm';

describe('database schema', () => {
  it('after every migration, matches the entities exactly (no entity change without a migration)', async function () {
    this.timeout(120_000);
    const db = await testDatabase();
    const orm = await createOrm({ databaseUrl: db.url });
    try {
      const pending = await orm.migrator.getPending();
      expect(pending.map((m) => m.name)).to.deep.equal([]);
      const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false });
      expect(diff.trim(), `entities differ from migrations:\n${diff}`).to.equal('');
    } finally {
      await orm.close();
    }
  });
});
