// How the dispatcher claims: never more than a target's lanes can hold, never in a tight loop,
// and nothing left leased after shutdown. Built from the real parts (SQLite file, undici sender,
// a local HTTP target); the store is only wrapped to watch the claims it serves.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpTargetSender } from '../../src/delivery/destinations/http.ts'
import { createDispatcher, type Dispatcher } from '../../src/delivery/dispatcher.ts'
import { createHttpSender } from '../../src/delivery/http-sender.ts'
import { createTarget } from '../../src/delivery/targets.ts'
import { createAcceptor } from '../../src/ingest/acceptor.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'
import type { ClaimRequest, OutboxStore } from '../../src/store/types.ts'
import { waitUntil, wgEvent } from '../support/events.ts'
import { createManualClock, type ManualClock } from '../support/manual-clock.ts'
import { readLeases, readOutbox, tempDir } from '../support/relay.ts'
import { type ReplyHandler, startSink } from '../support/sink.ts'

const slowRetry = { maxAttempts: 10, initialDelayMs: 60_000, maxDelayMs: 60_000 }

let cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

interface Setup {
  target: object
  respondWith: ReplyHandler
  events: string[]
  /** Called with every claim the store serves, before it runs. */
  onClaim?: (request: ClaimRequest, dispatcher: Dispatcher) => void
  /** Called as each claim resolves: right after its commit, before any later one. */
  afterClaim?: (dataDir: string) => void
  /** Time stands still until the test moves it (from just after the events are stored). */
  manualClock?: boolean
  /** The longest a lane waits before it looks for due work again (the dispatcher's 1 s by default). */
  pollIntervalMs?: number
}

async function dispatching({
  target: input,
  respondWith,
  events,
  onClaim,
  afterClaim,
  manualClock,
  pollIntervalMs,
}: Setup) {
  const dataDir = tempDir('dispatcher-claims-')
  const store = openSqliteStore({ path: join(dataDir, 'relay.sqlite') })
  const sink = await startSink({ respondWith })
  const target = createTarget({ name: 't', url: sink.url, events: ['*'], ...input })
  // Through the relay's own accept path (parse, key, route), one event after the other.
  const acceptor = createAcceptor({ store, targets: [target], log: pino({ level: 'silent' }) })
  for (const body of events) {
    const outcome = await acceptor.accept(Buffer.from(body))
    if (outcome.status !== 'accepted') throw new Error(`test event not accepted: ${outcome.status}`)
  }
  const claims: ClaimRequest[] = []
  // Claims and reads of the next due time under way: the lane is busy deciding what to do next.
  let storeCalls = 0
  const watched = <T>(call: Promise<T>) => {
    storeCalls++
    return call.finally(() => storeCalls--)
  }
  const counted: OutboxStore = {
    ...store,
    claim(request) {
      claims.push(request)
      onClaim?.(request, dispatcher)
      return watched(store.claim(request)).then((claimed) => {
        afterClaim?.(dataDir)
        return claimed
      })
    },
    nextDueAt: (target) => watched(store.nextDueAt(target)),
  }
  const clock: ManualClock | null = manualClock ? createManualClock() : null
  const sender = createHttpTargetSender(createHttpSender({ userAgent: 'test' }))
  const dispatcher = createDispatcher({
    store: counted,
    sender,
    targets: [target],
    log: pino({ level: 'silent' }),
    clock: clock ?? systemClock,
    pollIntervalMs,
  })
  cleanup.push(async () => {
    await dispatcher.stop((clock ?? systemClock).now() + 100)
    await sender.close()
    await sink.close()
    await store.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  dispatcher.start()
  // The relay's own wiring: fresh deliveries leased at accept and handed to the dispatcher.
  const live = createAcceptor({
    store,
    targets: [target],
    log: pino({ level: 'silent' }),
    dispatcher,
    onStored: (names) => dispatcher.notify(names),
  })
  const acceptFresh = async (body: string) => {
    const outcome = await live.accept(Buffer.from(body))
    if (outcome.status !== 'accepted') throw new Error(`test event not accepted: ${outcome.status}`)
  }
  return { dispatcher, sink, claims, dataDir, clock, acceptFresh, idle: () => storeCalls === 0 }
}

const leased = (dataDir: string) => readLeases(dataDir).filter((owner) => owner !== null).length

describe('dispatcher claims', () => {
  it('never leases more than two rounds of a failing target, however many sends are still out', async () => {
    // Answers spread over 100-300 ms: when the fifth failure makes the target "failing" (one slot),
    // several of the first eight sends are still out.
    // Only a claim adds leases, so the most ever held is among the counts read as each claim commits.
    const leasedAfterClaims: number[] = []
    const { sink, claims } = await dispatching({
      target: { concurrency: 8, retry: slowRetry },
      respondWith: (_request, index) => ({ status: 503, delayMs: 100 + ((index * 37) % 200) }),
      events: Array.from({ length: 60 }, (_, i) => wgEvent({ id: i + 1 })),
      afterClaim: (dataDir) => leasedAfterClaims.push(leased(dataDir)),
    })
    // Eight sends, then one per slot freed by the first four failures: the thirteenth goes out one
    // at a time, after every earlier send has answered. The claims up to it cover the switch.
    await sink.waitFor(13, 5000)
    expect(sink.requests.length).toBeGreaterThan(8)
    expect(Math.max(...leasedAfterClaims)).toBeLessThanOrEqual(16)
    expect(claims.every((claim) => claim.limit > 0)).toBe(true)
  })

  it('sends fresh events with no claim at all while the target has free slots, and claims again for a retry', async () => {
    const { sink, claims, dataDir, acceptFresh, idle } = await dispatching({
      target: { retry: slowRetry },
      respondWith: (_request, index) => ({ status: index === 20 ? 503 : 200 }),
      events: [],
      // Time stands still: no poll of the lane's comes due while the events go out.
      manualClock: true,
    })
    await waitUntil(() => claims.length > 0 && idle(), 'the start-up claim')
    const atStart = claims.length
    for (let id = 1; id <= 20; id++) await acceptFresh(wgEvent({ id }))
    await sink.waitFor(20)
    await waitUntil(
      () => readOutbox(dataDir).deliveries.every((d) => d.status === 'delivered') && idle(),
      'twenty delivered',
    )
    expect(claims.length).toBe(atStart)
    // A failed attempt leaves a retry for a claim to find: the lane looks again.
    await acceptFresh(wgEvent({ id: 21 }))
    await sink.waitFor(21)
    await waitUntil(() => claims.length > atStart, 'a claim after the retry was recorded')
    expect(leased(dataDir)).toBe(0)
  })

  it("sends an ordered chat's next message as soon as the one before it is delivered, without waiting for a poll", async () => {
    const { sink, acceptFresh } = await dispatching({
      target: { ordering: 'chat', retry: slowRetry },
      respondWith: () => ({ status: 200, delayMs: 20 }),
      events: [],
      // A message left for the lane's next poll would wait a minute.
      pollIntervalMs: 60_000,
    })
    const chat = '79990000001@c.us'
    for (let id = 1; id <= 5; id++) await acceptFresh(wgEvent({ id, chat }))
    await sink.waitFor(5, 5000)
    expect(sink.requests.map((r) => JSON.parse(r.body.toString()).id)).toEqual([1, 2, 3, 4, 5])
  })

  it('does not spin while a chat waits for its oldest message to be retried', async () => {
    const { sink, claims, dataDir, clock, idle } = await dispatching({
      target: { ordering: 'chat', retry: slowRetry },
      respondWith: () => ({ status: 503 }),
      events: [1, 2, 3].map((id) => wgEvent({ id, chat: '79990000001@c.us' })),
      manualClock: true,
    })
    if (!clock) throw new Error('no clock')
    // The failure recorded, the lane waits on the clock for its next look and asks the store
    // nothing: time stands still, so nothing more happens until the test moves it.
    const waiting = () =>
      waitUntil(
        () => readOutbox(dataDir).deliveries[0]?.attempts === 1 && clock.pending().length > 0 && idle(),
        'the lane to wait on the clock for its next look (one that never does spins)',
      )
    await sink.waitFor(1)
    const before = claims.length
    await waiting()
    clock.advance(1500)
    await waiting()
    // Behind the failed first message the other two are due but blocked: the lane looks again
    // at the poll interval (1 s), not in a loop.
    expect(claims.length - before).toBeLessThanOrEqual(3)
    expect(sink.requests).toHaveLength(1)
  })

  it('releases what a claim under way at shutdown took, and sends none of it', async () => {
    let stopping: Promise<void> | undefined
    const { sink, dataDir } = await dispatching({
      target: {},
      respondWith: () => ({ status: 200 }),
      events: Array.from({ length: 5 }, (_, i) => wgEvent({ id: i + 1 })),
      // SIGTERM arrives while the claim's transaction is queued, before it commits.
      onClaim: (_request, dispatcher) => {
        queueMicrotask(() => {
          stopping ??= dispatcher.stop(Date.now() + 1000)
        })
      },
    })
    await waitUntil(() => stopping !== undefined, 'the first claim')
    await stopping
    expect(readLeases(dataDir)).toEqual(Array(5).fill(null))
    expect(sink.requests).toHaveLength(0)
  })
})
