// What every chaos scenario shares: the sink, WhatsGate's load, the moments something was cut, the
// wait until the relay has delivered all it took, and the row of the table that comes out of it.
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import pg from 'pg'
import { startWhatsGateLoad, type WhatsGateLoad, type WhatsGateTally } from './chaos-load.ts'
import { type ChaosSink, startChaosSink } from './chaos-sink.ts'
import { eventKey } from './event.ts'
import type { IdSource } from './load.ts'
import { envNumber, nowMs, sleep } from './process.ts'
import { fmt } from './report.ts'

export interface ChaosSettings {
  kills: number
  rate: number
  seconds: number
  retryDelayMs: number
  drainSeconds: number
  pgCuts: number
  databaseUrl: string
  seed: number
}

export function chaosSettings(): ChaosSettings {
  return {
    kills: envNumber('BENCH_CHAOS_KILLS', 20),
    rate: envNumber('BENCH_CHAOS_RATE', 300),
    seconds: envNumber('BENCH_CHAOS_SECONDS', 20),
    retryDelayMs: envNumber('BENCH_CHAOS_RETRY_SECONDS', 3) * 1000,
    drainSeconds: envNumber('BENCH_CHAOS_DRAIN_SECONDS', 60),
    pgCuts: envNumber('BENCH_CHAOS_PG_CUTS', 5),
    databaseUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    seed: envNumber('BENCH_CHAOS_SEED', Math.floor(Math.random() * 2 ** 31) + 1),
  }
}

/** mulberry32: the kill moments and flap lengths of a run, repeatable with BENCH_CHAOS_SEED. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * The target every scenario gives the relay: a timeout the sink's stalls outlast, and a retry schedule
 * of seconds (the default's hours would outlast the bench), with attempts enough never to go dead.
 */
export const chaosTarget = (url: string) => ({
  type: 'http',
  url,
  timeoutMs: 2000,
  retry: { maxAttempts: 1000, initialDelayMs: 250, maxDelayMs: 2000 },
})

/** What the relay's outbox still has to do. */
export interface StoreState {
  pending: number
  leased: number
  dead: number
}

const STATE_SQL = `SELECT
  coalesce(sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,
  coalesce(sum(CASE WHEN lease_owner IS NOT NULL THEN 1 ELSE 0 END), 0) AS leased,
  coalesce(sum(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0) AS dead
FROM deliveries`

export function sqliteState(dataDir: string): () => Promise<StoreState> {
  return async () => {
    const db = new DatabaseSync(join(dataDir, 'relay.sqlite'), { readOnly: true })
    try {
      const row = db.prepare(STATE_SQL).get() ?? {}
      return { pending: Number(row.pending), leased: Number(row.leased), dead: Number(row.dead) }
    } finally {
      db.close()
    }
  }
}

export function postgresState(url: string): () => Promise<StoreState> {
  return async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const row = (await client.query(STATE_SQL)).rows[0] ?? {}
      return { pending: Number(row.pending), leased: Number(row.leased), dead: Number(row.dead) }
    } finally {
      await client.end()
    }
  }
}

/** A duplicate whose first 200 came this close before a cut (or shortly after) is a send the cut interrupted. */
const CUT_WINDOW_MS = { before: 2000, after: 500 }

export interface Outcome {
  scenario: string
  seconds: number
  tally: WhatsGateTally
  sink: ChaosSink
  cuts: number[]
  notes: string[]
  drain: { seconds: number; complete: boolean; state: StoreState | null }
}

/** One scenario's moving parts; `run` does the damage while the load goes on. */
export interface ChaosScenario {
  settings: ChaosSettings
  ids: IdSource
  random: () => number
  sink: ChaosSink
  /** nowMs() of each kill, connection cut, or the sink going down. */
  cuts: number[]
  notes: string[]
}

export async function runScenario(
  name: string,
  base: Omit<ChaosScenario, 'sink' | 'cuts' | 'notes'>,
  setUp: (scenario: ChaosScenario) => Promise<{
    url: () => string
    storeState: () => Promise<StoreState>
    run: () => Promise<void>
    tearDown: () => Promise<void>
  }>,
): Promise<Outcome> {
  const { settings } = base
  process.stderr.write(`chaos: ${name}\n`)
  const sink = await startChaosSink({ latencyMs: 10 })
  const scenario: ChaosScenario = { ...base, sink, cuts: [], notes: [] }
  let load: WhatsGateLoad | null = null
  try {
    const parts = await setUp(scenario)
    try {
      const started = nowMs()
      load = startWhatsGateLoad({
        rate: settings.rate,
        ids: base.ids,
        url: parts.url,
        retries: 3,
        retryDelayMs: settings.retryDelayMs,
        timeoutMs: 5000,
      })
      await parts.run()
      await sink.setMode('healthy')
      const running = load
      load = null
      await running.stop()
      const seconds = (nowMs() - started) / 1000
      const drain = await drainAll(running.tally, sink, parts.storeState, settings.drainSeconds)
      return {
        scenario: name,
        seconds,
        tally: running.tally,
        sink,
        cuts: scenario.cuts,
        notes: scenario.notes,
        drain,
      }
    } finally {
      await load?.stop().catch(() => undefined)
      await parts.tearDown()
    }
  } finally {
    await sink.close()
  }
}

/**
 * Waits until every acknowledged event has arrived and the outbox has nothing pending or leased (so no
 * duplicate is still on its way), bounded by `seconds`.
 */
async function drainAll(
  tally: WhatsGateTally,
  sink: ChaosSink,
  storeState: () => Promise<StoreState>,
  seconds: number,
): Promise<Outcome['drain']> {
  const started = nowMs()
  const deadline = started + seconds * 1000
  let state: StoreState | null = null
  for (;;) {
    const missing = [...tally.acked].some((id) => !sink.arrivals.has(eventKey(id)))
    state = await storeState().catch(() => null)
    const idle = state !== null && state.pending === 0 && state.leased === 0
    if ((!missing && idle) || nowMs() > deadline) {
      return { seconds: (nowMs() - started) / 1000, complete: !missing && idle, state }
    }
    await sleep(250)
  }
}

export const TABLE_HEADERS = [
  'scenario',
  'seconds',
  'sent',
  'acknowledged (200)',
  '503s / other answers',
  'delivered',
  'lost',
  'duplicated',
  'notes',
]

export function outcomeRow(outcome: Outcome): { row: string[]; lost: number } {
  const { tally, sink, cuts, drain } = outcome
  const lost = [...tally.acked].filter((id) => !sink.arrivals.has(eventKey(id))).length
  let duplicated = 0
  /** Duplicates not near a cut, with the distance to the nearest cut (ms, + when the cut came after). */
  const unexplained: number[] = []
  for (const arrival of sink.arrivals.values()) {
    if (arrival.count < 2) continue
    duplicated += arrival.count - 1
    const nearest = cuts.reduce(
      (best, at) => (Math.abs(at - arrival.firstAtMs) < Math.abs(best) ? at - arrival.firstAtMs : best),
      Number.POSITIVE_INFINITY,
    )
    if (nearest < -CUT_WINDOW_MS.after || nearest > CUT_WINDOW_MS.before) unexplained.push(nearest)
  }
  const ackedKeys = new Set([...tally.acked].map((id) => eventKey(id)))
  const unacked = [...sink.arrivals.keys()].filter((key) => !ackedKeys.has(key)).length
  const { refused, problems } = sink
  const notes = [
    ...outcome.notes,
    tally.noAnswer > 0 &&
      `requests without an answer: ${[...tally.noAnswerBy].map(([code, n]) => `${code} ${fmt.int(n)}`).join(', ')}`,
    tally.otherStatus > 0 && `${fmt.int(tally.otherStatus)} answers neither 200 nor 503`,
    `sink refused ${fmt.int(refused.error)} (500), ${fmt.int(refused.throttle)} (429), stalled ${fmt.int(refused.stall)}`,
    tally.gaveUp > 0 && `${fmt.int(tally.gaveUp)} events unacknowledged after 3 retries`,
    unacked > 0 && `${unacked} delivered though never acknowledged (stored, answer lost)`,
    duplicated > 0 &&
      (unexplained.length === 0
        ? 'each duplicate first arrived just before a cut'
        : `${unexplained.length} duplicated ids not near a cut (nearest cut ${unexplained
            .slice(0, 5)
            .map((ms) => (Number.isFinite(ms) ? `${ms > 0 ? '+' : ''}${(ms / 1000).toFixed(1)} s` : 'none'))
            .join(', ')})`),
    problems.alteredBodies > 0 && `${problems.alteredBodies} bodies not byte for byte the event`,
    problems.missingKey > 0 && `${problems.missingKey} deliveries without webhook-id`,
    tally.wrongAckIds > 0 && `${tally.wrongAckIds} 200s naming another id`,
    drain.complete
      ? `drained in ${drain.seconds.toFixed(1)} s`
      : `NOT drained after ${drain.seconds.toFixed(0)} s (outbox: ${JSON.stringify(drain.state)})`,
    drain.state && drain.state.dead > 0 && `${drain.state.dead} dead deliveries`,
  ].filter((note): note is string => typeof note === 'string' && note !== '')
  const row = [
    outcome.scenario,
    outcome.seconds.toFixed(0),
    fmt.int(tally.events),
    fmt.int(tally.acked.size),
    `${fmt.int(tally.unavailable)} / ${fmt.int(tally.otherStatus + tally.noAnswer)}`,
    fmt.int(sink.arrivals.size),
    fmt.int(lost),
    fmt.int(duplicated),
    notes.join('; '),
  ]
  return { row, lost }
}
