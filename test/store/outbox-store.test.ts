// The outbox contract, one suite run on both stores (store-harness.ts): SQLite on a temp file and
// PostgreSQL on a fresh schema per test. The admin lists' filters are in admin-lists.test.ts;
// postgres-replicas.test.ts has what only PostgreSQL does: replicas.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../../src/store/errors.ts'
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-schema.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'
import type { ClaimRequest, OutboxStore } from '../../src/store/types.ts'
import { outcome } from '../support/attempts.ts'
import {
  DEAD,
  DELIVERED,
  outboxEvent as event,
  eventKey as key,
  keysOf,
  MINUTE,
  retryAt,
  SESSION,
  sortCounts,
  stored,
} from '../support/outbox.ts'
import { tempDir } from '../support/relay.ts'
import { type Harness, postgres, sqlite } from './store-harness.ts'

for (const factory of [sqlite, postgres]) {
  const title = factory.skip ? `${factory.name} store (skipped: ${factory.skip})` : `${factory.name} store`

  describe.skipIf(factory.skip !== null)(title, () => {
    let harness: Harness
    let store: OutboxStore
    beforeEach(async () => {
      harness = await factory.open()
      store = harness.store
    })
    afterEach(() => harness.close())

    const claim = (target: string, overrides: Partial<ClaimRequest> = {}) =>
      store.claim({ target, limit: 100, owner: 'worker-1', now: Date.now(), leaseMs: MINUTE, ...overrides })
    const ok = (now = Date.now()) => outcome({ now })

    it('accepts an event once: a repeat, also within one batch, writes nothing and says so', async () => {
      expect(await store.accept([event(1, { targets: ['a', 'b'] }), event(2, { targets: [] })])).toEqual([
        stored(key(1)),
        stored(key(2)),
      ])
      expect(await store.accept([event(3), event(1, { targets: ['a', 'b', 'c'] }), event(3)])).toEqual([
        stored(key(3)),
        { key: key(1), inserted: false },
        { key: key(3), inserted: false },
      ])
      expect(await store.accept([event(2, { targets: ['a'] })])).toEqual([{ key: key(2), inserted: false }])
      const rows = await store.listDeliveries({ limit: 100 })
      expect(rows.map((r) => [r.eventKey, r.target, r.status, r.attempts])).toEqual([
        [key(1), 'a', 'pending', 0],
        [key(1), 'b', 'pending', 0],
        [key(3), 'a', 'pending', 0],
      ])
    })

    it('takes concurrent accepts of overlapping keys, each key written once', async () => {
      const ids = Array.from({ length: 60 }, (_, i) => i % 25)
      const results = await Promise.all(ids.map((id) => store.accept([event(id, { targets: ['a', 'b'] })])))
      const inserted = results.flat().filter((r) => r.inserted)
      expect(inserted.map((r) => r.key).sort()).toEqual(Array.from({ length: 25 }, (_, i) => key(i)).sort())
      expect(sortCounts(await store.countDeliveries())).toEqual([
        { target: 'a', status: 'pending', count: 25 },
        { target: 'b', status: 'pending', count: 25 },
      ])
    })

    it('gives bodies back byte for byte', async () => {
      const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
      const invalidUtf8 = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x7b, 0x0a])
      const large = Buffer.alloc(1024 * 1024, 'привет 👋\u0000')
      await store.accept([
        event(1, { body: everyByte }),
        event(2, { body: invalidUtf8 }),
        event(3, { body: large }),
      ])
      const claimed = await claim('a')
      expect(claimed.map((d) => d.body.subarray(0, 300))).toEqual([
        everyByte,
        invalidUtf8,
        large.subarray(0, 300),
      ])
      // Compared whole with Buffer.equals: a deep equal of a megabyte takes seconds.
      expect(claimed.map((d) => Buffer.isBuffer(d.body) && d.body.length)).toEqual([256, 7, large.length])
      expect(claimed[2]?.body.equals(large)).toBe(true)
    })

    it('claims due deliveries of one target, oldest first, up to the limit, with the event', async () => {
      const before = Date.now()
      await store.accept([
        event(1, { targets: ['a', 'b'] }),
        event(2),
        event(3),
        event(4, { targets: ['b'] }),
      ])
      const first = await claim('a', { limit: 2 })
      expect(first).toEqual([
        {
          id: expect.any(Number),
          target: 'a',
          attempts: 0,
          eventKey: key(1),
          whatsappId: SESSION,
          action: 'message',
          body: Buffer.from('{"id":1}'),
          receivedAt: expect.any(Number),
        },
        expect.objectContaining({ target: 'a', eventKey: key(2) }),
      ])
      expect(first[0]?.receivedAt).toBeGreaterThanOrEqual(before)
      expect(first[0]?.receivedAt).toBeLessThanOrEqual(Date.now())
      expect(keysOf(await claim('a', { limit: 5 }))).toEqual([key(3)])
      expect(keysOf(await claim('b'))).toEqual([key(1), key(4)])
      expect(await claim('c')).toEqual([])
    })

    it('leases a claim: nobody else takes it until the lease runs out, then it is due again', async () => {
      await store.accept([event(1), event(2)])
      const now = Date.now()
      const [held] = await claim('a', { limit: 1, now, leaseMs: MINUTE })
      expect(keysOf(await claim('a', { owner: 'worker-2', now: now + MINUTE - 1 }))).toEqual([key(2)])
      expect(await claim('a', { owner: 'worker-2', now: now + MINUTE - 1 })).toEqual([])
      // The first worker died with the lease: once it expires, another worker takes it as it was.
      const again = await claim('a', { owner: 'worker-2', now: now + MINUTE })
      expect(again).toEqual([expect.objectContaining({ id: held?.id, eventKey: key(1), attempts: 0 })])
    })

    it('sends one chat in order: a delivery waits while an older one of its target and chat is pending', async () => {
      await store.accept([
        event(1, { chat: 'x', targets: ['a', 'b'] }),
        event(2, { chat: 'x', targets: ['a', 'b'] }),
        event(3, { chat: 'y' }),
        event(4, { chat: 'x' }),
        event(5, { chat: null }),
      ])
      const now = Date.now()
      const first = await claim('a', { now })
      expect(keysOf(first)).toEqual([key(1), key(3), key(5)])
      // Another target's lane of the same chat is its own.
      expect(keysOf(await claim('b', { now }))).toEqual([key(1)])
      // Still leased and pending: the rest of chat x waits, whoever asks.
      expect(await claim('a', { owner: 'worker-2', now })).toEqual([])

      const idOf = (k: string) => first.find((d) => d.eventKey === k)?.id as number
      for (const k of [key(1), key(3), key(5)]) await store.record(idOf(k), DELIVERED, ok(now))
      const [second] = await claim('a', { now })
      expect(second?.eventKey).toBe(key(2))
      // A retry keeps its place: the next one waits for it, not only for its lease.
      await store.record(second?.id as number, retryAt(now + MINUTE), { ...ok(now), httpStatus: 500 })
      expect(await claim('a', { now: now + 1 })).toEqual([])
      expect(keysOf(await claim('a', { now: now + MINUTE }))).toEqual([key(2)])
      // A dead one no longer holds the chat up.
      await store.record(second?.id as number, DEAD, { ...ok(now), httpStatus: 410, error: 'gone' })
      expect(keysOf(await claim('a', { now: now + MINUTE }))).toEqual([key(4)])
    })

    it('holds a paused target: its deliveries stay pending and unclaimed, then resume in order', async () => {
      expect(await store.pausedTargets()).toEqual(new Map())
      await store.accept([event(1, { chat: 'x', targets: ['a', 'b'] }), event(2, { chat: 'x' }), event(3)])
      const now = Date.now()
      await store.setPaused('a', true, now)
      // Paused again later: it keeps the time it was first paused.
      await store.setPaused('a', true, now + 5)
      expect(await store.pausedTargets()).toEqual(new Map([['a', now]]))
      await store.accept([event(4, { chat: 'x' })])
      expect(await claim('a', { now: now + MINUTE })).toEqual([])
      // Another target is its own.
      expect(keysOf(await claim('b', { now }))).toEqual([key(1)])
      const rows = await store.listDeliveries({ target: 'a', limit: 100 })
      expect(rows.map((r) => [r.eventKey, r.status, r.attempts])).toEqual([
        [key(1), 'pending', 0],
        [key(2), 'pending', 0],
        [key(3), 'pending', 0],
        [key(4), 'pending', 0],
      ])

      await store.setPaused('a', false, now + 10)
      expect(await store.pausedTargets()).toEqual(new Map())
      // Resumed, the chat still goes one at a time and in order.
      expect(keysOf(await claim('a', { now }))).toEqual([key(1), key(3)])
      await store.setPaused('a', false, now + 20)
      await store.setPaused('never-paused', false, now)
      expect(await store.pausedTargets()).toEqual(new Map())
    })

    it('writes a fresh delivery leased as asked, unless its target is paused or its lane has one pending', async () => {
      const now = Date.now()
      const lease = { owner: 'worker-1', expiresAt: now + MINUTE }
      /** Event `id` for targets a (its lane `lane`) and b, each delivery asking for the lease. */
      const fresh = (id: number, lane: string | null = null) => {
        const e = event(id, { targets: ['a', 'b'], chat: lane })
        return { ...e, deliveries: e.deliveries.map((d) => ({ ...d, lease })) }
      }
      await store.setPaused('b', true, now)
      const [first] = await store.accept([fresh(1)])
      expect(first).toMatchObject({
        key: key(1),
        inserted: true,
        leased: [{ target: 'a', id: expect.any(Number) }],
      })
      expect(first?.receivedAt).toBeGreaterThanOrEqual(now)
      // Leased: no claim hands it out while the lease holds; it is the owner's to record.
      expect(await claim('a', { owner: 'worker-2', now })).toEqual([])
      const id = first?.leased?.[0]?.id as number
      await store.record(id, DELIVERED, ok(now))
      expect((await store.getDelivery(id))?.status).toBe('delivered')
      // The paused target's delivery was written as any other, for a claim after the resume.
      expect((await store.listDeliveries({ target: 'b', limit: 10 })).map((d) => d.status)).toEqual([
        'pending',
      ])

      // An ordered lane: the first of a batch is leased, the one behind it waits for a claim, as
      // does a later one while the first is still pending.
      const batch = await store.accept([fresh(2, 'x'), fresh(3, 'x'), fresh(4, 'y')])
      expect(batch.map((r) => r.leased?.map((d) => d.target))).toEqual([['a'], [], ['a']])
      expect((await store.accept([fresh(5, 'x')]))[0]?.leased).toEqual([])
      // A duplicate writes nothing and leases nothing.
      expect(await store.accept([fresh(1)])).toEqual([{ key: key(1), inserted: false }])
    })

    it('records an outcome and a release only under a lease still held: one that ran out is not', async () => {
      await store.accept([event(1), event(2)])
      const now = Date.now()
      const [late, released] = await claim('a', { now, leaseMs: 1000 })
      // worker-1 stalls past its lease; worker-2 claims both and delivers the first.
      const taken = await claim('a', { owner: 'worker-2', now: now + 2000 })
      expect(keysOf(taken)).toEqual([key(1), key(2)])
      await store.record(late?.id as number, DELIVERED, {
        ...ok(now + 2500),
        owner: 'worker-2',
        httpStatus: 200,
      })
      // worker-1's late outcomes change nothing: neither 'dead' over 'delivered', nor a release.
      await store.record(late?.id as number, DEAD, { ...ok(now + 3000), httpStatus: 410, error: 'gone' })
      await store.release([released?.id as number], 'worker-1')
      const rows = await store.listDeliveries({ limit: 10 })
      expect(rows.map((r) => [r.status, r.attempts, r.lastStatus])).toEqual([
        ['delivered', 1, 200],
        ['pending', 0, null],
      ])
      expect(await claim('a', { owner: 'worker-3', now: now + 2000 })).toEqual([])
      // Nor is the late attempt kept: the history holds the lease holder's attempt only.
      const history = (await store.getDelivery(late?.id as number))?.history
      expect(history?.map((a) => [a.replica, a.status])).toEqual([['worker-2', 200]])
      expect(await harness.attemptRows()).toBe(1)
    })

    it('keeps every attempt with its outcome: retried three times then delivered shows four, oldest first', async () => {
      await store.accept([event(1, { targets: ['a', 'b'] })])
      const start = Date.now()
      const statuses = [500, 502, 503]
      let delivery = 0
      for (const [n, status] of statuses.entries()) {
        const now = start + n * MINUTE
        const [claimed] = await claim('a', { now, owner: `worker-${n + 1}` })
        delivery = claimed?.id as number
        await store.record(
          delivery,
          retryAt(now + MINUTE),
          outcome({
            owner: `worker-${n + 1}`,
            now,
            startedAt: now - 40 - n,
            durationMs: 40 + n,
            httpStatus: status,
            errorClass: 'http',
            responseExcerpt: `{"error":"down ${n + 1}","text":"привет 👋"}`,
          }),
        )
      }
      const last = start + 3 * MINUTE
      const [claimed] = await claim('a', { now: last })
      await store.record(
        claimed?.id as number,
        DELIVERED,
        outcome({ now: last, httpStatus: 204, responseExcerpt: '' }),
      )

      const detail = await store.getDelivery(delivery)
      expect(detail).toMatchObject({
        id: delivery,
        target: 'a',
        status: 'delivered',
        attempts: 4,
        lastStatus: 204,
      })
      expect(detail?.history).toEqual([
        ...statuses.map((status, n) => ({
          id: expect.any(Number),
          deliveryId: delivery,
          startedAt: start + n * MINUTE - 40 - n,
          durationMs: 40 + n,
          status,
          errorClass: 'http',
          error: null,
          responseExcerpt: `{"error":"down ${n + 1}","text":"привет 👋"}`,
          replica: `worker-${n + 1}`,
          replay: 0,
        })),
        {
          id: expect.any(Number),
          deliveryId: delivery,
          startedAt: last - 5,
          durationMs: 5,
          status: 204,
          errorClass: null,
          error: null,
          responseExcerpt: '',
          replica: 'worker-1',
          replay: 0,
        },
      ])
      const ids = detail?.history.map((a) => a.id) ?? []
      expect(ids).toEqual([...ids].sort((x, y) => x - y))

      // The event: as stored, its body byte for byte, every delivery (b never tried) and attempt.
      const stored = await store.getEvent(key(1))
      expect(stored).toMatchObject({
        key: key(1),
        whatsappId: SESSION,
        eventId: '1',
        action: 'message',
        issues: null,
      })
      expect(stored?.body.equals(Buffer.from('{"id":1}'))).toBe(true)
      expect(stored?.deliveries.map((d) => [d.target, d.status, d.history.length])).toEqual([
        ['a', 'delivered', 4],
        ['b', 'pending', 0],
      ])
      expect(stored?.deliveries[0]).toEqual(detail)
    })

    it('keeps an attempt without an answer: its error class and message, a null status and excerpt', async () => {
      await store.accept([event(1)])
      const now = Date.now()
      const [claimed] = await claim('a', { now })
      const failed = { httpStatus: null, responseExcerpt: null, durationMs: 300 }
      await store.record(
        claimed?.id as number,
        retryAt(now),
        outcome({ ...failed, now, errorClass: 'timeout', error: 'timeout after 300 ms' }),
      )
      const [again] = await claim('a', { now })
      await store.record(
        again?.id as number,
        DEAD,
        outcome({
          ...failed,
          now,
          errorClass: 'connection',
          error: 'gave up after 2 attempts, last: ECONNREFUSED',
        }),
      )
      const history = (await store.getDelivery(claimed?.id as number))?.history
      expect(history?.map((a) => [a.status, a.errorClass, a.error, a.responseExcerpt])).toEqual([
        [null, 'timeout', 'timeout after 300 ms', null],
        [null, 'connection', 'gave up after 2 attempts, last: ECONNREFUSED', null],
      ])
    })

    it('records outcomes completed together, and an answer holding NUL characters', async () => {
      await store.accept([event(1), event(2), event(3)])
      const now = Date.now()
      const claimed = await claim('a', { now })
      expect(claimed).toHaveLength(3)
      await Promise.all(
        claimed.map((delivery, i) =>
          store.record(
            delivery.id,
            i === 0 ? retryAt(now) : DELIVERED,
            outcome({ now, httpStatus: i === 0 ? 500 : 200, responseExcerpt: `bad\0answer ${i}` }),
          ),
        ),
      )
      const histories = await Promise.all(claimed.map((delivery) => store.getDelivery(delivery.id)))
      expect(histories.map((d) => [d?.status, d?.history.map((a) => a.responseExcerpt)])).toEqual([
        ['pending', ['bad\uFFFDanswer 0']],
        ['delivered', ['bad\uFFFDanswer 1']],
        ['delivered', ['bad\uFFFDanswer 2']],
      ])
    })

    it('finds no delivery or event that is not stored', async () => {
      await store.accept([event(1)])
      expect(await store.getDelivery(999_999)).toBeNull()
      expect(await store.getEvent(key(2))).toBeNull()
      expect(await store.getEvent(key(1, 'other'))).toBeNull()
    })

    it('gives an event its issues and a body of any bytes', async () => {
      const issues = [{ path: 'event_date', message: 'expected "YYYY-MM-DD HH:MM:SS"' }]
      const body = Buffer.from([0x7b, 0xff, 0x00, 0x7d])
      await store.accept([{ ...event(1, { body, targets: [] }), issues }])
      const stored = await store.getEvent(key(1))
      expect(stored).toMatchObject({ key: key(1), issues, deliveries: [] })
      expect(stored?.body.equals(body)).toBe(true)
    })

    it('keeps the history through a replay: the next attempts follow the old ones', async () => {
      await store.accept([event(1)])
      const now = Date.now()
      const [claimed] = await claim('a', { now })
      const id = claimed?.id as number
      await store.record(
        id,
        DEAD,
        outcome({ now, httpStatus: 410, errorClass: 'http', error: 'gone: HTTP 410' }),
      )
      expect(await store.replay({ ids: [id] }, now)).toEqual({ replayed: 1 })
      await claim('a', { now })
      await store.record(id, DELIVERED, outcome({ now }))
      const detail = await store.getDelivery(id)
      expect(detail?.attempts).toBe(1)
      expect(detail?.history.map((a) => a.status)).toEqual([410, 200])
    })

    it('records an attempt delivered, to retry or dead on the delivery', async () => {
      await store.accept([event(1), event(2), event(3)])
      const now = Date.now()
      const [one, two, three] = await claim('a', { now })
      await store.record(
        one?.id as number,
        DELIVERED,
        outcome({
          now: now + 1,
          httpStatus: 204,
        }),
      )
      await store.record(
        two?.id as number,
        retryAt(now + 5 * MINUTE),
        outcome({
          now: now + 2,
          httpStatus: 503,
          error: 'HTTP 503',
        }),
      )
      await store.record(
        three?.id as number,
        DEAD,
        outcome({
          now: now + 3,
          httpStatus: null,
          error: 'connect ECONNREFUSED',
        }),
      )
      const rows = await store.listDeliveries({ limit: 10 })
      expect(
        rows.map(({ status, attempts, lastStatus, lastError, finishedAt }) => ({
          status,
          attempts,
          lastStatus,
          lastError,
          finishedAt,
        })),
      ).toEqual([
        { status: 'delivered', attempts: 1, lastStatus: 204, lastError: null, finishedAt: now + 1 },
        { status: 'pending', attempts: 1, lastStatus: 503, lastError: 'HTTP 503', finishedAt: null },
        {
          status: 'dead',
          attempts: 1,
          lastStatus: null,
          lastError: 'connect ECONNREFUSED',
          finishedAt: now + 3,
        },
      ])
      expect(rows[1]?.nextAttemptAt).toBe(now + 5 * MINUTE)
      expect(rows.every((r) => typeof r.id === 'number' && typeof r.receivedAt === 'number')).toBe(true)
      // A retried delivery comes back with its attempt counted; finished ones never do.
      expect(await claim('a', { now: now + 5 * MINUTE - 1 })).toEqual([])
      const [retried] = await claim('a', { now: now + 5 * MINUTE })
      expect(retried).toEqual(expect.objectContaining({ id: two?.id, attempts: 1 }))
    })

    it('release gives claimed rows back untouched, due again at once', async () => {
      await store.accept([event(1, { chat: 'x' }), event(2, { chat: 'x' })])
      const now = Date.now()
      const claimed = await claim('a', { now })
      expect(keysOf(claimed)).toEqual([key(1)])
      await store.release(
        claimed.map((d) => d.id),
        'worker-1',
      )
      await store.release([], 'worker-1')
      expect(await claim('a', { owner: 'worker-2', now })).toEqual([
        expect.objectContaining({ id: claimed[0]?.id, attempts: 0 }),
      ])
    })

    it('nextDueAt: the earliest time a pending delivery of the target becomes due', async () => {
      expect(await store.nextDueAt('a')).toBeNull()
      const before = Date.now()
      await store.accept([event(1), event(2), event(3, { targets: ['b'] })])
      const due = await store.nextDueAt('a')
      expect(due).toBeGreaterThanOrEqual(before)
      expect(due).toBeLessThanOrEqual(Date.now())
      const now = Date.now()
      const [one, two] = await claim('a', { now, leaseMs: MINUTE })
      // Both leased: due when the leases run out.
      expect(await store.nextDueAt('a')).toBe(now + MINUTE)
      await store.record(one?.id as number, retryAt(now + 30_000), { ...ok(now), httpStatus: 500 })
      expect(await store.nextDueAt('a')).toBe(now + 30_000)
      const [again] = await claim('a', { now: now + 30_000 })
      await store.record(again?.id as number, DELIVERED, ok(now))
      await store.record(two?.id as number, DEAD, ok(now))
      expect(await store.nextDueAt('a')).toBeNull()
      expect(await store.nextDueAt('b')).toBeLessThanOrEqual(Date.now())
    })

    it('expedite makes deliveries waiting for a retry due now, oldest first, batch by batch', async () => {
      await store.accept([event(1), event(2), event(3), event(4), event(5, { targets: ['b'] })])
      const now = Date.now()
      const claimed = await claim('a', { now })
      const idOf = (k: string) => claimed.find((d) => d.eventKey === k)?.id as number
      for (const n of [1, 2, 3]) {
        await store.record(idOf(key(n)), retryAt(now + 10 * MINUTE), { ...ok(now), httpStatus: 503 })
      }
      await store.record(idOf(key(4)), DELIVERED, ok(now))
      const [five] = await claim('b', { now })
      await store.record(five?.id as number, retryAt(now + 10 * MINUTE), { ...ok(now), httpStatus: 503 })

      const later = now + 1000
      expect(await store.expedite('a', later, 2)).toBe(2)
      expect(keysOf(await claim('a', { now: later }))).toEqual([key(1), key(2)])
      expect(await store.expedite('a', later, 2)).toBe(1)
      expect(await store.expedite('a', later, 2)).toBe(0)
      expect(keysOf(await claim('a', { now: later }))).toEqual([key(3)])
      // Other targets keep their schedule; finished deliveries stay finished.
      expect(await store.nextDueAt('b')).toBe(now + 10 * MINUTE)
      const four = (await store.listDeliveries({ target: 'a', limit: 10 })).find((d) => d.eventKey === key(4))
      expect(four?.status).toBe('delivered')
    })

    it('purges finished events in small batches, dead ones after their own limit, never pending ones', async () => {
      // 1 delivered, 2 dead, 3 pending, 4 routed nowhere, 5 delivered to a and dead to b.
      await store.accept([
        event(1),
        event(2),
        event(3),
        event(4, { targets: [] }),
        event(5, { targets: ['a', 'b'] }),
      ])
      const now = Date.now()
      const claimed = await claim('a', { now })
      const idOf = (k: string) => claimed.find((d) => d.eventKey === k)?.id as number
      await store.record(idOf(key(1)), DELIVERED, ok(now))
      await store.record(idOf(key(2)), DEAD, { ...ok(now), httpStatus: 410, error: 'gone' })
      await store.release([idOf(key(3))], 'worker-1')
      await store.record(idOf(key(5)), DELIVERED, ok(now))
      const [five] = await claim('b', { now })
      await store.record(five?.id as number, DEAD, ok(now))

      const purge = (deliveredBefore: number, deadBefore: number, limit = 1) =>
        store.purge({ deliveredBefore, deadBefore, limit })
      const past = now - MINUTE
      const future = Date.now() + MINUTE
      expect(await harness.attemptRows()).toBe(4)
      expect(await purge(past, past)).toBe(0)
      expect(await purge(future, past)).toBe(1)
      expect(await purge(future, past)).toBe(1)
      expect(await purge(future, past)).toBe(0)
      expect(keysOf(await store.listDeliveries({ limit: 10 }))).toEqual([key(2), key(3), key(5), key(5)])
      expect(await purge(future, future, 10)).toBe(2)
      expect(keysOf(await store.listDeliveries({ limit: 10 }))).toEqual([key(3)])
      expect(await purge(future, future, 10)).toBe(0)
      // Attempts go with their event; the pending one was never attempted (it was released).
      expect(await harness.attemptRows()).toBe(0)
      expect(await store.getDelivery(idOf(key(1)))).toBeNull()
      expect(await store.getEvent(key(2))).toBeNull()
    })

    it('lists deliveries page by page (keyset), filtered by status and target', async () => {
      await store.accept(Array.from({ length: 7 }, (_, i) => event(i + 1, { targets: ['a', 'b'] })))
      const pages: string[][] = []
      let afterId: number | undefined
      for (;;) {
        const page = await store.listDeliveries({ target: 'a', limit: 3, ...(afterId ? { afterId } : {}) })
        if (page.length === 0) break
        pages.push(keysOf(page))
        afterId = page.at(-1)?.id
      }
      expect(pages).toEqual([[key(1), key(2), key(3)], [key(4), key(5), key(6)], [key(7)]])
      const [one] = await claim('b', { limit: 1 })
      await store.record(one?.id as number, DEAD, ok())
      expect(keysOf(await store.listDeliveries({ status: 'dead', limit: 10 }))).toEqual([key(1)])
      expect(await store.listDeliveries({ status: 'dead', target: 'a', limit: 10 })).toEqual([])
      expect(await store.listDeliveries({ status: 'pending', limit: 100 })).toHaveLength(13)
    })

    it('replays finished deliveries from scratch, by id or every dead one of a target', async () => {
      await store.accept([event(1, { targets: ['a', 'b'] }), event(2, { targets: ['a', 'b'] }), event(3)])
      const now = Date.now()
      const a = await claim('a', { now })
      const b = await claim('b', { now })
      await store.record(a[0]?.id as number, DEAD, { ...ok(now), httpStatus: 500, error: 'HTTP 500' })
      await store.record(a[1]?.id as number, DELIVERED, ok(now))
      await store.record(b[0]?.id as number, DEAD, ok(now))
      await store.record(b[1]?.id as number, DEAD, ok(now))
      await store.release([a[2]?.id as number], 'worker-1')

      // A pending delivery is not replayed; finished ones are, delivered included.
      const later = now + MINUTE
      expect(
        await store.replay({ ids: [a[0]?.id as number, a[1]?.id as number, a[2]?.id as number] }, later),
      ).toEqual({ replayed: 2 })
      const rows = await store.listDeliveries({ target: 'a', limit: 10 })
      expect(rows.map((r) => [r.status, r.attempts, r.nextAttemptAt, r.finishedAt, r.lastError])).toEqual([
        ['pending', 0, later, null, 'HTTP 500'],
        ['pending', 0, later, null, null],
        ['pending', 0, expect.any(Number), null, null],
      ])
      expect(keysOf(await claim('a', { now: later }))).toEqual([key(3), key(1), key(2)])

      expect(await store.replay({ target: 'b', status: 'dead' }, later)).toEqual({ replayed: 2 })
      expect(await store.replay({ target: 'b', status: 'dead' }, later)).toEqual({ replayed: 0 })
      expect(keysOf(await claim('b', { now: later }))).toEqual([key(1), key(2)])
    })

    it('replays every finished delivery of one event, and nothing of the others', async () => {
      await store.accept([event(1, { targets: ['a', 'b'] }), event(2, { targets: ['a'] })])
      const now = Date.now()
      const a = await claim('a', { now })
      const b = await claim('b', { now })
      await store.record(a[0]?.id as number, DELIVERED, ok(now))
      await store.record(a[1]?.id as number, DEAD, ok(now))
      await store.record(b[0]?.id as number, DEAD, ok(now))
      const later = now + MINUTE
      expect(await store.replay({ eventKey: key(1) }, later)).toEqual({ replayed: 2 })
      expect(await store.replay({ eventKey: key(1) }, later)).toEqual({ replayed: 0 })
      expect(await store.replay({ eventKey: key(99) }, later)).toEqual({ replayed: 0 })
      expect(keysOf(await claim('a', { now: later }))).toEqual([key(1)])
      expect(keysOf(await claim('b', { now: later }))).toEqual([key(1)])
      const [two] = await store.listDeliveries({ status: 'dead', limit: 10 })
      expect(two?.eventKey).toBe(key(2))
    })

    it('lists events of one session, one action, or received within a time range', async () => {
      await store.accept([event(1), event(2, { session: 'other' })])
      const between = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 5))
      const ack = { ...event(3), key: `${SESSION}:ack:3`, action: 'ack' }
      await store.accept([ack])
      const keys = async (query: Omit<Parameters<typeof store.listEvents>[0], 'limit'>) =>
        (await store.listEvents({ ...query, limit: 10 })).map((e) => e.key)
      expect(await keys({ whatsappId: SESSION })).toEqual([key(1), `${SESSION}:ack:3`])
      expect(await keys({ whatsappId: 'other' })).toEqual([key(2, 'other')])
      expect(await keys({ action: 'ack' })).toEqual([`${SESSION}:ack:3`])
      expect(await keys({ receivedBefore: between + 1 })).toEqual([key(1), key(2, 'other')])
      expect(await keys({ receivedFrom: between + 1 })).toEqual([`${SESSION}:ack:3`])
      expect(await keys({ whatsappId: SESSION, action: 'message', receivedBefore: between + 1 })).toEqual([
        key(1),
      ])
    })

    it('counts deliveries per target and status', async () => {
      expect(await store.countDeliveries()).toEqual([])
      await store.accept([event(1, { targets: ['a', 'b'] }), event(2, { targets: ['a'] }), event(3)])
      const [one] = await claim('a', { limit: 1 })
      await store.record(one?.id as number, DELIVERED, ok())
      expect(sortCounts(await store.countDeliveries())).toEqual([
        { target: 'a', status: 'delivered', count: 1 },
        { target: 'a', status: 'pending', count: 2 },
        { target: 'b', status: 'pending', count: 1 },
      ])
    })

    it('backlog: pending deliveries per target and when the oldest event came; events received since a time', async () => {
      expect(await store.backlog()).toEqual(new Map())
      const before = Date.now()
      await store.accept([event(1, { targets: ['a', 'b'] })])
      const between = Date.now() + 1
      await new Promise((resolve) => setTimeout(resolve, 2))
      await store.accept([event(2, { targets: ['a'] }), event(3, { targets: [] })])
      const after = Date.now()
      const [first] = await claim('b', { limit: 1 })
      await store.record(first?.id as number, DELIVERED, ok())
      const backlog = await store.backlog()
      expect([...backlog.keys()]).toEqual(['a'])
      expect(backlog.get('a')?.pending).toBe(2)
      const oldest = backlog.get('a')?.oldestReceivedAt as number
      expect(oldest >= before && oldest < between).toBe(true)
      expect(await store.countReceivedSince(before)).toBe(3)
      expect(await store.countReceivedSince(after + 1)).toBe(0)
    })

    it('newestEventDates: the newest event_date stored per session, kept when retention purges', async () => {
      expect(await store.newestEventDates()).toEqual(new Map())
      await store.accept([
        event(1, { date: '2024-03-01 09:59:59', targets: [] }),
        event(2, { date: '2024-03-01 10:00:00', targets: [] }),
        event(3, { date: '2023-12-31 23:59:59', targets: [] }),
        event(4, { date: '2025-01-01 00:00:00', session: 'other', targets: [] }),
      ])
      // An older event that comes later (a backfill) does not move the mark back.
      await store.accept([event(5, { date: '2020-01-01 00:00:00', targets: [] })])
      const marks = new Map([
        [SESSION, '2024-03-01 10:00:00'],
        ['other', '2025-01-01 00:00:00'],
      ])
      expect(await store.newestEventDates()).toEqual(marks)
      // Every event is finished (no target): retention may take them all, the marks stay.
      const future = Date.now() + MINUTE
      expect(await store.purge({ deliveredBefore: future, deadBefore: future, limit: 100 })).toBe(5)
      expect(await store.newestEventDates()).toEqual(marks)
    })

    it('markSession raises a mark, never lowers it, and a later event moves it on', async () => {
      await store.markSession(SESSION, '2024-03-01 10:00:00')
      await store.markSession(SESSION, '2020-01-01 00:00:00')
      expect(await store.newestEventDates()).toEqual(new Map([[SESSION, '2024-03-01 10:00:00']]))
      await store.accept([event(1, { date: '2024-03-02 00:00:00', targets: [] })])
      expect(await store.newestEventDates()).toEqual(new Map([[SESSION, '2024-03-02 00:00:00']]))
    })

    it('keeps the schema issues of an event and lists events conforming or not, page by page', async () => {
      const issues = [{ path: 'event_date', message: 'expected "YYYY-MM-DD HH:MM:SS"' }]
      await store.accept([event(1), { ...event(2), issues }, event(3), { ...event(4), issues }])
      const all = await store.listEvents({ limit: 3 })
      expect(all.map((e) => e.key)).toEqual([key(1), key(2), key(3)])
      expect(all[0]).toMatchObject({ whatsappId: SESSION, eventId: '1', action: 'message', issues: null })
      const after = await store.listEvents({ afterSeq: all[2]?.seq as number, limit: 3 })
      expect(after.map((e) => e.key)).toEqual([key(4)])
      const flagged = await store.listEvents({ conforming: false, limit: 10 })
      expect(flagged.map((e) => [e.key, e.issues])).toEqual([
        [key(2), issues],
        [key(4), issues],
      ])
      expect((await store.listEvents({ conforming: true, limit: 10 })).map((e) => e.key)).toEqual([
        key(1),
        key(3),
      ])
    })

    it('keeps refused requests byte for byte, only the most recent ones', async () => {
      const refused = (n: number, body: Buffer | null) => ({
        receivedAt: 1_700_000_000_000 + n,
        reason: 'not_json',
        status: 400,
        headers: { 'content-type': 'text/plain' },
        body,
        bodySize: body?.length ?? 9999,
      })
      const binary = Buffer.from([0, 0xff, 0xfe, 10])
      await store.keepRefused(refused(1, binary), 3)
      await store.keepRefused(refused(2, null), 3)
      expect(await store.listRefused({ limit: 10 })).toEqual([
        { id: expect.any(Number), ...refused(1, binary) },
        { id: expect.any(Number), ...refused(2, null) },
      ])
      for (let n = 3; n <= 10; n++) await store.keepRefused(refused(n, Buffer.from(`body ${n}`)), 3)
      const kept = await store.listRefused({ limit: 10 })
      expect(kept.map((r) => r.body?.toString())).toEqual(['body 8', 'body 9', 'body 10'])
      const page = await store.listRefused({ afterId: kept[0]?.id as number, limit: 1 })
      expect(page.map((r) => r.body?.toString())).toEqual(['body 9'])
    })

    it('refuses writes with StoreUnavailableError while the database is out, and recovers after', async () => {
      await store.accept([event(1)])
      const restore = await harness.outage()
      try {
        await expect(store.accept([event(2)])).rejects.toBeInstanceOf(StoreUnavailableError)
        await expect(
          store.claim({ target: 'a', limit: 1, owner: 'w', now: Date.now(), leaseMs: 1 }),
        ).rejects.toBeInstanceOf(StoreUnavailableError)
      } finally {
        await restore()
      }
      expect(await store.accept([event(2), event(1)])).toEqual([
        stored(key(2)),
        { key: key(1), inserted: false },
      ])
      await store.ping()
      expect(keysOf(await claim('a'))).toEqual([key(1), key(2)])
    })

    it('refuses writes with StoreUnavailableError once closed, and ping fails', async () => {
      await store.accept([event(1)])
      await store.close()
      await expect(store.accept([event(2)])).rejects.toBeInstanceOf(StoreUnavailableError)
      await expect(store.ping()).rejects.toThrow()
    })
  })
}

describe('sqlite store: one relay per file', () => {
  it('upgrades a file of the first schema, marking each session with its newest stored event', async () => {
    const dir = tempDir('outbox-store-')
    const path = join(dir, 'relay.sqlite')
    const old = new DatabaseSync(path)
    old.exec(SQLITE_MIGRATIONS[0] as string)
    old.exec('PRAGMA user_version = 1')
    const insert =
      old.prepare(`INSERT INTO events (key, whatsapp_id, event_id, action, event_date, body, received_at, routed)
      VALUES (?, ?, ?, 'message', ?, x'7b7d', 0, 0)`)
    insert.run('a:message:1', 'a', '1', '2024-01-01 10:00:00')
    insert.run('a:message:2', 'a', '2', '2024-01-02 10:00:00')
    insert.run('b:message:1', 'b', '1', '2023-05-05 05:05:05')
    old.close()
    const store = openSqliteStore({ path })
    try {
      expect(await store.newestEventDates()).toEqual(
        new Map([
          ['a', '2024-01-02 10:00:00'],
          ['b', '2023-05-05 05:05:05'],
        ]),
      )
      expect(schemaOf(path).version).toBe(SQLITE_MIGRATIONS.length)
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('upgrades a file of the third schema: the unread routed column and its unused index go, rows stay', async () => {
    const dir = tempDir('outbox-store-')
    const path = join(dir, 'relay.sqlite')
    const old = new DatabaseSync(path)
    for (const migration of SQLITE_MIGRATIONS.slice(0, 3)) old.exec(migration)
    old.exec('PRAGMA user_version = 3')
    const now = Date.now()
    const insert = old.prepare(`
      INSERT INTO events (key, whatsapp_id, event_id, action, event_date, body, received_at, routed, issues)
      VALUES (?, ?, ?, 'message', '2024-01-01 10:00:00', ?, ?, 1, ?)`)
    const issues = JSON.stringify([{ path: 'event_date', message: 'drift' }])
    const one = insert.run(key(1), SESSION, '1', Buffer.from('{"id":1}'), now, null).lastInsertRowid
    const two = insert.run(key(2), SESSION, '2', Buffer.from('{"id":2}'), now, issues).lastInsertRowid
    const deliver = old.prepare(
      "INSERT INTO deliveries (event_seq, target, next_attempt_at, ordering_key) VALUES (?, 'a', ?, 'x')",
    )
    deliver.run(one, now)
    deliver.run(two, now)
    old.close()
    expect(schemaOf(path)).toMatchObject({ version: 3, routed: true, sessionDateIndex: true })

    const store = openSqliteStore({ path })
    try {
      expect(schemaOf(path)).toEqual({
        version: SQLITE_MIGRATIONS.length,
        routed: false,
        sessionDateIndex: false,
      })
      // Rows stored before the chat was kept stay without one (no backfill).
      expect(
        (await store.listEvents({ limit: 10 })).map((e) => [e.key, e.issues?.length ?? 0, e.chat]),
      ).toEqual([
        [key(1), 0, null],
        [key(2), 1, null],
      ])
      expect(await store.listEvents({ chat: '79991234567', limit: 10 })).toEqual([])
      // The rows carried over are delivered as before, one chat in order, and new ones join them.
      expect(await store.accept([event(3, { chat: 'x' })])).toEqual([stored(key(3))])
      const [first] = await store.claim({ target: 'a', limit: 10, owner: 'w', now, leaseMs: MINUTE })
      expect(first).toMatchObject({ eventKey: key(1), body: Buffer.from('{"id":1}') })
      await store.record(first?.id as number, DELIVERED, outcome({ owner: 'w', now }))
      expect(keysOf(await store.claim({ target: 'a', limit: 10, owner: 'w', now, leaseMs: MINUTE }))).toEqual(
        [key(2)],
      )
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('recoverLeases frees every lease at start: their holder was this relay before it died', async () => {
    const dir = tempDir('outbox-store-')
    const store = openSqliteStore({ path: join(dir, 'relay.sqlite') })
    try {
      await store.accept([event(1), event(2)])
      const now = Date.now()
      await store.claim({ target: 'a', limit: 10, owner: 'dead', now, leaseMs: MINUTE })
      expect(await store.recoverLeases()).toBe(2)
      expect(await store.claim({ target: 'a', limit: 10, owner: 'new', now, leaseMs: MINUTE })).toHaveLength(
        2,
      )
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** What the migrations have made of a SQLite file: its version, and whether the dropped parts remain. */
function schemaOf(path: string) {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    const columns = db.prepare("SELECT name FROM pragma_table_info('events')").all()
    const indexes = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index'").all()
    return {
      version: Number(db.prepare('PRAGMA user_version').get()?.user_version),
      routed: columns.some((c) => c.name === 'routed'),
      sessionDateIndex: indexes.some((i) => i.name === 'events_session_date'),
    }
  } finally {
    db.close()
  }
}
