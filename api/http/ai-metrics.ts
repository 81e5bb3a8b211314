import { Gauge, type Registry } from 'prom-client';
import type { MikroORM } from '../../entities/orm';

/**
 * AI usage for Prometheus, read from the analyses table at scrape time: the AI calls happen in
 * the workers, so counters in this process would see none of them, and the table is the one
 * place every process writes. Cache hits are excluded (they cost nothing).
 */
export function registerAiMetrics(registry: Registry, orm: MikroORM) {
  type Row = { provider: string; model: string; input: string | null; output: string | null; cost: string | null; n: string; fallback: string };
  let last: { at: number; rows: Promise<Row[]> } | null = null;
  // One query per scrape, shared by the gauges below (each collect() asks for it).
  const usage = () => {
    if (!last || Date.now() - last.at > 1000) {
      const rows = orm.em
        .fork()
        .getConnection()
        .execute<Row[]>(
          `select provider, model, sum(input_tokens) as input, sum(output_tokens) as output, sum(estimated_cost_usd) as cost,
                  count(*) as n, count(*) filter (where fallback_used) as fallback
             from analyses where provider is not null and model is not null and cache_hit = false
            group by provider, model`,
        );
      last = { at: Date.now(), rows };
      rows.catch(() => (last = null));
    }
    return last.rows;
  };

  new Gauge({
    name: 'ai_tokens',
    help: 'Tokens sent to and received from AI providers by completed analyses, by provider, model and direction (input/output)',
    labelNames: ['provider', 'model', 'direction'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await usage()) {
        this.set({ provider: r.provider, model: r.model, direction: 'input' }, Number(r.input ?? 0));
        this.set({ provider: r.provider, model: r.model, direction: 'output' }, Number(r.output ?? 0));
      }
    },
  });
  new Gauge({
    name: 'ai_estimated_cost_usd',
    help: 'Estimated AI spend (USD) of completed analyses, by provider and model',
    labelNames: ['provider', 'model'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await usage()) this.set({ provider: r.provider, model: r.model }, Number(r.cost ?? 0));
    },
  });
  new Gauge({
    name: 'ai_analyses',
    help: 'Analyses answered by an AI provider (not the cache), by provider, model and whether the fallback answered',
    labelNames: ['provider', 'model', 'fallback'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await usage()) {
        this.set({ provider: r.provider, model: r.model, fallback: 'true' }, Number(r.fallback));
        this.set({ provider: r.provider, model: r.model, fallback: 'false' }, Number(r.n) - Number(r.fallback));
      }
    },
  });
  new Gauge({
    name: 'ai_fallback_ratio',
    help: 'Share of AI-answered analyses that needed the fallback provider (0..1)',
    registers: [registry],
    async collect() {
      const rows = await usage();
      const total = rows.reduce((s, r) => s + Number(r.n), 0);
      const fallback = rows.reduce((s, r) => s + Number(r.fallback), 0);
      this.set(total ? fallback / total : 0);
    },
  });
}
