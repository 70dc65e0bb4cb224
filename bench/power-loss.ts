// Power loss: the relay on SQLite with DATA_DIR on a file system that keeps every write in memory
// until it is synced (power-loss-fs.py), cut at random moments under WhatsGate's load
// (power-loss-run.ts says what each cut checks). Two runs: the store as it is, which must lose
// nothing and never be corrupt, and the setting it does not use (synchronous=OFF, no WAL sync),
// which must lose events: a bench that sees no loss there could not see one at all.

import { seededRandom } from './harness/chaos-run.ts'
import { envNumber, makeTempDir } from './harness/process.ts'
import { fmt, markdownTable } from './harness/report.ts'
import { powerLossFsUnavailable } from './power-loss-mount.ts'
import { type PowerLossOutcome, runPowerLoss } from './power-loss-run.ts'

const HEADERS = [
  'store',
  'cuts (torn, partial)',
  'checkpoints',
  'sent',
  'acknowledged (200)',
  'lost',
  'duplicated',
  'corrupt stores',
  'seconds',
  'notes',
]

/** Runs the benchmark; gives its markdown. */
export async function powerLoss(): Promise<string> {
  const unavailable = powerLossFsUnavailable()
  if (unavailable) return `### Power loss\n\nskipped: ${unavailable}`
  const cuts = envNumber('BENCH_POWER_CUTS', 50)
  const unsafeCuts = envNumber('BENCH_POWER_UNSAFE_CUTS', 10)
  const rate = envNumber('BENCH_POWER_RATE', 100)
  const walAutocheckpoint = envNumber('BENCH_POWER_WAL_PAGES', 64)
  const seed = envNumber('BENCH_POWER_SEED', Math.floor(seededRandom(Date.now())() * 2 ** 31) + 1)
  const runs: [string, boolean, number][] = [
    ['SQLite as shipped (synchronous=NORMAL + WAL fdatasync)', false, cuts],
    ['unsafe: synchronous=OFF, no WAL sync', true, unsafeCuts],
  ]
  const rows: string[][] = []
  const outcomes: PowerLossOutcome[] = []
  for (const [name, unsafe, count] of runs) {
    process.stderr.write(`power-loss: ${name}, ${count} cuts\n`)
    const outcome = await runPowerLoss({
      root: makeTempDir('power-loss'),
      cuts: count,
      rate,
      gapMs: [1000, 3000],
      walAutocheckpoint,
      unsafe,
      seed,
      drainSeconds: 60,
      say: (line) => process.stderr.write(`  ${line}\n`),
    })
    outcomes.push(outcome)
    rows.push([
      name,
      `${outcome.cuts} (${outcome.torn}, ${outcome.partial})`,
      fmt.int(outcome.checkpoints),
      fmt.int(outcome.sent),
      fmt.int(outcome.acknowledged),
      `${fmt.int(outcome.lost)}${outcome.missingAfterCut ? ` (${fmt.int(outcome.missingAfterCut)} gone from the store after a cut)` : ''}`,
      fmt.int(outcome.duplicated),
      fmt.int(outcome.corrupt),
      outcome.seconds.toFixed(0),
      [...outcome.notes, outcome.failedStarts ? `${outcome.failedStarts} failed restarts` : '']
        .filter(Boolean)
        .join('; '),
    ])
  }
  const [safe, unsafe] = outcomes as [PowerLossOutcome, PowerLossOutcome]
  const safeOk =
    safe.lost === 0 &&
    safe.corrupt === 0 &&
    safe.failedStarts === 0 &&
    safe.secretsChanged === 0 &&
    safe.cuts === cuts
  const verdict = [
    safeOk
      ? 'PASS: as shipped, 0 acknowledged events lost, 0 corrupt stores, the kept admin token unchanged'
      : `FAIL: as shipped, ${safe.lost} acknowledged events lost, ${safe.corrupt} corrupt stores, ${safe.failedStarts} failed restarts, ${safe.secretsChanged} cuts that changed the kept admin token`,
    unsafe.lost > 0
      ? `the unsafe setting lost ${unsafe.lost} of ${unsafe.acknowledged}: the bench sees a loss`
      : 'FAIL: the unsafe setting lost nothing, so the bench cannot see a loss',
  ].join('; ')
  return [
    `### Power loss (${rate}/s of WhatsGate events, each retried up to 10 times 1 s apart until answered 200; ` +
      `SQLITE_WAL_AUTOCHECKPOINT=${walAutocheckpoint}; seed ${seed})`,
    '',
    markdownTable(HEADERS, rows),
    '',
    `${verdict}. Each cut: the power fails (every write not yet synced is dropped; in turn, the latest ` +
      'first reaches the disk in part (torn), or a random half of the unsynced pages of files whose ' +
      'names are durable do (partial)), the relay is killed with SIGKILL, the file system is ' +
      'mounted again, and the store is checked as left: it opens, `PRAGMA integrity_check` is ok, and ' +
      'every event answered 200 so far is in it, and the admin token made at the first start is unchanged; then the relay restarts on it. Lost: acknowledged, then ' +
      'missing from the store after a cut or never delivered. Checkpoints: syncs of relay.sqlite, which ' +
      'SQLite makes at each one. A duplicate is a send whose recorded outcome the cut undid (at-least-once).',
  ].join('\n')
}
