// `npm run bench [-- ingest|pipeline|drivers ...]`: runs the named benchmarks (default: ingest, then
// pipeline) and prints their markdown tables at the end, ready for the README.
//
// Environment: BENCH_SECONDS (per measured run, default 10), BENCH_WARMUP_SECONDS (3),
// BENCH_ROUNDS (ingest rounds per server, 2), BENCH_CONNECTIONS (50), BENCH_DRAIN_SECONDS (10),
// BENCH_LOW_RATE (events/s of the pipeline's low-rate run, 1000),
// BENCH_DRIVER_SECONDS (per driver and batch size, 3), BENCH_TMP (where data dirs go),
// BENCH_KEEP=1 (keep them), BENCH_RELAY_ENTRY (default src/main.ts), BENCH_TARGET (JSON merged
// into the sink's target, e.g. {"concurrency":64}), BENCH_IDLE_WAIT (s to wait for other load, 30),
// BETTER_SQLITE3_DIR / BETTER_SQLITE3_SPEC (where and which better-sqlite3 to install). See README.md.

import { spawnSync } from 'node:child_process'
import { cpus } from 'node:os'
import { formatIngest, runIngest } from './ingest.ts'
import { runPipeline } from './pipeline.ts'
import { formatPipeline } from './pipeline-report.ts'
import { formatDrivers, runDrivers } from './sqlite-drivers.ts'
import { envNumber, installCleanup, killAllChildren, projectRoot } from './support.ts'

const BENCHMARKS = ['ingest', 'pipeline', 'drivers'] as const
type Benchmark = (typeof BENCHMARKS)[number]

function selected(argv: string[]): Benchmark[] {
  if (argv.length === 0) return ['ingest', 'pipeline']
  if (argv.includes('all')) return [...BENCHMARKS]
  const unknown = argv.filter((arg) => !(BENCHMARKS as readonly string[]).includes(arg))
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')}: use ${BENCHMARKS.join(', ')} or all`)
  }
  return BENCHMARKS.filter((name) => argv.includes(name))
}

/** The commit measured, and whether src/ differed from it: figures belong to a version. */
function revision(): string {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: projectRoot, encoding: 'utf8' }).stdout?.trim() ?? ''
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown commit'
  return git('status', '--porcelain', '--', 'src') ? `${commit} + uncommitted changes in src/` : commit
}

async function main(): Promise<void> {
  installCleanup()
  const which = selected(process.argv.slice(2))
  const seconds = envNumber('BENCH_SECONDS', 10)
  const warmupSeconds = envNumber('BENCH_WARMUP_SECONDS', 3)
  const connections = envNumber('BENCH_CONNECTIONS', 50)
  const tables: string[] = []
  const started = Date.now()
  for (const name of which) {
    if (name === 'ingest') {
      const rounds = envNumber('BENCH_ROUNDS', 2)
      tables.push(formatIngest(await runIngest({ seconds, warmupSeconds, rounds, connections })))
    } else if (name === 'pipeline') {
      const drainSeconds = envNumber('BENCH_DRAIN_SECONDS', 10)
      const lowRate = envNumber('BENCH_LOW_RATE', 1000)
      tables.push(
        formatPipeline(await runPipeline({ seconds, warmupSeconds, connections, drainSeconds, lowRate })),
      )
    } else {
      tables.push(formatDrivers(await runDrivers({ seconds: envNumber('BENCH_DRIVER_SECONDS', 3) })))
    }
  }
  const machine = `Node ${process.version}, ${cpus().length} cores, relay at ${revision()}`
  process.stdout.write(
    `\n${tables.join('\n\n')}\n\n_${machine}, ${((Date.now() - started) / 1000).toFixed(0)} s in all._\n`,
  )
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    killAllChildren()
    process.exit(1)
  },
)
