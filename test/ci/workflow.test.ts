// .github/workflows/ci.yml cannot run here; what can be checked is that GitHub would find what it
// names: the YAML parses, .ci/run is there and executable, and every server the tests need
// (test/support/brokers.ts, test/support/postgres.ts) is published on its port before .ci/run runs.
import { accessSync, constants, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { BROKERS } from '../support/brokers.ts'
import { DEFAULT_TEST_DATABASE_URL } from '../support/postgres.ts'
import { PROJECT_ROOT } from '../support/relay-process.ts'

interface Step {
  name?: string
  uses?: string
  run?: string
}
interface Job {
  'runs-on': string
  services?: Record<string, { image: string; ports?: string[] }>
  steps: Step[]
}

const workflow = parse(readFileSync(join(PROJECT_ROOT, '.github/workflows/ci.yml'), 'utf8')) as {
  jobs: Record<string, Job>
}

describe('the GitHub Actions workflow', () => {
  const job = workflow.jobs.test as Job

  it('runs .ci/run, a script of this repository, as its last step', () => {
    const run = job.steps.at(-1)?.run
    expect(run).toBe('./.ci/run')
    expect(() => accessSync(join(PROJECT_ROOT, '.ci/run'), constants.X_OK)).not.toThrow()
  })

  it('publishes PostgreSQL and every broker on the port the tests use', () => {
    const published = new Set<number>()
    for (const service of Object.values(job.services ?? {})) {
      for (const mapping of service.ports ?? []) published.add(Number(mapping.split(':')[0]))
    }
    const steps = job.steps.map((step) => step.run ?? '').join('\n')
    for (const [, port] of steps.matchAll(/docker run .*-p (\d+):\d+/g)) published.add(Number(port))
    const needed = [
      Number(new URL(DEFAULT_TEST_DATABASE_URL).port),
      ...Object.values(BROKERS).map((b) => b.port),
    ]
    const byNumber = (a: number, b: number) => a - b
    expect([...published].sort(byNumber)).toEqual(needed.sort(byNumber))
  })

  it('starts NATS with JetStream', () => {
    const steps = job.steps.map((step) => step.run ?? '').join('\n')
    expect(steps).toMatch(/docker run [^\n]*nats[^\n]* -js\b/)
  })
})
