// The spec reporter, plus one plain closing line ("N passed, N failed, N skipped") that
// CI and humans can read without knowing mocha's wording.
const Mocha = require('mocha');

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    // A machine problem (scripts/lib/environment-problem.ts) is one sentence saying what to
    // fix; its stack would only point at our start-up code.
    runner.on('fail', (_test, err) => {
      if (err && err.name === 'EnvironmentProblem') err.stack = `${err.name}: ${err.message}`;
    });
    runner.once('end', () => {
      const s = runner.stats;
      console.log(`${s.passes} passed, ${s.failures} failed, ${s.pending} skipped`);
    });
  }
}
module.exports = SpecWithSummary;
