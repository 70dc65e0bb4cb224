// `npm run bench [-- ingest|pipeline|drivers|admin|stream|destinations|chaos|backlog|hostile|backup|
// replica-kill|power-loss|profile|all ...]`: runs the named benchmarks (default: ingest, then pipeline) and prints their markdown
// tables at the end, ready for the docs. The settings (environment variables) are listed in
// README.md beside this file.
import { spawnSync } from 'node:child_process'
import { cpus } from 'node:os'
import { admin } from './admin.ts'
import { backlog } from './backlog.ts'
import { backup } from './backup.ts'
import { chaos } from './chaos.ts'
import { destinations } from './destinations.ts'
import { installCleanup, killAllChildren, projectRoot } from './harness/process.ts'
import { hostile } from './hostile.ts'
import { ingest } from './ingest.ts'
import { pipeline } from './pipeline.ts'
import { powerLoss } from './power-loss.ts'
import { profile } from './profile.ts'
import { replicaKill } from './replica-kill.ts'
import { sqliteDrivers } from './sqlite-drivers.ts'
import { stream } from './stream.ts'

const BENCHMARKS = {
  ingest,
  pipeline,
  drivers: sqliteDrivers,
  admin,
  stream,
  destinations,
  chaos,
  backlog,
  hostile,
  backup,
  'replica-kill': replicaKill,
  'power-loss': powerLoss,
  profile,
}
type Name = keyof typeof BENCHMARKS
const NAMES = Object.keys(BENCHMARKS) as Name[]

function selected(argv: string[]): Name[] {
  if (argv.length === 0) return ['ingest', 'pipeline']
  if (argv.includes('all')) return NAMES
  const unknown = argv.filter((arg) => !NAMES.includes(arg as Name))
  if (unknown.length > 0)
    throw new Error(`unknown benchmark ${unknown.join(', ')}: use ${NAMES.join(', ')} or all`)
  return NAMES.filter((name) => argv.includes(name))
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
  const started = Date.now()
  const tables: string[] = []
  for (const name of selected(process.argv.slice(2))) tables.push(await BENCHMARKS[name]())
  const machine = `Node ${process.version}, ${cpus().length} cores, relay at ${revision()}`
  const elapsed = ((Date.now() - started) / 1000).toFixed(0)
  process.stdout.write(`\n${tables.join('\n\n')}\n\n_${machine}, ${elapsed} s in all._\n`)
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
