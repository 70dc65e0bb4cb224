// The delivery loop: claim due deliveries per target (a lease), send them, record each outcome.
// A fresh event skips the claim: while its target has room (a free slot, or a place in the round
// queued behind them), the acceptor writes its delivery already leased here (leaseFor) and hands
// it over after the commit (handOff), body and all, so it is sent with no query in between. Everything else (a busy, failing or paused target,
// a chat with an older delivery pending, retries, a restart) goes through claims, woken at once by
// new events; a timer covers retries that come due later. Each target has its
// own slots, so a slow or dead target never takes another one's turn; how many it has adapts to
// how the target answers (concurrency-limit.ts), up to its `concurrency`. A target whose attempts
// keep failing gets one request at a time until it answers 2xx; then whatever waits for a later
// retry is due at once, so a backlog drains when the target is back, not when each timer runs out.
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { type Clock, systemClock } from '../shared/clock.ts'
import type { ClaimedDelivery, DeliveryStore, Lease } from '../store/types.ts'
import { type AttemptDeps, createAttempt } from './attempt.ts'
import { type ConcurrencyLimit, createConcurrencyLimit } from './concurrency-limit.ts'
import type { PrepareBody } from './prepare-body.ts'
import type { Decision } from './retry-policy.ts'
import type { Sender } from './sender.ts'
import type { Target } from './targets.ts'

export interface DispatcherDeps {
  store: DeliveryStore
  targets: readonly Target[]
  /** Every kind's sender behind one interface: the dispatcher never knows which kind it drives. */
  sender: Sender
  log: Logger
  /** What time it is and what the lanes' waits run on; real time by default. */
  clock?: Clock
  random?: () => number
  /** Upper bound on how long a target waits before looking for due work again. */
  pollIntervalMs?: number
  /** How long a claim is held beyond the target's timeout before it may be taken again. */
  leaseMarginMs?: number
  /** Failed attempts in a row after which a target gets one request at a time. */
  failingAfter?: number
  /** Inline media (see AttemptDeps); without it every target gets the body as stored. */
  prepareBody?: PrepareBody
  onAttempt?: AttemptDeps['onAttempt']
}

export interface Dispatcher {
  readonly name: 'dispatcher'
  /** Whose leases this dispatcher takes (the replica's id in its heartbeats). */
  readonly owner: string
  start(): void
  /** Wakes the targets that may have new work. */
  notify(targetNames?: Iterable<string>): void
  /**
   * A lease for a fresh delivery of this target, while its slots and the round queued behind them
   * have room (and it is not failing): the place is held until handOff or cancelLease.
   * Undefined: it goes the claim path.
   */
  leaseFor(targetName: string): Lease | undefined
  /** A delivery written with leaseFor's lease, committed: it is sent now. */
  handOff(delivery: ClaimedDelivery): void
  /** A lease from leaseFor that was not written (a duplicate, a paused target, a failed commit). */
  cancelLease(targetName: string): void
  /** Stops claiming, waits until `deadline` (epoch ms) for sends in flight, then gives back their leases. */
  stop(deadline: number): Promise<void>
  /** The targets this dispatcher sees failing (one request at a time until a 2xx). */
  failing(): string[]
  /** Per target, how many requests it may have in flight now. */
  concurrency(): Map<string, number>
}

interface Lane {
  target: Target
  inFlight: Map<number, Promise<void>>
  /** Claimed, not yet sent. */
  queue: ClaimedDelivery[]
  /** Slots held for fresh deliveries being committed (leaseFor), until handed over. */
  reserved: number
  /** The claim loop while it runs: shutdown waits for it, so no claim commits after the release. */
  pumping: Promise<void> | null
  again: boolean
  /**
   * The store may hold work for this lane that no claim has looked for yet: false once a claim
   * came back short, true again with anything that can add some (a notify, a retry, a timer). A
   * finished send claims only while it is true, so fresh deliveries cost no claim at all.
   */
  claimable: boolean
  /** Cancels the lane's wait for its next look, while one is set. */
  timer: (() => void) | null
  /** Failed attempts in a row. */
  failures: number
  limit: ConcurrencyLimit
}

/** Deliveries made due per statement when a target recovers: short transactions. */
const EXPEDITE_BATCH = 500

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { store, sender, log } = deps
  const clock = deps.clock ?? systemClock
  const now = () => clock.now()
  const random = deps.random ?? Math.random
  const pollIntervalMs = deps.pollIntervalMs ?? 1000
  const leaseMarginMs = deps.leaseMarginMs ?? 30_000
  const failingAfter = deps.failingAfter ?? 5
  const owner = randomUUID()
  const attempt = createAttempt({
    store,
    owner,
    sender,
    log,
    now,
    random,
    prepareBody: deps.prepareBody,
    onAttempt: deps.onAttempt,
  })
  const lanes = new Map(
    deps.targets.map((target) => [
      target.name,
      {
        target,
        inFlight: new Map(),
        queue: [],
        reserved: 0,
        pumping: null,
        again: false,
        claimable: true,
        timer: null,
        failures: 0,
        limit: createConcurrencyLimit({ max: target.concurrency }),
      } as Lane,
    ]),
  )
  let running = false
  const abandoned = new Set<number>()

  function pump(lane: Lane): Promise<void> {
    if (lane.pumping) {
      lane.again = true
      return lane.pumping
    }
    lane.pumping = (async () => {
      try {
        do {
          lane.again = false
          await claimAndSend(lane)
        } while (lane.again && running)
      } finally {
        lane.pumping = null
      }
    })()
    return lane.pumping
  }

  // Claims run ahead of the free slots: up to one round of deliveries waits in memory (bounded by
  // the target's concurrency, never by its backlog), so a freed slot starts the next send at once
  // and claims come in batches instead of one commit per delivery.
  const slots = (lane: Lane) => (lane.failures >= failingAfter ? 1 : lane.limit.current)

  async function claimAndSend(lane: Lane): Promise<void> {
    const { target } = lane
    while (running) {
      startSends(lane)
      if (lane.queue.length > slots(lane) / 2) return // a finishing send pumps again
      const limit = 2 * slots(lane) - lane.inFlight.size - lane.queue.length - lane.reserved
      // A target that just started failing may still have more sends in flight than its one slot.
      if (limit <= 0) return
      let claimed: ClaimedDelivery[]
      try {
        claimed = await store.claim({
          target: target.name,
          limit,
          owner,
          now: now(),
          leaseMs: leaseMs(target),
        })
      } catch (error) {
        log.error({ err: error, target: target.name }, 'claim failed; will try again')
        return schedule(lane, pollIntervalMs)
      }
      lane.queue.push(...claimed)
      if (claimed.length < limit) {
        // Fewer than asked for: nothing else is due now.
        lane.claimable = false
        startSends(lane)
        return scheduleNextDue(lane, claimed.length === 0)
      }
    }
  }

  // A claimed delivery may wait for a slot for one attempt's time before its own attempt; an
  // inline-media attempt is a fetch and a send, each up to timeoutMs.
  const leaseMs = (target: Target) => (target.media === 'inline' ? 4 : 2) * target.timeoutMs + leaseMarginMs

  function startSends(lane: Lane): void {
    while (running && lane.inFlight.size < slots(lane)) {
      const delivery = lane.queue.shift()
      if (!delivery) return
      // The slot frees when the target has answered, before the outcome is recorded: the
      // record and the next claim then share one group commit instead of following each other.
      let freed = false
      const sent = { startedAt: now(), inFlight: lane.inFlight.size + 1 }
      const freeSlot = () => {
        if (freed) return
        freed = true
        lane.inFlight.delete(delivery.id)
        if (!running) return
        // In an ordered lane a finished send may free the next of its chat, which only a claim hands out.
        if (lane.claimable || lane.target.ordering === 'chat') void pump(lane)
        else startSends(lane)
      }
      const sending = attempt(lane.target, delivery, {
        abandoned: () => abandoned.has(delivery.id),
        answered: (outcome, answer) => {
          countOutcome(lane, outcome)
          lane.limit.onAnswer({ ...sent, ...answer }, now())
          freeSlot()
        },
      })
      lane.inFlight.set(delivery.id, sending.finally(freeSlot))
    }
  }

  async function scheduleNextDue(lane: Lane, claimedNothing: boolean): Promise<void> {
    let wait = pollIntervalMs
    try {
      const due = await store.nextDueAt(lane.target.name)
      if (due !== null) wait = Math.max(0, Math.min(due - now(), pollIntervalMs))
      // Due yet not claimable: waiting behind an older delivery of its chat. That one's outcome
      // wakes the lane (or, held by another replica, the poll finds it); claiming now would spin.
      if (wait === 0 && claimedNothing) wait = pollIntervalMs
    } catch (error) {
      log.error({ err: error, target: lane.target.name }, 'could not read the next due time')
    }
    schedule(lane, wait)
  }

  function schedule(lane: Lane, waitMs: number): void {
    if (!running) return
    lane.timer?.()
    lane.timer = clock.setTimer(() => {
      lane.timer = null
      // A retry come due, a lease run out, or another replica's work: only a claim can tell.
      lane.claimable = true
      void pump(lane)
    }, waitMs)
  }

  // Only a failure that will be retried says the target is struggling: a 410 (dead at once) is
  // the target answering about one delivery, and a delivery's last failure adds nothing new.
  function countOutcome(lane: Lane, outcome: Decision['kind']): void {
    const { name } = lane.target
    if (outcome === 'dead') return
    if (outcome === 'retry') {
      // Its next attempt is for a claim to find, and for the lane's timer to wait for.
      lane.claimable = true
      lane.failures++
      if (lane.failures === failingAfter) {
        log.warn(
          { target: name, failures: lane.failures },
          'target failing: one request at a time until it answers 2xx',
        )
        // Claimed ahead for all the slots, they would now wait in line past their lease.
        const queued = lane.queue.splice(0).map((delivery) => delivery.id)
        if (queued.length > 0) {
          store
            .release(queued, owner)
            .catch((error) => log.error({ err: error, target: name }, 'could not release leases'))
        }
      }
      return
    }
    const wasFailing = lane.failures >= failingAfter
    lane.failures = 0
    if (wasFailing) void expedite(lane)
  }

  async function expedite(lane: Lane): Promise<void> {
    const { name } = lane.target
    let total = 0
    try {
      for (;;) {
        const count = await store.expedite(name, now(), EXPEDITE_BATCH)
        total += count
        if (count < EXPEDITE_BATCH || !running) break
      }
      log.info(
        { target: name, deliveries: total },
        'target recovered; deliveries waiting for a retry are due now',
      )
    } catch (error) {
      log.error(
        { err: error, target: name },
        'could not make waiting deliveries due; they keep their schedule',
      )
    }
    lane.claimable = true
    if (running) void pump(lane)
  }

  return {
    name: 'dispatcher',
    owner,
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
        if (!lane) continue
        lane.claimable = true
        void pump(lane)
      }
    },
    leaseFor(targetName) {
      const lane = lanes.get(targetName)
      if (!lane || !running || lane.failures >= failingAfter) return undefined
      // As far ahead as a claim runs (claimAndSend): a burst larger than the free slots waits its
      // turn in memory, leased, instead of a claim reading it back from the store.
      if (lane.inFlight.size + lane.queue.length + lane.reserved >= 2 * slots(lane)) return undefined
      lane.reserved++
      return { owner, expiresAt: now() + leaseMs(lane.target) }
    },
    handOff(delivery) {
      const lane = lanes.get(delivery.target)
      if (!lane) return
      lane.reserved--
      if (!running) {
        // Stopping: what is ours goes back, due at once for whoever dispatches next.
        store
          .release([delivery.id], owner)
          .catch((error) => log.error({ err: error, target: delivery.target }, 'could not release a lease'))
        return
      }
      lane.queue.push(delivery)
      startSends(lane)
    },
    cancelLease(targetName) {
      const lane = lanes.get(targetName)
      if (lane) lane.reserved--
    },
    failing() {
      return [...lanes.values()]
        .filter((lane) => lane.failures >= failingAfter)
        .map((lane) => lane.target.name)
    },
    concurrency() {
      return new Map([...lanes.values()].map((lane) => [lane.target.name, slots(lane)]))
    },
    async stop(deadline) {
      running = false
      for (const lane of lanes.values()) {
        lane.timer?.()
        lane.timer = null
      }
      // A claim under way commits its leases; what it took must be in the queue released below.
      await Promise.allSettled([...lanes.values()].map((lane) => lane.pumping))
      const inFlight = [...lanes.values()].flatMap((lane) => [...lane.inFlight.values()])
      let cancelTimer: (() => void) | undefined
      await Promise.race([
        Promise.allSettled(inFlight),
        new Promise<void>((resolve) => {
          cancelTimer = clock.setTimer(resolve, Math.max(0, deadline - now()))
        }),
      ])
      cancelTimer?.()
      const unfinished = [...lanes.values()].flatMap((lane) => [
        ...lane.inFlight.keys(),
        ...lane.queue.splice(0).map((delivery) => delivery.id),
      ])
      if (unfinished.length > 0) {
        for (const id of unfinished) abandoned.add(id)
        log.warn({ deliveries: unfinished.length }, 'sends still in flight at shutdown; releasing them')
        await store
          .release(unfinished, owner)
          .catch((error) => log.error({ err: error }, 'could not release leases'))
      }
    },
  }
}
