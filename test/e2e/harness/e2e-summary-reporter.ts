/**
 * A vitest reporter for `npm run e2e`: collects the measured figures the live tests print
 * (lines starting `e2e:` with "power-on", `e2e-result`, and any `<name>-result {json}` line)
 * and prints them again after vitest's own summary, so the run ends with the measured times.
 * Use it after the default reporter: `vitest run --reporter=default --reporter=./test/e2e/harness/e2e-summary-reporter.ts`.
 */
import type { Reporter, TestModule } from 'vitest/node'

const FIGURE = /^(e2e: power-on -> .*|[\w.-]+-result \{.*\})$/

export default class E2eSummaryReporter implements Reporter {
  private readonly figures: string[] = []

  onUserConsoleLog(log: { content: string }): void {
    for (const line of log.content.split('\n')) if (FIGURE.test(line.trim())) this.figures.push(line.trim())
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const failed = modules.filter((m) => m.state() === 'failed').length
    const lines = this.figures.length ? this.figures : ['(no live test printed a measured figure: each skipped, or failed before measuring)']
    process.stdout.write(`\nmeasured (${modules.length} files, ${failed} failed):\n${lines.map((l) => `  ${l}`).join('\n')}\n`)
  }
}
