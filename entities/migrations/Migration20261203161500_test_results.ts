import { Migration } from '@mikro-orm/migrations';

const word = `lower(btrim("details"->>'result', E' \\t\\r\\n.!'))`;
const list = (words: string[]) => words.map((w) => `'${w.replace(/'/g, "''")}'`).join(', ');

/**
 * Test records' `result` was free text; it is now negative | positive | inconclusive |
 * pending (only a negative Coggins is a certificate), `unknown` where the old text cannot be
 * read. Known wordings map (English and French, as typed on lab reports: "neg", "non-reactive",
 * "négatif"…); everything else, and no result at all, becomes `unknown`. The text as typed is
 * kept in `resultText` unless it was the bare word itself, so no record loses what it said.
 * Exported for the test that runs it on old-style rows (the migrator takes the class only).
 */
export const TEST_RESULTS_UP_SQL = `update "health_records" set "details" = ("details" - 'result')
  || jsonb_build_object('result', case
    when ${word} in (${list(['negative', 'neg', '-', 'non-reactive', 'nonreactive', 'non reactive', 'not reactive', 'not detected', 'non detected', 'négatif', 'negatif', 'négative', 'negative (agid)', 'negative (elisa)', 'clear'])}) then 'negative'
    when ${word} in (${list(['positive', 'pos', '+', 'reactive', 'detected', 'positif', 'positive (agid)', 'positive (elisa)'])}) then 'positive'
    when ${word} in (${list(['inconclusive', 'equivocal', 'indeterminate', 'suspect', 'suspicious', 'doubtful', 'douteux', 'non concluant'])}) then 'inconclusive'
    when ${word} in (${list(['pending', 'awaiting result', 'awaiting results', 'sent to lab', 'en attente', 'en cours'])}) then 'pending'
    else 'unknown' end)
  || case when jsonb_typeof("details"->'result') = 'string' and btrim("details"->>'result') <> '' and "details"->'resultText' is null
       and ${word} not in ('negative', 'positive', 'inconclusive', 'pending')
     then jsonb_build_object('resultText', "details"->>'result') else '{}'::jsonb end
where "kind" = 'test';`;

export class Migration20261203161500_test_results extends Migration {

  override name = 'Migration20261203161500_test_results';

  override up(): void | Promise<void> {
    this.addSql(TEST_RESULTS_UP_SQL);
  }

  override down(): void | Promise<void> {
    // Back to free text: the words as typed where they were kept, else the result's word (none for unknown).
    this.addSql(`update "health_records" set "details" = ("details" - 'result' - 'resultText')
  || case when "details"->>'resultText' is not null then jsonb_build_object('result', "details"->>'resultText')
          when "details"->>'result' in ('negative', 'positive', 'inconclusive', 'pending') then jsonb_build_object('result', "details"->>'result')
          else '{}'::jsonb end
where "kind" = 'test';`);
  }

}
