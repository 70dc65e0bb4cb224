// Chaos: the relay under a steady WhatsGate load while things break. Killed with SIGKILL again and
// again on one DATA_DIR; its target flapping (down, 500s, stalls, 429 with Retry-After); on
// PostgreSQL, its connections cut by pg_terminate_backend, and one of two replicas killed. Counts
// what WhatsGate was told (200s) against what reached the target: lost must be 0 everywhere, and a
// duplicate (the same webhook-id twice) may only come from a send that a cut interrupted.

import pg from 'pg'
import {
  type ChaosScenario,
  type ChaosSettings,
  chaosSettings,
  chaosTarget,
  type Outcome,
  outcomeRow,
  postgresState,
  runScenario,
  seededRandom,
  sqliteState,
  TABLE_HEADERS,
} from './harness/chaos-run.ts'
import type { SinkMode } from './harness/chaos-sink.ts'
import type { IdSource } from './harness/load.ts'
import { freshSchema } from './harness/postgres-schema.ts'
import { nowMs, sleep } from './harness/process.ts'
import { markdownTable } from './harness/report.ts'
import { type Relay, startRelay } from './harness/servers.ts'

type Base = Omit<ChaosScenario, 'sink' | 'cuts' | 'notes'>

/** SIGKILL, and the wait until the process is gone (its port closed, its file unlocked). */
async function kill9(relay: Relay): Promise<void> {
  process.kill(relay.child.pid, 'SIGKILL')
  while (!relay.child.hasExited()) await sleep(5)
}

const between = (random: () => number, low: number, high: number) => low + random() * (high - low)

/** (a) kill -9 at random moments, each time restarted on the same DATA_DIR (on a new port). */
function killScenario(base: Base): Promise<Outcome> {
  const { kills } = base.settings
  return runScenario(`SQLite, kill -9 ×${kills}`, base, async (s) => {
    const relays: Relay[] = [await startRelay({ target: chaosTarget(s.sink.url) })]
    const dataDir = (relays[0] as Relay).dataDir
    let current = relays[0] as Relay
    const downtimes: number[] = []
    return {
      url: () => current.url,
      storeState: sqliteState(dataDir),
      async run() {
        for (let i = 0; i < kills; i++) {
          await sleep(between(s.random, 1000, 3500))
          s.cuts.push(nowMs())
          await kill9(current)
          current = await startRelay({ target: chaosTarget(s.sink.url), dataDir })
          relays.push(current)
          downtimes.push(nowMs() - (s.cuts.at(-1) as number))
        }
        await sleep(2000)
        const mean = downtimes.reduce((a, b) => a + b, 0) / Math.max(1, downtimes.length)
        s.notes.push(`${kills} kills, down ${(mean / 1000).toFixed(1)} s each on average`)
      },
      tearDown: async () => {
        for (const relay of relays) await relay.child.stop(5000)
      },
    }
  })
}

/** Requests the sink has answered in `mode` so far (a closed port answers nothing it can count). */
function answeredIn(s: ChaosScenario, mode: SinkMode): number {
  if (mode === 'down') return Number.POSITIVE_INFINITY
  if (mode === 'healthy') return s.sink.arrivals.size
  return s.sink.refused[mode]
}

/** (b) The target cycles through down, 500s, stalls, 429 and healthy, each for a random while. */
function flapScenario(base: Base): Promise<Outcome> {
  const cycle: SinkMode[] = ['down', 'error', 'stall', 'throttle', 'healthy']
  return runScenario('SQLite, target flaps', base, async (s) => {
    const relay = await startRelay({ target: chaosTarget(s.sink.url) })
    return {
      url: () => relay.url,
      storeState: sqliteState(relay.dataDir),
      async run() {
        const end = nowMs() + base.settings.seconds * 1000
        let phases = 0
        await sleep(1000)
        while (nowMs() < end) {
          const mode = cycle[phases++ % cycle.length] as SinkMode
          if (mode === 'down') s.cuts.push(nowMs())
          await s.sink.setMode(mode)
          const before = answeredIn(s, mode)
          await sleep(between(s.random, 1500, 3500))
          // A relay backing off may not call during a short phase: it lasts until it has (up to 10 s).
          const longest = nowMs() + 10_000
          while (answeredIn(s, mode) < before + 2 && nowMs() < longest) await sleep(50)
        }
        s.notes.push(`${phases} phases (${cycle.join(', ')}; 429 with Retry-After: 1; relay timeout 2 s)`)
      },
      tearDown: () => relay.child.stop(5000),
    }
  })
}

/** Random moments within the run, sorted, away from its ends. */
function moments(random: () => number, count: number, seconds: number): number[] {
  return Array.from({ length: count }, () => between(random, 1000, seconds * 1000 - 1000)).sort(
    (a, b) => a - b,
  )
}

/** (c) One relay on PostgreSQL whose connections are terminated several times. */
function connectionCutScenario(base: Base): Promise<Outcome> {
  const { pgCuts, seconds } = base.settings
  return runScenario(`PostgreSQL, connections cut ×${pgCuts}`, base, async (s) => {
    const schema = await freshSchema(base.settings.databaseUrl)
    const relay = await startRelay({
      target: chaosTarget(s.sink.url),
      env: { DATABASE_URL: schema.url('relay') },
    }).catch(async (error) => {
      await schema.drop()
      throw error
    })
    return {
      url: () => relay.url,
      storeState: postgresState(schema.url()),
      async run() {
        const started = nowMs()
        let terminated = 0
        for (const at of moments(s.random, pgCuts, seconds)) {
          await sleep(Math.max(0, started + at - nowMs()))
          s.cuts.push(nowMs())
          terminated += await schema.cut()
        }
        await sleep(Math.max(0, started + seconds * 1000 - nowMs()))
        s.notes.push(`${pgCuts} cuts, ${terminated} connections terminated`)
      },
      tearDown: async () => {
        await relay.child.stop(5000)
        await schema.drop()
      },
    }
  })
}

/** (d) Two replicas on one PostgreSQL schema, the load alternating; one is killed and restarted. */
function replicaKillScenario(base: Base): Promise<Outcome> {
  const { seconds } = base.settings
  return runScenario('PostgreSQL, 2 replicas, one kill -9', base, async (s) => {
    const schema = await freshSchema(base.settings.databaseUrl)
    const start = (name: string) =>
      startRelay({ target: chaosTarget(s.sink.url), env: { DATABASE_URL: schema.url(name) } })
    const relays: Relay[] = []
    try {
      // One after the other: the first migrates the empty schema.
      relays.push(await start('a'))
      relays.push(await start('b'))
    } catch (error) {
      for (const relay of relays) await relay.child.stop(5000)
      await schema.drop()
      throw error
    }
    // A load balancer in front: each request, a retry too, goes to the next replica.
    const behind = [relays[0] as Relay, relays[1] as Relay]
    let turn = 0
    return {
      url: () => (behind[turn++ % 2] as Relay).url,
      storeState: postgresState(schema.url()),
      async run() {
        const started = nowMs()
        await sleep(between(s.random, 0.3, 0.5) * seconds * 1000)
        s.cuts.push(nowMs())
        await kill9(behind[1] as Relay)
        await sleep(1000)
        const restarted = await start('b2')
        relays.push(restarted)
        behind[1] = restarted
        const down = (nowMs() - (s.cuts.at(-1) as number)) / 1000
        await sleep(Math.max(0, started + seconds * 1000 - nowMs()))
        s.notes.push(`replica b killed, back after ${down.toFixed(1)} s`)
      },
      tearDown: async () => {
        for (const relay of relays) await relay.child.stop(5000)
        await schema.drop()
      },
    }
  })
}

/** Null when PostgreSQL answers; otherwise why not. */
async function postgresUnreachable(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return null
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => undefined)
  }
}

const redacted = (url: string) => url.replace(/\/\/[^@/]*@/, '//…@')

/** Runs the scenarios; gives the markdown. */
export async function chaos(): Promise<string> {
  const settings: ChaosSettings = chaosSettings()
  const ids: IdSource = { next: 1 }
  const rows: string[][] = []
  let lostInAll = 0
  const failures: string[] = []
  let index = 0
  const run = async (name: string, scenario: (base: Base) => Promise<Outcome>) => {
    // A random stream per scenario: one scenario's moments do not depend on how another went.
    const base: Base = { settings, ids, random: seededRandom(settings.seed + index++) }
    try {
      const { row, lost } = outcomeRow(await scenario(base))
      rows.push(row)
      lostInAll += lost
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      failures.push(`${name}: ${message}`)
      rows.push([name, ...Array(7).fill('-'), `FAILED: ${message.split('\n')[0]}`])
    }
  }
  await run('SQLite, kill -9', killScenario)
  await run('SQLite, target flaps', flapScenario)
  const unreachable = await postgresUnreachable(settings.databaseUrl)
  if (unreachable === null) {
    await run('PostgreSQL, connections cut', connectionCutScenario)
    await run('PostgreSQL, 2 replicas, one kill -9', replicaKillScenario)
  } else {
    const reason = `skipped: PostgreSQL not reachable at ${redacted(settings.databaseUrl)} (${unreachable}); set BENCH_DATABASE_URL`
    for (const name of ['PostgreSQL, connections cut', 'PostgreSQL, 2 replicas, one kill -9'])
      rows.push([name, ...Array(7).fill('-'), reason])
  }
  const verdict =
    failures.length > 0
      ? `FAIL: ${failures.length} scenario(s) did not run to the end`
      : lostInAll === 0
        ? 'PASS: 0 acknowledged events lost'
        : `FAIL: ${lostInAll} acknowledged events lost`
  return [
    `### Chaos (${settings.rate}/s of WhatsGate events, each retried up to 3 times ${settings.retryDelayMs / 1000} s apart ` +
      `until answered 200; seed ${settings.seed})`,
    '',
    markdownTable(TABLE_HEADERS, rows),
    '',
    `${verdict}. A duplicate is a second 200 at the target for one webhook-id (bodies checked byte for byte); ` +
      `"near a cut": its first copy arrived at most 2 s before a kill, a connection cut or the target going down. ` +
      `503s / other answers count requests, each attempt of an event once: answered 503 / answered otherwise or not at all. ` +
      `Drained: every acknowledged event arrived and the outbox has nothing pending or leased; on PostgreSQL a send ` +
      `whose outcome a cut or a kill kept from being recorded waits for its lease (2 × the 2 s timeout + 30 s) to go again.`,
    ...failures.map((failure) => `- ${failure}`),
  ].join('\n')
}
