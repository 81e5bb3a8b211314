import { createRequire } from 'node:module';

/**
 * Counts the SQL statements this process sends while `fn` runs and keeps their texts
 * (whitespace folded, 160 characters). pg's Client.query is what MikroORM and raw queries
 * both end in, so this sees every statement of an API running in this process.
 */
export async function countQueries(fn: () => Promise<void>): Promise<string[]> {
  // MikroORM's own copy of pg (node_modules/@mikro-orm/postgresql/node_modules/pg), not ours.
  const pg = createRequire(import.meta.resolve('@mikro-orm/postgresql'))('pg') as { Client: { prototype: { query: (...a: unknown[]) => unknown } } };
  const proto = pg.Client.prototype;
  const original = proto.query;
  const seen: string[] = [];
  proto.query = function (this: unknown, ...a: unknown[]) {
    const q = a[0] as string | { text?: string };
    seen.push((typeof q === 'string' ? q : (q?.text ?? String(q))).replace(/\s+/g, ' ').slice(0, 160));
    return original.apply(this, a);
  };
  try {
    await fn();
  } finally {
    proto.query = original;
  }
  return seen;
}
