import { writeFileSync } from 'node:fs';
import type { Reporter, SerializedError, TestModule } from 'vitest/node';

/**
 * Prints one plain closing line, "N passed, N failed[, N skipped]", after vitest's own summary,
 * so any CI can read the result without parsing vitest's coloured table.
 *
 * "failed" counts failed tests and also every error outside a test: a failed beforeAll/afterAll
 * hook, a file that failed to load, an unhandled error. Vitest 4 marks the tests of a suite whose
 * beforeAll failed as skipped (not failed) and keeps the hook's error on the suite, so counting
 * tests alone would read such a run as "0 failed". Each of those errors is named on a line
 * ("error outside a test: <file> > <suite>: <message>") just before the closing line, and so is each
 * failed test with its first error's first lines ("failed test: <file> > <test>: <message>"): a CI
 * that keeps only the tail of a long run still shows what failed and why.
 *
 * With TENANTCTL_TEST_SUMMARY_FILE set (scripts/test.mjs does), the same counts, those lines and
 * the files run are also written there as JSON.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError> = []): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const outside: string[] = [];
    // The message's first lines (a hook's own reason, e.g. the CLI's error, is usually there).
    const headOf = (error: SerializedError) => {
      const lines = String(error.message ?? error).split('\n').filter((l) => l.trim());
      return [...lines.slice(0, 6), ...(lines.length > 6 ? [`... (${lines.length - 6} more lines in vitest's report above)`] : [])].join('\n    ');
    };
    for (const module of testModules) {
      let failedHere = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') {
          counts.failed += 1;
          failedHere += 1;
          // Named at the end too: a CI that keeps only the tail of a long run still shows the cause.
          const first = test.result().errors?.[0];
          outside.push(`failed test: ${module.relativeModuleId} > ${test.fullName}${first ? `: ${headOf(first)}` : ''}`);
        } else counts.skipped += 1;
      }
      const suites = [{ where: module.relativeModuleId, errors: module.errors() }];
      for (const suite of module.children.allSuites()) suites.push({ where: `${module.relativeModuleId} > ${suite.fullName}`, errors: suite.errors() });
      for (const { where, errors } of suites) {
        for (const error of errors) {
          counts.failed += 1;
          failedHere += 1;
          outside.push(`error outside a test: ${where}: ${headOf(error)}`);
        }
      }
      // Whatever else made vitest call the file failed must not read as a pass either.
      if (module.state() === 'failed' && failedHere === 0) {
        counts.failed += 1;
        outside.push(`file failed: ${module.relativeModuleId}`);
      }
    }
    for (const error of unhandledErrors) {
      counts.failed += 1;
      outside.push(`unhandled error: ${headOf(error)}`);
    }
    // For scripts/test.mjs, which runs one vitest per file in lanes and adds their results up.
    const summaryFile = process.env.TENANTCTL_TEST_SUMMARY_FILE;
    if (summaryFile) writeFileSync(summaryFile, JSON.stringify({ ...counts, problems: outside, files: testModules.map((m) => m.relativeModuleId) }));
    const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : '';
    const lines = outside.length > 0 ? `\n${outside.join('\n')}` : '';
    process.stdout.write(`${lines}\n${counts.passed} passed, ${counts.failed} failed${skipped}\n`);
  }
}
