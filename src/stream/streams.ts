// The relay's side of the stream targets, whatever serves them: where each consumer resumes,
// what it confirms, and the wait for new entries. Entries are read from the store (never held
// here), so a slow or idle consumer costs a connection, not memory per event. A consumer waits
// until an event for its stream is committed by this process (notify), or until a poll of the
// stream's head, once a second, finds one another replica committed.
import { setImmediate as yieldToIo } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { TargetOf } from '../delivery/targets.ts'
import { type Clock, systemClock } from '../shared/clock.ts'
import type { StreamStore } from '../store/types.ts'

export interface StreamsDeps {
  store: StreamStore
  /** The stream targets. */
  targets: readonly TargetOf<'stream'>[]
  log: Logger
  clock?: Clock
  /** How often the heads of streams with waiting consumers are read (other replicas' events). */
  pollIntervalMs?: number
}

export type Streams = ReturnType<typeof createStreams>

interface Waiter {
  position: number
  wake: () => void
}

/** Deliveries marked delivered per statement after a confirmation: short transactions. */
const MARK_BATCH = 1000

export function createStreams({
  store,
  targets,
  log,
  clock = systemClock,
  pollIntervalMs = 1000,
}: StreamsDeps) {
  /** Per stream: bumped by every notify, so a consumer that read before it knows to read again. */
  const generations = new Map(targets.map((target) => [target.name, 0]))
  const waiting = new Map<string, Set<Waiter>>(targets.map((target) => [target.name, new Set()]))
  const consumers = new Map(targets.map((target) => [target.name, 0]))
  const marking = new Set<Promise<void>>()
  let cancelPoll: (() => void) | null = null

  /** Wakes the stream's waiting consumers; with `head`, only those behind it. */
  function wake(name: string, head?: number): void {
    for (const waiter of waiting.get(name) ?? []) {
      if (head === undefined || waiter.position < head) waiter.wake()
    }
  }

  async function poll(): Promise<void> {
    for (const [name, waiters] of waiting) {
      if (waiters.size === 0) continue
      try {
        wake(name, await store.streamHead(name))
      } catch (error) {
        log.error({ err: error, target: name }, 'could not read the stream head; will try again')
      }
    }
  }

  function schedulePoll(): void {
    cancelPoll = clock.setTimer(() => {
      void poll().finally(() => {
        if (cancelPoll) schedulePoll()
      })
    }, pollIntervalMs)
  }

  async function markDelivered(name: string, upTo: number): Promise<void> {
    try {
      for (;;) {
        const marked = await store.markStreamDelivered(name, upTo, clock.now(), MARK_BATCH)
        if (marked < MARK_BATCH) return
        await yieldToIo()
      }
    } catch (error) {
      log.error(
        { err: error, target: name },
        'could not mark confirmed entries delivered; the next confirmation does',
      )
    }
  }

  return {
    name: 'streams' as const,

    targets,

    /** Up to `limit` entries of the stream after `position`, from the store. */
    read: (name: string, position: number, limit: number) => store.readStream(name, position, limit),

    /** Events for these targets were committed here: their consumers read again. */
    notify(names: Iterable<string>): void {
      for (const name of names) {
        const generation = generations.get(name)
        if (generation === undefined) continue
        generations.set(name, generation + 1)
        wake(name)
      }
    },

    /** Taken before a read: `waitBeyond` returns at once if a notify came since. */
    generation: (name: string) => generations.get(name) ?? 0,

    /**
     * Resolves once the stream may have entries after `position`: a notify since `generation`,
     * a poll that found a newer head, or `signal` aborting (the consumer left, the relay stops).
     */
    waitBeyond(name: string, position: number, generation: number, signal: AbortSignal): Promise<void> {
      const waiters = waiting.get(name)
      if (!waiters || signal.aborted || generations.get(name) !== generation) return Promise.resolve()
      return new Promise((resolve) => {
        const waiter: Waiter = {
          position,
          wake() {
            waiters.delete(waiter)
            signal.removeEventListener('abort', waiter.wake)
            resolve()
          },
        }
        waiters.add(waiter)
        signal.addEventListener('abort', waiter.wake, { once: true })
      })
    },

    /**
     * The consumer has everything up to `position`: kept (never moved back), and its deliveries up
     * to there are marked delivered in the background, in short batches. Returns the position kept.
     */
    async confirm(name: string, position: number): Promise<number> {
      const kept = await store.confirmStream(name, position, clock.now())
      const running = markDelivered(name, kept).finally(() => marking.delete(running))
      marking.add(running)
      return kept
    },

    /** Where a consumer that names no position resumes: the last one confirmed. */
    position: (name: string) => store.streamPosition(name),

    /** Counts a consumer in while it is connected; returns the function that counts it out. */
    join(name: string): () => void {
      consumers.set(name, (consumers.get(name) ?? 0) + 1)
      let left = false
      return () => {
        if (left) return
        left = true
        consumers.set(name, (consumers.get(name) ?? 1) - 1)
      }
    },

    /** Per stream target, how many consumers are connected now. */
    consumers: () => new Map(consumers),

    start(): void {
      schedulePoll()
    },

    /** Stops polling and lets confirmations being marked finish (short batches). */
    async stop(_deadline: number): Promise<void> {
      cancelPoll?.()
      cancelPoll = null
      await Promise.allSettled([...marking])
    },
  }
}
