// The overview's numbers, from the store, on both stores: events received, deliveries delivered,
// failed attempts and deaths counted in the minute they happened (the store's clock for a receipt,
// the outcome's time for an attempt), summed into hours, per target, kept across a restart, read
// the same by every PostgreSQL replica, and the same as what the migration counts from the rows.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterEach, describe, expect, it } from 'vitest'
import { POSTGRES_TRAFFIC_BACKFILL } from '../../src/store/postgres-stats.ts'
import { openPostgresStore } from '../../src/store/postgres-store.ts'
import { SQLITE_TRAFFIC_BACKFILL } from '../../src/store/sqlite-stats.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'
import type { OutboxStore } from '../../src/store/types.ts'
import { outcome } from '../support/attempts.ts'
import { DEAD, DELIVERED, outboxEvent as event, MINUTE, retryAt } from '../support/outbox.ts'
import { freshSchema, postgresSkipReason, type TestSchema, withAdmin } from '../support/postgres.ts'
import { tempDir } from '../support/relay.ts'
import { type TestClock, testClock } from './store-harness.ts'

const HOUR = 60 * MINUTE
// 10:05:10 on a day: minutes and hours fall where a reader can check them.
const T0 = Date.UTC(2026, 11, 7, 10, 5, 10)
const minute = (n: number) => Date.UTC(2026, 11, 7, 10, 5 + n)

interface Opened {
  /** A store on the same outbox; a second call is a restart (SQLite) or another replica (PostgreSQL). */
  open(clock: TestClock): Promise<OutboxStore>
  /** Counts again from the rows alone, as the migration does. */
  backfill(): Promise<void>
  drop(): Promise<void>
}

const stores = {
  sqlite: {
    skip: null as string | null,
    async make(): Promise<Opened> {
      const dir = tempDir('traffic-')
      const path = join(dir, 'relay.sqlite')
      return {
        open: async (clock) => openSqliteStore({ path, clock }),
        async backfill() {
          const db = new DatabaseSync(path)
          db.exec(`DELETE FROM traffic_minutes; ${SQLITE_TRAFFIC_BACKFILL}`)
          db.close()
        },
        async drop() {
          rmSync(dir, { recursive: true, force: true })
        },
      }
    },
  },
  postgres: {
    skip: postgresSkipReason,
    async make(): Promise<Opened> {
      const schema: TestSchema = await freshSchema('traffic')
      return {
        open: (clock) => openPostgresStore({ url: schema.url, clock, onIdleError: () => {} }),
        backfill: () =>
          withAdmin(
            (client) => client.query(`DELETE FROM traffic_minutes; ${POSTGRES_TRAFFIC_BACKFILL}`),
            schema.url,
          ).then(() => undefined),
        drop: () => schema.drop(),
      }
    },
  },
}

const zero = { received: 0, delivered: 0, failed: 0, dead: 0 }
const failure = (now: number) => outcome({ now, httpStatus: 500, errorClass: 'http', error: 'HTTP 500' })

for (const [name, kind] of Object.entries(stores)) {
  const title = kind.skip
    ? `${name} store: traffic counts (skipped: ${kind.skip})`
    : `${name} store: traffic counts`
  describe.skipIf(kind.skip !== null)(title, () => {
    const open: OutboxStore[] = []
    let outbox: Opened
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close()
      await outbox?.drop()
    })
    async function storeOn(clock: TestClock) {
      const store = await outbox.open(clock)
      open.push(store)
      return store
    }

    /**
     * Minute 0: events 1-3 (targets a and b) and a duplicate of 1; minute 2: event 4 (a only).
     * Minute 1: a delivers 1, b fails 1 (retry); minute 3: b's 1 dies, a delivers 2 and 4.
     */
    async function traffic(store: OutboxStore, clock: TestClock) {
      clock.at = T0
      await store.accept([1, 2, 3].map((id) => event(id, { targets: ['a', 'b'] })))
      await store.accept([event(1, { targets: ['a', 'b'] })])
      clock.at = T0 + 2 * MINUTE
      await store.accept([event(4, { targets: ['a'] })])
      const a = await store.claim({
        target: 'a',
        limit: 10,
        owner: 'worker-1',
        now: T0 + 2 * MINUTE,
        leaseMs: HOUR,
      })
      const b = await store.claim({ target: 'b', limit: 10, owner: 'worker-1', now: T0, leaseMs: HOUR })
      const [a1, a2, , a4] = a.map((d) => d.id)
      const b1 = b[0]?.id as number
      await store.record(a1 as number, DELIVERED, outcome({ now: T0 + MINUTE }))
      await store.record(b1, retryAt(T0 + 2 * MINUTE), failure(T0 + MINUTE))
      const again = await store.claim({
        target: 'b',
        limit: 1,
        owner: 'worker-1',
        now: T0 + 2 * MINUTE,
        leaseMs: HOUR,
      })
      expect(again.map((d) => d.id)).toEqual([b1])
      await store.record(b1, DEAD, failure(T0 + 3 * MINUTE))
      await store.record(a2 as number, DELIVERED, outcome({ now: T0 + 3 * MINUTE }))
      await store.record(a4 as number, DELIVERED, outcome({ now: T0 + 3 * MINUTE }))
      // An outcome whose lease another holds now counts nothing, as it records nothing.
      await store.record(a1 as number, DEAD, failure(T0 + 3 * MINUTE))
    }

    const perMinute = [
      { at: minute(0), ...zero, received: 3 },
      { at: minute(1), ...zero, delivered: 1, failed: 1 },
      { at: minute(2), ...zero, received: 1 },
      { at: minute(3), ...zero, delivered: 2, failed: 1, dead: 1 },
    ]

    it('counts each receipt and outcome in its minute, sums hours, per target, and dead letters', async () => {
      outbox = await kind.make()
      const clock = testClock()
      const store = await storeOn(clock)
      await traffic(store, clock)
      expect(await store.traffic(T0 - HOUR, MINUTE)).toEqual(perMinute)
      expect(await store.traffic(minute(2), MINUTE)).toEqual(perMinute.slice(2))
      expect(await store.traffic(T0 - 5 * HOUR, HOUR)).toEqual([
        { at: Date.UTC(2026, 11, 7, 10), received: 4, delivered: 3, failed: 2, dead: 1 },
      ])
      expect(await store.targetTraffic(T0 - HOUR)).toEqual(
        new Map([
          ['a', { ...zero, delivered: 3 }],
          ['b', { ...zero, failed: 2, dead: 1 }],
        ]),
      )
      expect(await store.targetTraffic(minute(3))).toEqual(
        new Map([
          ['a', { ...zero, delivered: 2 }],
          ['b', { ...zero, failed: 1, dead: 1 }],
        ]),
      )
      expect(await store.deadLetters()).toEqual(new Map([['b', 1]]))
      expect(await store.lastEvents()).toEqual([{ whatsappId: '191b80a9238', receivedAt: T0 + 2 * MINUTE }])
    })

    it('keeps the counts across a restart, and another store on the outbox reads and adds to the same', async () => {
      outbox = await kind.make()
      const clock = testClock()
      const first = await storeOn(clock)
      await traffic(first, clock)
      if (name === 'sqlite') await first.close()
      open.splice(open.indexOf(first), 1)
      if (name === 'postgres') open.push(first)
      const second = await storeOn(clock)
      expect(await second.traffic(T0 - HOUR, MINUTE)).toEqual(perMinute)
      clock.at = T0 + 3 * MINUTE + 1
      await second.accept([event(9, { targets: [], session: 'other-session' })])
      const last = [...perMinute.slice(0, 3), { ...(perMinute[3] as (typeof perMinute)[3]), received: 1 }]
      expect(await second.traffic(T0 - HOUR, MINUTE)).toEqual(last)
      expect((await second.lastEvents()).map((e) => e.whatsappId)).toEqual(['191b80a9238', 'other-session'])
      if (name === 'postgres') expect(await first.traffic(T0 - HOUR, MINUTE)).toEqual(last)
    })

    it('counts from the rows alone what the writes counted (the migration of an outbox)', async () => {
      outbox = await kind.make()
      const clock = testClock()
      const store = await storeOn(clock)
      await traffic(store, clock)
      await outbox.backfill()
      expect(await store.traffic(T0 - HOUR, MINUTE)).toEqual(perMinute)
      expect(await store.targetTraffic(T0 - HOUR)).toEqual(
        new Map([
          ['a', { ...zero, delivered: 3 }],
          ['b', { ...zero, failed: 2, dead: 1 }],
        ]),
      )
    })

    it('counts what a stream consumer confirmed as delivered, and purges counts with the events', async () => {
      outbox = await kind.make()
      const clock = testClock()
      const store = await storeOn(clock)
      clock.at = T0
      await store.accept([1, 2].map((id) => event(id, { targets: ['s'] })))
      const head = await store.streamHead('s')
      expect(await store.markStreamDelivered('s', head, T0 + MINUTE, 100)).toBe(2)
      expect(await store.targetTraffic(T0)).toEqual(new Map([['s', { ...zero, delivered: 2 }]]))
      await store.purge({ deliveredBefore: minute(1), deadBefore: minute(2), limit: 100 })
      expect(await store.traffic(0, MINUTE)).toEqual([{ at: minute(1), ...zero, delivered: 2 }])
    })
  })
}
