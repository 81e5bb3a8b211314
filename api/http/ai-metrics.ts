import { Gauge, type Registry } from 'prom-client';
import type { MikroORM } from '../../entities/orm';

/**
 * AI usage for Prometheus. The AI calls happen in the workers, so counters in this process
 * would see none of them; the workers keep running totals per provider and model in
 * `ai_usage_totals` as they write (every provider answer, valid or not: recordProviderUsage;
 * every AI-answered analysis: countAnsweredAnalysis). A scrape reads those few rows — one
 * per provider and model — however many analyses there are, and never the analyses table.
 */
export const AI_METRICS_QUERY = `select provider, model, calls, input_tokens as input, output_tokens as output, estimated_cost_usd as cost,
        analyses as n, fallback_analyses as fallback
   from ai_usage_totals`;

export function registerAiMetrics(registry: Registry, orm: MikroORM) {
  type Row = { provider: string; model: string; calls: number; input: number; output: number; cost: number; n: number; fallback: number };
  let last: { at: number; rows: Promise<Row[]> } | null = null;
  // One query per scrape, shared by the gauges below (each collect() asks for it).
  const usage = () => {
    if (!last || Date.now() - last.at > 1000) {
      const rows = orm.em.fork().getConnection().execute<Row[]>(AI_METRICS_QUERY);
      last = { at: Date.now(), rows };
      rows.catch(() => (last = null));
    }
    return last.rows;
  };

  new Gauge({
    name: 'ai_tokens',
    help: 'Tokens sent to and received from AI providers by every call that answered (valid or not), by provider, model and direction (input/output)',
    labelNames: ['provider', 'model', 'direction'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await usage()) {
        this.set({ provider: r.provider, model: r.model, direction: 'input' }, Number(r.input));
        this.set({ provider: r.provider, model: r.model, direction: 'output' }, Number(r.output));
      }
    },
  });
  new Gauge({
    name: 'ai_estimated_cost_usd',
    help: 'Estimated AI spend (USD) of every provider call that answered, failed analyses included, by provider and model',
    labelNames: ['provider', 'model'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await usage()) this.set({ provider: r.provider, model: r.model }, Number(r.cost));
    },
  });
  new Gauge({
    name: 'ai_provider_calls',
    help: 'AI provider calls that answered (and were paid for), whether or not the answer passed validation, by provider and model',
    labelNames: ['provider', 'model'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await usage()) this.set({ provider: r.provider, model: r.model }, Number(r.calls));
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
      const total = rows.reduce((sum, r) => sum + Number(r.n), 0);
      const fallback = rows.reduce((sum, r) => sum + Number(r.fallback), 0);
      this.set(total ? fallback / total : 0);
    },
  });
}
