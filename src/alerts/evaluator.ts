// Looks at the relay once a check and opens or resolves conditions (conditions.ts):
//   session.disconnected: a `disconnect` event read from the outbox (its reason quoted), resolved
//     by the session's next `ready`; events are read in seq order from a position kept in the
//     store, so a restart reads on where it stopped;
//   target.failing: a target the dispatcher sees failing for longer than the setting, resolved
//     once it answers again (or its backlog has drained);
//   target.dead_letters: more dead deliveries than at the last check, resolved when none are left
//     (replayed, discarded or purged);
//   relay.store: the store refusing writes. It cannot hold its own condition then: the channels
//     are told at once from memory, and the condition is written (told, then resolved) once the
//     store takes writes again.
import type { Logger } from 'pino'
import type { Clock } from '../shared/clock.ts'
import type { OutboxStore } from '../store/types.ts'
import { type BreakerSettings, createBreaker } from './breaker.ts'
import type { AlertMessage } from './messages.ts'
import { createRelayWatch, type RelayWatchDeps, type RelayWatchSettings } from './relay-watch.ts'
import { createSessionWatch, type SessionWatchSettings } from './session-watch.ts'

export interface EvaluatorSettings extends SessionWatchSettings, RelayWatchSettings {
  breaker: BreakerSettings
  /** A target failing this long opens target.failing. */
  targetFailingMs: number
}

export interface EvaluatorDeps {
  store: OutboxStore
  settings: EvaluatorSettings
  clock: Pick<Clock, 'now'>
  log: Logger
  failingTargets: () => readonly string[]
  /** Tells the channels without the store; true when one of them took it. */
  sendDirect: (message: AlertMessage) => Promise<boolean>
  targets: RelayWatchDeps['targets']
  streamConsumers: RelayWatchDeps['streamConsumers']
  registration: RelayWatchDeps['registration']
  /** Wakes the dispatcher for a target the breaker resumed. */
  wake: (target: string) => void
  /**
   * Events are read only once they are this old. On PostgreSQL a seq is taken before its
   * transaction commits, so a lower one can become visible after a higher one was read: reading
   * behind by more than a commit takes keeps the position from passing it. 0 on SQLite (one writer).
   */
  settleMs?: number
}

const EVENTS_PAGE = 500
/** The evaluator's position in the events, in the store's alert_state. */
const CURSOR = 'events.seq'
const DEAD_COUNTS = 'dead.counts'
/** Dead letters are counted at most this often: a count reads the deliveries table. */
const DEAD_CHECK_MS = 30_000
/** A reason longer than this is cut (it comes from an event). */
const MAX_DETAIL = 200

export function createEvaluator(deps: EvaluatorDeps) {
  const { store, settings, clock, log, failingTargets, sendDirect } = deps
  const settleMs = deps.settleMs ?? 0
  const sessionWatch = createSessionWatch(store, settings)
  const relayWatch = createRelayWatch({ ...deps })
  relayWatch.useClock(() => clock.now())
  const breaker = createBreaker(store, settings.breaker, deps.wake, () => clock.now())
  /** When this replica first saw each target failing. */
  const failingSince = new Map<string, number>()
  /** Events before this are not read on the very first start: old disconnects are history. */
  const startedAt = clock.now()
  let lastDeadCheck = Number.NEGATIVE_INFINITY
  /** The store refusing writes: since when, and whether the channels were told. */
  let storeDown: { since: number; toldAt: number | null; detail: string } | null = null

  async function sessions(): Promise<void> {
    const kept = await store.alertState(CURSOR)
    let cursor = kept === null ? null : Number(kept)
    for (;;) {
      const settled = settleMs > 0 ? { receivedBefore: clock.now() - settleMs } : {}
      const rows = await store.listEvents(
        cursor === null
          ? { receivedFrom: startedAt, limit: EVENTS_PAGE, ...settled }
          : { afterSeq: cursor, limit: EVENTS_PAGE, ...settled },
      )
      for (const row of rows) {
        await sessionWatch.seen(row, () => errorOf(row.key))
        if (row.action === 'disconnect') {
          await store.openAlert({
            condition: 'session.disconnected',
            subject: row.whatsappId,
            session: row.whatsappId,
            detail: await reasonOf(row.key),
            at: row.receivedAt,
          })
        } else if (row.action === 'ready') {
          await store.resolveAlert('session.disconnected', row.whatsappId, row.receivedAt)
        }
      }
      const last = rows.at(-1)
      if (last) {
        cursor = last.seq
        await store.setAlertState(CURSOR, String(cursor))
      } else if (cursor === null) {
        // Nothing since the start yet: the position is the start, kept as "before the next event".
        return
      }
      if (rows.length < EVENTS_PAGE) return
    }
  }

  async function reasonOf(key: string): Promise<string> {
    const event = await store.getEvent(key)
    if (!event) return ''
    try {
      const reason = (JSON.parse(event.body.toString('utf8')) as { event_data?: { reason?: unknown } })
        .event_data?.reason
      if (typeof reason !== 'string' || reason === '') return ''
      return `reason "${reason.length > MAX_DETAIL ? `${reason.slice(0, MAX_DETAIL)}…` : reason}"`
    } catch {
      return ''
    }
  }

  async function errorOf(key: string): Promise<string> {
    const event = await store.getEvent(key)
    if (!event) return ''
    try {
      const error = (JSON.parse(event.body.toString('utf8')) as { event_data?: { error?: unknown } })
        .event_data?.error
      if (error === undefined || error === null) return ''
      return typeof error === 'string' ? error : JSON.stringify(error)
    } catch {
      return ''
    }
  }

  async function targets(now: number): Promise<void> {
    const failing = new Set(failingTargets())
    for (const name of failing) if (!failingSince.has(name)) failingSince.set(name, now)
    for (const [name, since] of failingSince) {
      if (failing.has(name)) {
        if (now - since >= settings.targetFailingMs) {
          await store.openAlert({
            condition: 'target.failing',
            subject: name,
            session: null,
            detail: `failing since ${new Date(since).toISOString()}`,
            at: now,
          })
        }
      } else {
        failingSince.delete(name)
        await store.resolveAlert('target.failing', name, now)
      }
    }
    // Open, and not seen failing here (another replica's, or before a restart): resolved once its
    // backlog has drained, which a failing target's never does.
    const open = (await store.openAlerts()).filter((row) => row.condition === 'target.failing')
    if (open.some((row) => !failingSince.has(row.subject))) {
      const backlog = await store.backlog()
      for (const row of open) {
        if (!failingSince.has(row.subject) && !backlog.has(row.subject)) {
          await store.resolveAlert('target.failing', row.subject, now)
        }
      }
    }
  }

  async function deadLetters(now: number): Promise<void> {
    if (now - lastDeadCheck < DEAD_CHECK_MS) return
    lastDeadCheck = now
    // The dead deliveries' own index, not a count of every delivery by status.
    const counts = await store.deadLetters()
    const kept = await store.alertState(DEAD_COUNTS)
    const before = kept === null ? null : new Map(Object.entries(JSON.parse(kept) as Record<string, number>))
    if (before) {
      for (const [target, count] of counts) {
        const was = before.get(target) ?? 0
        if (count > was) {
          await store.openAlert({
            condition: 'target.dead_letters',
            subject: target,
            session: null,
            detail: `${count - was} new dead letter${count - was === 1 ? '' : 's'}, ${count} in all`,
            at: now,
          })
        }
      }
      for (const target of before.keys()) {
        if (!counts.has(target)) await store.resolveAlert('target.dead_letters', target, now)
      }
    }
    await store.setAlertState(DEAD_COUNTS, JSON.stringify(Object.fromEntries(counts)))
  }

  /** Throws on to the round when the store refuses writes, after telling the channels once. */
  async function storeHealth(now: number): Promise<void> {
    try {
      await store.ping()
    } catch (error) {
      const detail = error instanceof Error ? error.message.slice(0, MAX_DETAIL) : 'refused'
      storeDown ??= { since: now, toldAt: null, detail }
      if (storeDown.toldAt === null) {
        const item = {
          condition: 'relay.store',
          subject: '',
          session: null,
          detail: storeDown.detail,
          openedAt: storeDown.since,
          resolvedAt: null,
        }
        const told = await sendDirect({ kind: 'alert', at: now, opened: [item], resolved: [], reminded: [] })
        if (told) storeDown.toldAt = now
      }
      throw error
    }
    if (storeDown) {
      const down = storeDown
      // Written opened (and told, when a channel took it) and resolved: the resolution is told as
      // any other.
      await store.openAlert({
        condition: 'relay.store',
        subject: '',
        session: null,
        detail: down.detail,
        at: down.since,
        toldAt: down.toldAt,
      })
      await store.resolveAlert('relay.store', '', now)
      log.info({ since: new Date(down.since).toISOString() }, 'the store takes writes again')
      storeDown = null
    }
  }

  return {
    async check(): Promise<void> {
      const now = clock.now()
      await storeHealth(now)
      const open = await store.openAlerts()
      await sessionWatch.begin(open)
      await sessions()
      await sessionWatch.end(now)
      await targets(now)
      await breaker.check(now, failingSince)
      await deadLetters(now)
      await relayWatch.check(open, now)
    },
    refused: (reason: string) => relayWatch.refused(reason),
    attempted: breaker.attempted,
  }
}
