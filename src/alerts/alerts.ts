// The alerts loop: every check it looks at the relay (evaluator.ts), tells what is due (one message
// per channel for all that opened together, one when each resolves, a reminder at the interval),
// and delivers the channels' queued messages, one at a time per channel, in order, with retries.
// Everything it has to remember is in the store, so a restart neither forgets nor repeats.
import type { Logger } from 'pino'
import type { HttpSender } from '../delivery/http-sender.ts'
import type { Clock } from '../shared/clock.ts'
import type { OutboxStore } from '../store/types.ts'
import { type ChannelSender, createChannelSender } from './channel-send.ts'
import type { AlertChannel } from './channels.ts'
import { createEvaluator, type EvaluatorDeps, type EvaluatorSettings } from './evaluator.ts'
import { type AlertMessage, composeMessages, testMessages } from './messages.ts'
import { isQuiet } from './quiet-hours.ts'

export interface AlertSettings extends EvaluatorSettings {
  channels: readonly AlertChannel[]
  /** An open condition is told again this long after it was last told. */
  reminderMs: number
  /** Conditions opening within this long of the first go in one message. */
  groupWindowMs: number
}

export interface AlertsDeps {
  store: OutboxStore
  settings: AlertSettings
  clock: Clock
  log: Logger
  http: HttpSender
  /** The targets this replica's dispatcher sees failing. */
  failingTargets: () => readonly string[]
  targets: EvaluatorDeps['targets']
  streamConsumers: EvaluatorDeps['streamConsumers']
  registration: EvaluatorDeps['registration']
  wake: EvaluatorDeps['wake']
  settleMs?: EvaluatorDeps['settleMs']
  /** Between checks (5 s). */
  checkIntervalMs?: number
}

/** Between checks, unless told otherwise. */
export const CHECK_INTERVAL_MS = 5_000
/** A channel's failed attempts before the others are told it fails. */
export const CHANNEL_FAILING_AFTER = 3
/** Delivered messages and told resolutions are kept this long (GET /admin/alerts shows a day). */
const KEPT_MS = 30 * 24 * 3_600_000
const PURGE_EVERY_MS = 3_600_000
/** How long a claimed message is held by the replica sending it: past a send's timeout. */
const LEASE_MS = 30_000

/** Between attempts of a message: 5 s doubling to 5 minutes. */
export function retryDelay(attempts: number): number {
  return Math.min(5_000 * 2 ** Math.max(0, attempts - 1), 300_000)
}

export function createAlerts(deps: AlertsDeps) {
  const { store, settings, clock, log } = deps
  const checkIntervalMs = deps.checkIntervalMs ?? CHECK_INTERVAL_MS
  const channels = settings.channels
  const sender: ChannelSender = createChannelSender(deps.http)
  const evaluator = createEvaluator({
    store,
    settings,
    clock,
    log,
    failingTargets: deps.failingTargets,
    sendDirect: (message) => sendDirect(message),
    targets: deps.targets,
    streamConsumers: deps.streamConsumers,
    registration: deps.registration,
    wake: deps.wake,
    settleMs: deps.settleMs,
  })
  let running: Promise<void> | null = null
  let again = false
  let cancel: (() => void) | null = null
  let stopped = true
  let lastPurge = Number.NEGATIVE_INFINITY

  async function tell(): Promise<number> {
    const now = clock.now()
    return store.tellAlerts(
      { now, groupWindowMs: settings.groupWindowMs, reminderMs: settings.reminderMs },
      (notices) => composeMessages(channels, notices, now),
    )
  }

  async function deliverChannel(channel: AlertChannel): Promise<void> {
    for (;;) {
      const now = clock.now()
      if (channel.quiet && isQuiet(channel.quiet, now)) return
      const row = await store.claimAlertMessage(channel.name, now, LEASE_MS)
      if (!row) return
      const message = JSON.parse(row.body) as AlertMessage
      const result = await sender.send(channel, row.id, message, now)
      const after = clock.now()
      if (result.ok) {
        await store.finishAlertMessage(row.id, { delivered: true }, after)
        await store.resolveAlert('alert.channel_failing', channel.name, after)
        continue
      }
      const attempts = row.attempts + 1
      log.warn(
        { channel: channel.name, attempts, error: result.error },
        'alert channel failed; retrying later',
      )
      await store.finishAlertMessage(
        row.id,
        { retryAt: after + retryDelay(attempts), error: result.error ?? 'failed' },
        after,
      )
      if (attempts >= CHANNEL_FAILING_AFTER) {
        await store.openAlert({
          condition: 'alert.channel_failing',
          subject: channel.name,
          session: null,
          detail: result.error ?? 'failed',
          at: after,
        })
      }
      return
    }
  }

  /** The store refuses writes: tell every channel now, from memory (evaluator.ts says when). */
  async function sendDirect(message: AlertMessage): Promise<boolean> {
    const results = await Promise.all(
      channels.map((channel) => sender.send(channel, 0, message, clock.now()).catch(() => ({ ok: false }))),
    )
    return results.some((result) => result.ok)
  }

  /** One round: look, tell, deliver. Rounds never overlap; one asked for meanwhile runs after. */
  function tick(): Promise<void> {
    if (running) {
      again = true
      return running
    }
    running = (async () => {
      do {
        again = false
        try {
          await evaluator.check()
          if (channels.length > 0) {
            await tell()
            await Promise.all(channels.map((channel) => deliverChannel(channel)))
          }
          if (clock.now() - lastPurge >= PURGE_EVERY_MS) {
            lastPurge = clock.now()
            await store.purgeAlerts(lastPurge - KEPT_MS)
          }
          log.debug('alerts round done')
        } catch (error) {
          // The store refusing writes is a condition of its own (evaluator.ts); the next round tries again.
          log.warn({ err: error }, 'alerts round failed')
        }
      } while (again)
    })().finally(() => {
      running = null
    })
    return running
  }

  function schedule(): void {
    if (stopped) return
    cancel = clock.setTimer(() => {
      void tick().finally(schedule)
    }, checkIntervalMs)
  }

  return {
    name: 'alerts',
    channels,
    tick,
    /** A webhook request refused (ingest/refusals.ts), for relay.refusals. */
    refused: (reason: string) => evaluator.refused(reason),
    /** A delivery attempt's outcome (the dispatcher's onAttempt), for the circuit breaker's probes. */
    attempted: evaluator.attempted,
    /** A test message to every channel, queued as any other; resolves once queued. */
    async test(): Promise<number> {
      await store.queueAlertMessages(testMessages(channels, clock.now()), clock.now())
      void tick()
      return channels.length
    },
    async start() {
      // What a process killed mid-send held is due again at once (SQLite; PostgreSQL's leases run out).
      await store
        .recoverAlertLeases()
        .catch((error: unknown) => log.warn({ err: error }, 'alert leases not recovered'))
      stopped = false
      schedule()
    },
    async stop() {
      stopped = true
      cancel?.()
      await running
      await sender.close()
      await deps.http.close()
    },
  }
}

export type Alerts = ReturnType<typeof createAlerts>
