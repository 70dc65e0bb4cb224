// The newest-first lists and the event list's outcome and target filters in both stores
// (store-harness.ts): every outcome (pending, retrying, paused, delivered, dead), cursors both
// ways, a received-time range read newest first (bounded or not, time-range.ts), and what a page's
// rows show (eventSummaries).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { DeliveryOutcome, OutboxStore } from '../../src/store/types.ts'
import { outcome } from '../support/attempts.ts'
import { DEAD, DELIVERED, outboxEvent as event, eventKey as key, MINUTE, retryAt } from '../support/outbox.ts'
import { type Harness, postgres, sqlite, type TestClock, testClock } from './store-harness.ts'

for (const factory of [sqlite, postgres]) {
  const title = factory.skip
    ? `${factory.name} store: newest-first lists (skipped: ${factory.skip})`
    : `${factory.name} store: newest-first lists`

  describe.skipIf(factory.skip !== null)(title, () => {
    let harness: Harness
    let store: OutboxStore
    let clock: TestClock
    beforeEach(async () => {
      clock = testClock()
      harness = await factory.open(clock)
      store = harness.store
    })
    afterEach(() => harness.close())

    // Claimed as due a second from now: every delivery accepted so far is due then.
    const claimOne = async (target: string, now: number) => {
      const due = now + 1000
      const [claimed] = await store.claim({ target, limit: 1, owner: 'worker-1', now: due, leaseMs: MINUTE })
      return claimed?.id as number
    }

    it('filters events by each outcome and target, newest first', async () => {
      const now = Date.now() + MINUTE
      // 1: a delivered, b dead; 2: a retrying, b pending; 3: c (paused) pending; 4: a pending.
      await store.accept([event(1, { targets: ['a', 'b'] })])
      await store.record(await claimOne('a', now), DELIVERED, outcome({ now }))
      await store.record(await claimOne('b', now), DEAD, outcome({ now, httpStatus: 410 }))
      await store.accept([event(2, { targets: ['a', 'b'] })])
      await store.record(await claimOne('a', now), retryAt(now + MINUTE), outcome({ now, httpStatus: 500 }))
      await store.accept([event(3, { targets: ['c'] }), event(4, { targets: ['a'] })])
      await store.setPaused('c', true, now)

      const keys = async (outcome?: DeliveryOutcome, target?: string) =>
        (await store.listEvents({ newestFirst: true, outcome, target, limit: 10 })).map((e) => e.key)
      expect(await keys()).toEqual([key(4), key(3), key(2), key(1)])
      expect(await keys('delivered')).toEqual([key(1)])
      expect(await keys('dead')).toEqual([key(1)])
      expect(await keys('retrying')).toEqual([key(2)])
      expect(await keys('paused')).toEqual([key(3)])
      expect(await keys('pending')).toEqual([key(4), key(3), key(2)])
      expect(await keys('pending', 'a')).toEqual([key(4), key(2)])
      expect(await keys('pending', 'b')).toEqual([key(2)])
      expect(await keys(undefined, 'b')).toEqual([key(2), key(1)])
      expect(await keys('dead', 'a')).toEqual([])
      // Oldest first too, and from a cursor either way.
      const ofA = await store.listEvents({ target: 'a', limit: 10 })
      expect(ofA.map((e) => e.key)).toEqual([key(1), key(2), key(4)])
      const afterOne = await store.listEvents({ target: 'a', afterSeq: ofA[0]?.seq, limit: 1 })
      expect(afterOne.map((e) => e.key)).toEqual([key(2)])
      const beforeFour = await store.listEvents({
        target: 'a',
        newestFirst: true,
        beforeSeq: ofA[2]?.seq,
        limit: 10,
      })
      expect(beforeFour.map((e) => e.key)).toEqual([key(2), key(1)])

      const page = await store.listEvents({ newestFirst: true, limit: 2 })
      const older = await store.listEvents({ newestFirst: true, beforeSeq: page[1]?.seq, limit: 2 })
      expect(older.map((e) => e.key)).toEqual([key(2), key(1)])
      const summaries = await store.eventSummaries([page[0]?.seq as number, older[1]?.seq as number])
      expect(summaries.bodies.get(older[1]?.seq as number)?.toString()).toBe('{"id":1}')
      expect(summaries.deliveries).toEqual([
        { seq: older[1]?.seq, target: 'a', status: 'delivered', attempts: 1 },
        { seq: older[1]?.seq, target: 'b', status: 'dead', attempts: 1 },
        { seq: page[0]?.seq, target: 'a', status: 'pending', attempts: 0 },
      ])

      // 5: dead at two targets: listed once.
      await store.accept([event(5, { targets: ['x', 'y'] })])
      await store.record(await claimOne('x', now), DEAD, outcome({ now, httpStatus: 410 }))
      await store.record(await claimOne('y', now), DEAD, outcome({ now, httpStatus: 410 }))
      expect(await keys('dead')).toEqual([key(5), key(1)])
      expect(await keys('dead', 'y')).toEqual([key(5)])
      const oldestFirst = await store.listEvents({ outcome: 'dead', limit: 10 })
      expect(oldestFirst.map((e) => e.key)).toEqual([key(1), key(5)])
    })

    it('reads a received-time range newest first, exactly, from any cursor', async () => {
      const base = 1_800_000_000_000
      for (let id = 1; id <= 40; id++) {
        clock.at = base + id * 1000
        await store.accept([event(id, { targets: ['a'] })])
      }
      // Events 11 to 30; a page of 5 from the newest, then from before the 3rd.
      const range = { receivedFrom: base + 11_000, receivedBefore: base + 31_000 }
      const ids = (rows: { eventId: string }[]) => rows.map((e) => Number(e.eventId))
      const first = await store.listEvents({ ...range, newestFirst: true, limit: 5 })
      expect(ids(first)).toEqual([30, 29, 28, 27, 26])
      const next = await store.listEvents({
        ...range,
        newestFirst: true,
        beforeSeq: first[2]?.seq,
        limit: 50,
      })
      expect(ids(next)).toEqual(Array.from({ length: 17 }, (_, i) => 27 - i))
      const deliveries = await store.listDeliveries({ ...range, newestFirst: true, limit: 3 })
      expect(deliveries.map((d) => d.eventKey)).toEqual([key(30), key(29), key(28)])
      const before = await store.listDeliveries({
        ...range,
        newestFirst: true,
        beforeId: deliveries[2]?.id,
        limit: 100,
      })
      expect(before.map((d) => d.eventKey)).toEqual(Array.from({ length: 17 }, (_, i) => key(27 - i)))
    })

    it('lists refused requests newest first, page by page', async () => {
      for (let n = 1; n <= 4; n++) {
        await store.keepRefused(
          { receivedAt: n, reason: 'not_json', status: 400, headers: {}, body: null, bodySize: null },
          10,
        )
      }
      const page = await store.listRefused({ newestFirst: true, limit: 3 })
      expect(page.map((r) => r.receivedAt)).toEqual([4, 3, 2])
      const rest = await store.listRefused({ newestFirst: true, beforeId: page[2]?.id, limit: 3 })
      expect(rest.map((r) => r.receivedAt)).toEqual([1])
    })
  })
}
