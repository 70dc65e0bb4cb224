// The delivery loop: claim due deliveries per target (a lease), send them, record each outcome.
// Woken at once by new events; a timer covers retries that come due later. Each target has its
// own slots, so a slow or dead target never takes another one's turn.
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Target } from '../config/index.ts'
import type { ClaimedDelivery, DeliveryStore } from '../store/types.ts'
import type { HttpSender } from './http-sender.ts'
import { decide, parseRetryAfter } from './retry-policy.ts'
import { signWebhook } from './standard-webhooks.ts'

export interface DispatcherDeps {
  store: DeliveryStore
  targets: readonly Target[]
  sender: HttpSender
  log: Logger
  now?: () => number
  random?: () => number
  /** Upper bound on how long a target waits before looking for due work again. */
  pollIntervalMs?: number
  /** How long a claim is held beyond the target's timeout before it may be taken again. */
  leaseMarginMs?: number
  /** Rewrites the body for a target that asked for it (inline media); the default sends it as stored. */
  prepareBody?: (target: Target, delivery: ClaimedDelivery) => Promise<Buffer>
  /** Told the outcome of every attempt (metrics). */
  onAttempt?: (target: string, outcome: 'delivered' | 'retry' | 'dead', durationMs: number) => void
}

export interface Dispatcher {
  readonly name: 'dispatcher'
  start(): void
  /** Wakes the targets that may have new work. */
  notify(targetNames?: Iterable<string>): void
  /** Stops claiming, waits up to `timeoutMs` for sends in flight, then gives back their leases. */
  stop(timeoutMs: number): Promise<void>
}

interface Lane {
  target: Target
  inFlight: Map<number, Promise<void>>
  /** Claimed, not yet sent. */
  queue: ClaimedDelivery[]
  pumping: boolean
  again: boolean
  timer: NodeJS.Timeout | null
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { store, sender, log } = deps
  const now = deps.now ?? Date.now
  const random = deps.random ?? Math.random
  const pollIntervalMs = deps.pollIntervalMs ?? 1000
  const leaseMarginMs = deps.leaseMarginMs ?? 30_000
  const prepareBody = deps.prepareBody ?? (async (_target, delivery) => delivery.body)
  const owner = randomUUID()
  const lanes = new Map(
    deps.targets.map((target) => [
      target.name,
      { target, inFlight: new Map(), queue: [], pumping: false, again: false, timer: null } as Lane,
    ]),
  )
  let running = false
  const abandoned = new Set<number>()

  async function pump(lane: Lane): Promise<void> {
    if (lane.pumping) {
      lane.again = true
      return
    }
    lane.pumping = true
    try {
      do {
        lane.again = false
        await claimAndSend(lane)
      } while (lane.again && running)
    } finally {
      lane.pumping = false
    }
  }

  // Claims run ahead of the free slots: up to one round of deliveries waits in memory (bounded by
  // the target's concurrency, never by its backlog), so a freed slot starts the next send at once
  // and claims come in batches instead of one commit per delivery.
  async function claimAndSend(lane: Lane): Promise<void> {
    const { target } = lane
    while (running) {
      startSends(lane)
      if (lane.queue.length > target.concurrency / 2) return // a finishing send pumps again
      const limit = 2 * target.concurrency - lane.inFlight.size - lane.queue.length
      let claimed: ClaimedDelivery[]
      try {
        claimed = await store.claim({
          target: target.name,
          limit,
          owner,
          now: now(),
          // A claimed delivery may wait for a slot for one attempt's time before its own attempt.
          leaseMs: 2 * target.timeoutMs + leaseMarginMs,
        })
      } catch (error) {
        log.error({ err: error, target: target.name }, 'claim failed; will try again')
        return schedule(lane, pollIntervalMs)
      }
      lane.queue.push(...claimed)
      if (claimed.length < limit) {
        // Fewer than asked for: nothing else is due now.
        startSends(lane)
        return scheduleNextDue(lane)
      }
    }
  }

  function startSends(lane: Lane): void {
    while (running && lane.inFlight.size < lane.target.concurrency) {
      const delivery = lane.queue.shift()
      if (!delivery) return
      // The slot frees when the target has answered, before the outcome is recorded: the
      // record and the next claim then share one group commit instead of following each other.
      let freed = false
      const freeSlot = () => {
        if (freed) return
        freed = true
        lane.inFlight.delete(delivery.id)
        if (running) void pump(lane)
      }
      lane.inFlight.set(delivery.id, send(lane.target, delivery, freeSlot).finally(freeSlot))
    }
  }

  async function scheduleNextDue(lane: Lane): Promise<void> {
    let wait = pollIntervalMs
    try {
      const due = await store.nextDueAt(lane.target.name)
      if (due !== null) wait = Math.max(0, Math.min(due - now(), pollIntervalMs))
    } catch (error) {
      log.error({ err: error, target: lane.target.name }, 'could not read the next due time')
    }
    schedule(lane, wait)
  }

  function schedule(lane: Lane, waitMs: number): void {
    if (!running) return
    if (lane.timer) clearTimeout(lane.timer)
    lane.timer = setTimeout(() => {
      lane.timer = null
      void pump(lane)
    }, waitMs)
  }

  async function send(target: Target, delivery: ClaimedDelivery, answered: () => void): Promise<void> {
    const attempts = delivery.attempts + 1
    const context = {
      target: target.name,
      event: delivery.eventKey,
      delivery: delivery.id,
      attempt: attempts,
    }
    try {
      const body = await prepareBody(target, delivery)
      const timestamp = Math.floor(now() / 1000)
      const headers: Record<string, string> = {
        ...target.headers,
        'x-whatsgate-event': delivery.action,
        'x-whatsgate-session': delivery.whatsappId,
        'webhook-id': delivery.eventKey,
        'webhook-timestamp': String(timestamp),
      }
      if (target.secrets.length > 0) {
        headers['webhook-signature'] = signWebhook({
          secrets: target.secrets,
          id: delivery.eventKey,
          timestamp,
          body,
        })
      }
      const result = await sender.send({ url: target.url, headers, body, timeoutMs: target.timeoutMs })
      // Given back at shutdown: the aborted send is ours, not the target's, and spends nothing.
      if (abandoned.has(delivery.id)) return
      const at = now()
      const outcome = { now: at, httpStatus: result.status, error: result.error }
      const decision = decide(
        { status: result.status, error: result.error, retryAfterMs: parseRetryAfter(result.retryAfter, at) },
        { attempts, firstReceivedAt: delivery.receivedAt, now: at },
        target.retry,
        random,
      )
      deps.onAttempt?.(target.name, decision.kind, result.durationMs)
      // Queue the record first, then free the slot: the next claim joins the same transaction
      // and sees this outcome (an ordered chat's next message becomes claimable at once).
      let recording: Promise<void>
      if (decision.kind === 'delivered') {
        recording = store.complete(delivery.id, outcome)
        log.debug({ ...context, status: result.status, ms: result.durationMs }, 'delivered')
      } else if (decision.kind === 'retry') {
        recording = store.retry(delivery.id, { ...outcome, nextAttemptAt: decision.at })
        log.info(
          { ...context, status: result.status, error: result.error, retryAt: decision.at },
          'delivery failed; will retry',
        )
      } else {
        recording = store.kill(delivery.id, { ...outcome, error: decision.reason })
        log.warn({ ...context, reason: decision.reason }, 'delivery dead')
      }
      answered()
      await recording
    } catch (error) {
      // Our side failed (store, body preparation): spend no attempt. The lease runs out and the
      // delivery is due again, so at worst the target sees a repeat with the same webhook-id.
      log.error(
        { ...context, err: error },
        'could not complete the delivery; it will be retried after its lease',
      )
    }
  }

  return {
    name: 'dispatcher',
    start() {
      running = true
      store
        .recoverLeases()
        .then((recovered) => {
          if (recovered > 0) log.warn({ deliveries: recovered }, 'sends interrupted by a crash are due again')
        })
        .catch((error) => log.error({ err: error }, 'could not recover leases; they expire on their own'))
        .finally(() => {
          for (const lane of lanes.values()) void pump(lane)
        })
    },
    notify(targetNames) {
      if (!running) return
      for (const name of targetNames ?? lanes.keys()) {
        const lane = lanes.get(name)
        if (lane) void pump(lane)
      }
    },
    async stop(timeoutMs) {
      running = false
      for (const lane of lanes.values()) if (lane.timer) clearTimeout(lane.timer)
      const inFlight = [...lanes.values()].flatMap((lane) => [...lane.inFlight.values()])
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled(inFlight),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs)
        }),
      ])
      clearTimeout(timer)
      const unfinished = [...lanes.values()].flatMap((lane) => [
        ...lane.inFlight.keys(),
        ...lane.queue.splice(0).map((delivery) => delivery.id),
      ])
      if (unfinished.length > 0) {
        for (const id of unfinished) abandoned.add(id)
        log.warn({ deliveries: unfinished.length }, 'sends still in flight at shutdown; releasing them')
        await store
          .release(unfinished)
          .catch((error) => log.error({ err: error }, 'could not release leases'))
      }
    },
  }
}
