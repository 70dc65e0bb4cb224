// One power-loss run (bench/power-loss.ts, and test/store/power-loss.test.ts in short): the relay on
// SQLite with DATA_DIR on power-loss-fs.py, WhatsGate's load, and again and again: the power cut
// (unsynced writes dropped; in turn, all of them, all but a torn prefix of the latest, or all but a
// random half of the pages of durable files, as a disk writing back its cache in any order), the
// relay killed with SIGKILL,
// the file system mounted again, the store inspected as the machine left it (it opens,
// `PRAGMA integrity_check` is ok, every event answered 200 so far is in it), the relay restarted on
// it. At the end, every acknowledged event must reach the target.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { startWhatsGateLoad, type WhatsGateLoad } from './harness/chaos-load.ts'
import { chaosTarget, seededRandom, sqliteState } from './harness/chaos-run.ts'
import { type ChaosSink, startChaosSink } from './harness/chaos-sink.ts'
import { eventKey, idFromKey } from './harness/event.ts'
import { nowMs, sleep } from './harness/process.ts'
import { type Relay, startRelay } from './harness/servers.ts'
import { type CutKind, mountPowerLossFs } from './power-loss-mount.ts'

export interface PowerLossSettings {
  /** A folder of its own for the file system (backing and mount point). */
  root: string
  cuts: number
  /** Events per second. */
  rate: number
  /** A cut comes this long after the relay is up (a random moment between the two, ms). */
  gapMs: [number, number]
  /** SQLITE_WAL_AUTOCHECKPOINT: small, so that checkpoints and WAL restarts are among the moments cut. */
  walAutocheckpoint: number
  /** UNSAFE_NO_SYNC_FOR_BENCH: the setting the store does not use, to show that a loss is seen. */
  unsafe: boolean
  seed: number
  /** How long the end waits for every acknowledged event to arrive. */
  drainSeconds: number
  /** Progress lines. */
  say?: (line: string) => void
}

export interface PowerLossOutcome {
  cuts: number
  /** Cuts that tore the latest write, and cuts that let a random half of the unsynced pages land. */
  torn: number
  partial: number
  /** Syncs of relay.sqlite seen by the file system: SQLite syncs it at each checkpoint. */
  checkpoints: number
  sent: number
  acknowledged: number
  /** Acknowledged events missing from the store after a cut, or never delivered. */
  lost: number
  /** Of those, missing from the store after a cut. */
  missingAfterCut: number
  /** Deliveries beyond the first of one event. */
  duplicated: number
  /** Stores that did not open, or whose integrity_check was not ok. */
  corrupt: number
  /** Restarts that failed (the run stops at the first). */
  failedStarts: number
  /**
   * Cuts after which the admin token the relay made at its first start (kept in DATA_DIR, written
   * and synced with its folder) was gone or another: what was handed out must survive too.
   */
  secretsChanged: number
  seconds: number
  notes: string[]
}

export interface StoreInspection {
  /** missing: no relay.sqlite; empty: a file without the outbox's tables (its schema never synced). */
  state: 'ok' | 'missing' | 'empty' | 'corrupt'
  detail: string
  ids: Set<number>
}

/**
 * The store as the machine left it: does it open, is it whole, which events does it hold. Read-only,
 * so that the relay's start recovers the WAL itself, unless a hot rollback journal (left by the
 * unsafe setting) needs a writer to roll it back, as the relay's start would.
 */
export function inspectStore(dataDir: string): StoreInspection {
  const file = join(dataDir, 'relay.sqlite')
  if (!existsSync(file)) return { state: 'missing', detail: 'no relay.sqlite', ids: new Set() }
  try {
    return inspect(file, true)
  } catch (error) {
    if (!/readonly database/.test((error as Error).message)) {
      return { state: 'corrupt', detail: (error as Error).message, ids: new Set() }
    }
  }
  try {
    return inspect(file, false)
  } catch (error) {
    return { state: 'corrupt', detail: (error as Error).message, ids: new Set() }
  }
}

function inspect(file: string, readOnly: boolean): StoreInspection {
  let db: DatabaseSync | null = null
  try {
    db = new DatabaseSync(file, { readOnly })
    const check = db.prepare('PRAGMA integrity_check').all()
    const verdict = check.map((row) => String(row.integrity_check)).join('; ')
    if (verdict !== 'ok') return { state: 'corrupt', detail: verdict.slice(0, 300), ids: new Set() }
    const ids = new Set<number>()
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'events'").get()
    if (Number(tables?.n) === 0) return { state: 'empty', detail: 'no events table', ids }
    for (const row of db.prepare('SELECT key FROM events').iterate()) ids.add(idFromKey(String(row.key)))
    return { state: 'ok', detail: 'ok', ids }
  } finally {
    db?.close()
  }
}

/** SIGKILL, and the wait until the process is gone. */
async function kill9(relay: Relay): Promise<void> {
  if (!relay.child.hasExited()) process.kill(relay.child.pid, 'SIGKILL')
  while (!relay.child.hasExited()) await sleep(5)
}

/** Waits until `acked` holds more than `count` ids (or `ms` pass): each cut has something at stake. */
async function newAck(load: WhatsGateLoad, count: number, ms: number): Promise<void> {
  const deadline = nowMs() + ms
  while (load.tally.acked.size <= count && nowMs() < deadline) await sleep(10)
}

export async function runPowerLoss(settings: PowerLossSettings): Promise<PowerLossOutcome> {
  const say = settings.say ?? (() => undefined)
  const random = seededRandom(settings.seed)
  const started = nowMs()
  const notes: string[] = []
  const outcome = {
    torn: 0,
    partial: 0,
    checkpoints: 0,
    corrupt: 0,
    failedStarts: 0,
    secretsChanged: 0,
    cuts: 0,
  }
  const missing = new Set<number>()
  /** From each cut until the relay answers again. */
  const downMs: number[] = []
  const sink: ChaosSink = await startChaosSink({ latencyMs: 10, random })
  const mount = await mountPowerLossFs(settings.root).catch(async (error) => {
    await sink.close()
    throw error
  })
  const env: NodeJS.ProcessEnv = { SQLITE_WAL_AUTOCHECKPOINT: String(settings.walAutocheckpoint) }
  if (settings.unsafe) env.UNSAFE_NO_SYNC_FOR_BENCH = 'lose-acknowledged-events'
  const start = () => startRelay({ target: chaosTarget(sink.url), dataDir: mount.mountpoint, env })
  let relay: Relay | null = null
  let load: WhatsGateLoad | null = null
  try {
    relay = await start()
    let url = relay.url
    const adminToken = readFileSync(join(mount.mountpoint, 'admin-token'), 'utf8')
    load = startWhatsGateLoad({
      rate: settings.rate,
      ids: { next: 1 },
      url: () => url,
      // A restart takes seconds on a busy machine; WhatsGate retries too (20 s apart there).
      retries: 10,
      retryDelayMs: 1000,
      timeoutMs: 5000,
    })
    for (let i = 0; i < settings.cuts; i++) {
      const [low, high] = settings.gapMs
      const before = load.tally.acked.size
      await sleep(low + random() * (high - low))
      await newAck(load, before, 20_000)
      const how = (['drop', 'torn', 'partial'] as const)[i % 3] as CutKind
      const cutAt = nowMs()
      const said = await mount.cut(how)
      await kill9(relay)
      const acked = [...load.tally.acked]
      outcome.cuts++
      if (said.includes('torn:')) outcome.torn++
      if (how === 'partial') outcome.partial++
      outcome.checkpoints += Number(/[ ,]relay\.sqlite=(\d+)/.exec(said)?.[1] ?? 0)
      await mount.remount()
      const found = inspectStore(mount.mountpoint)
      const token = existsSync(join(mount.mountpoint, 'admin-token'))
        ? readFileSync(join(mount.mountpoint, 'admin-token'), 'utf8')
        : null
      if (token !== adminToken) {
        outcome.secretsChanged++
        notes.push(`cut ${i + 1}: the admin token kept in DATA_DIR is ${token === null ? 'gone' : 'another'}`)
      }
      if (found.state === 'corrupt') {
        outcome.corrupt++
        notes.push(`cut ${i + 1}: store corrupt (${found.detail})`)
      }
      const lostNow = acked.filter((id) => !found.ids.has(id) && !missing.has(id))
      for (const id of lostNow) missing.add(id)
      say(
        `cut ${i + 1}/${settings.cuts} (${how}): ${acked.length} acknowledged so far, store ${found.state}, ${lostNow.length} newly missing; ${said}`,
      )
      try {
        relay = await start()
        url = relay.url
        downMs.push(nowMs() - cutAt)
      } catch (error) {
        outcome.failedStarts++
        notes.push(`cut ${i + 1}: the relay did not start again: ${(error as Error).message.slice(0, 400)}`)
        relay = null
        break
      }
    }
    const running = load
    load = null
    await running.stop()
    const { tally } = running
    const drain = relay
      ? await drained(tally.acked, missing, sink, mount.mountpoint, settings.drainSeconds)
      : 0
    if (relay) {
      const last = inspectStore(mount.mountpoint)
      if (last.state === 'corrupt') {
        outcome.corrupt++
        notes.push(`at the end: store corrupt (${last.detail})`)
      }
    }
    const undelivered = [...tally.acked].filter((id) => !sink.arrivals.has(eventKey(id)))
    const lost = new Set([...missing, ...undelivered])
    let duplicated = 0
    for (const arrival of sink.arrivals.values()) duplicated += arrival.count - 1
    if (drain >= 0) notes.push(`drained in ${drain.toFixed(1)} s`)
    else notes.push(`not drained within ${settings.drainSeconds} s`)
    const meanDown = downMs.reduce((a, b) => a + b, 0) / Math.max(1, downMs.length) / 1000
    notes.push(`down ${meanDown.toFixed(1)} s a cut on average (cut, kill, remount, check, restart)`)
    const why = [...tally.noAnswerBy].map(([code, n]) => `${code} ${n}`).join(', ')
    notes.push(`requests answered 503: ${tally.unavailable}, not answered: ${tally.noAnswer} (${why})`)
    if (tally.gaveUp > 0) notes.push(`${tally.gaveUp} events unacknowledged after 10 retries`)
    if (missing.size > 0) notes.push(`first missing ids: ${[...missing].slice(0, 5).join(', ')}`)
    return {
      ...outcome,
      sent: tally.events,
      acknowledged: tally.acked.size,
      lost: lost.size,
      missingAfterCut: missing.size,
      duplicated,
      seconds: (nowMs() - started) / 1000,
      notes,
    }
  } finally {
    await load?.stop().catch(() => undefined)
    if (relay) await relay.child.stop(5000)
    await mount.close()
    await sink.close()
  }
}

/**
 * Seconds until every acknowledged event (but those already missing from the store) has arrived and
 * the outbox has nothing pending or leased; -1 after `seconds`.
 */
async function drained(
  acked: Set<number>,
  missing: Set<number>,
  sink: ChaosSink,
  dataDir: string,
  seconds: number,
): Promise<number> {
  const started = nowMs()
  const state = sqliteState(dataDir)
  while (nowMs() - started < seconds * 1000) {
    const waiting = [...acked].some((id) => !missing.has(id) && !sink.arrivals.has(eventKey(id)))
    const outbox = await state().catch(() => null)
    if (!waiting && outbox && outbox.pending === 0 && outbox.leased === 0) return (nowMs() - started) / 1000
    await sleep(250)
  }
  return -1
}
