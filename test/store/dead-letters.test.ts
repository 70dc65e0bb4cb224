// Dead-letter triage and the audit log, one suite on both stores (store-harness.ts): grouping by
// target and cause, filters, a count that bounds the replay that follows it, discards that bulk
// replays leave alone, attempts that say which replay they belong to, and the audit newest first.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { countStatement, groupsStatement, listStatement } from '../../src/store/dead-letter-sql.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'
import type { AttemptOutcome, OutboxStore } from '../../src/store/types.ts'
import { outcome } from '../support/attempts.ts'
import { DEAD, DELIVERED, outboxEvent as event, eventKey as key, MINUTE } from '../support/outbox.ts'
import { tempDir } from '../support/relay.ts'
import { type Harness, postgres, sqlite, type TestClock, testClock } from './store-harness.ts'

const HTTP_500: Partial<AttemptOutcome> = { httpStatus: 500, errorClass: 'http', error: 'HTTP 500' }
const REFUSED: Partial<AttemptOutcome> = {
  httpStatus: null,
  errorClass: 'connection',
  error: 'connect ECONNREFUSED',
}

for (const factory of [sqlite, postgres]) {
  const title = factory.skip
    ? `${factory.name} dead letters (skipped: ${factory.skip})`
    : `${factory.name} dead letters`

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

    /** Claims every due delivery of `target` and records each with the outcome `decide` gives. */
    async function finish(target: string, decide: (eventId: number) => Partial<AttemptOutcome> | 'ok') {
      const now = Date.now()
      const claimed = await store.claim({ target, limit: 100, owner: 'worker-1', now, leaseMs: MINUTE })
      for (const delivery of claimed) {
        const id = Number(delivery.eventKey.split(':')[2])
        const how = decide(id)
        if (how === 'ok') await store.record(delivery.id, DELIVERED, outcome({ now }))
        else await store.record(delivery.id, DEAD, outcome({ now, ...how }))
      }
    }

    /** Events 1-6 to crm and bot: received at 1000 * id; crm: 1-3 answered 500, 4-6 refused; bot: 6 dead. */
    async function seed() {
      for (let id = 1; id <= 6; id++) {
        clock.at = 1000 * id
        const session = id % 2 === 0 ? 'even' : 'odd'
        await store.accept([event(id, { targets: ['crm', 'bot'], session, jid: `7999000000${id}@c.us` })])
      }
      clock.at = null
      await finish('crm', (id) => (id <= 3 ? HTTP_500 : REFUSED))
      await finish('bot', (id) => (id === 6 ? HTTP_500 : 'ok'))
    }

    it('groups dead letters by target and cause, the newest death first, and filters them', async () => {
      await seed()
      const groups = await store.deadLetterGroups({})
      expect(groups.map((g) => [g.target, g.lastStatus, g.errorClass, g.count, g.discarded]).sort()).toEqual(
        [
          ['bot', 500, 'http', 1, 0],
          ['crm', 500, 'http', 3, 0],
          ['crm', null, 'connection', 3, 0],
        ].sort(),
      )
      const even = await store.deadLetterGroups({ whatsappId: 'even', target: 'crm' })
      expect(even.map((g) => [g.errorClass, g.count]).sort()).toEqual([
        ['connection', 2],
        ['http', 1],
      ])
      // The newest death first.
      expect(groups.map((g) => g.newestAt)).toEqual(groups.map((g) => g.newestAt).sort((a, b) => b - a))
      const window = { receivedFrom: 2000, receivedBefore: 5000 }
      const listed = await store.listDeadLetters({ ...window, target: 'crm', limit: 10 })
      expect(listed.map((row) => row.eventKey)).toEqual([key(4, 'even'), key(3, 'odd'), key(2, 'even')])
      expect(listed[0]).toMatchObject({ chat: '79990000004@c.us', errorClass: 'connection', replays: 0 })
      const byChat = await store.listDeadLetters({ chat: '+79990000006', limit: 10 })
      expect(byChat.map((row) => row.target).sort()).toEqual(['bot', 'crm'])
      const page = await store.listDeadLetters({ target: 'crm', limit: 2, beforeId: listed[1]?.id })
      expect(page.map((row) => row.eventKey)).toEqual([key(2, 'even'), key(1, 'odd')])
      expect(await store.listDeadLetters({ lastStatus: null, limit: 10 })).toHaveLength(3)
      expect(await store.countDeadLetters({ ...window, errorClass: 'http' })).toEqual({
        count: 2,
        upTo: expect.any(Number),
        targets: ['crm'],
      })
      expect(await store.countDeadLetters({ chat: '+79990000007' })).toEqual({
        count: 0,
        upTo: null,
        targets: [],
      })
    })

    it('replays exactly what a time window matched, once, and leaves the discarded alone', async () => {
      await seed()
      const [four] = await store.listDeadLetters({ chat: '79990000004', target: 'crm', limit: 1 })
      const mark = { at: 77, reason: 'customer left', by: 'admin token' }
      expect(await store.discard({ ids: [four?.id as number] }, mark)).toEqual({ discarded: 1 })
      expect(await store.discard({ ids: [four?.id as number] }, mark)).toEqual({ discarded: 0 })
      const [discarded] = await store.listDeadLetters({ discarded: true, limit: 10 })
      expect(discarded).toMatchObject({
        discardedAt: 77,
        discardReason: 'customer left',
        discardedBy: 'admin token',
      })
      expect((await store.deadLetterGroups({ target: 'crm', errorClass: 'connection' }))[0]).toMatchObject({
        count: 2,
        discarded: 1,
      })

      const window = { target: 'crm', receivedFrom: 3000, receivedBefore: 6000 }
      const counted = await store.countDeadLetters(window)
      expect(counted.count).toBe(2)
      const later = Date.now() + MINUTE
      expect(await store.replay({ dead: { ...window, upTo: counted.upTo as number } }, later)).toEqual({
        replayed: 2,
      })
      expect(await store.replay({ dead: window }, later)).toEqual({ replayed: 0 })
      const claimed = await store.claim({
        target: 'crm',
        limit: 100,
        owner: 'w',
        now: later,
        leaseMs: MINUTE,
      })
      expect(claimed.map((d) => d.eventKey).sort()).toEqual([key(3, 'odd'), key(5, 'odd')])

      // Replay-all of the target leaves the discarded one dead; by id, it goes.
      expect(await store.replay({ target: 'crm', status: 'dead' }, later)).toEqual({ replayed: 3 })
      expect((await store.listDeadLetters({ target: 'crm', limit: 10 })).length).toBe(0)
      expect((await store.listDeadLetters({ target: 'crm', discarded: true, limit: 10 })).length).toBe(1)
      expect(await store.replay({ ids: [four?.id as number] }, later)).toEqual({ replayed: 1 })
      const detail = await store.getDelivery(four?.id as number)
      expect(detail?.status).toBe('pending')
      expect(await store.listDeadLetters({ discarded: true, limit: 10 })).toEqual([])
    })

    it('discards by filter in chunks of its own, and a count never includes the discarded', async () => {
      await seed()
      const mark = { at: 5, reason: 'test traffic', by: 'session s1' }
      expect(await store.discard({ dead: { target: 'crm', lastStatus: 500 } }, mark)).toEqual({
        discarded: 3,
      })
      expect(await store.countDeadLetters({ target: 'crm' })).toMatchObject({ count: 3 })
      expect(await store.replay({ dead: { target: 'crm' } }, Date.now())).toEqual({ replayed: 3 })
      expect(await store.countDeadLetters({})).toMatchObject({ count: 1 })
    })

    it("replays an event's failed targets only when asked, and its attempts say which replay they belong to", async () => {
      await seed()
      const later = Date.now() + MINUTE
      expect(await store.replay({ eventKey: key(1, 'odd'), status: 'dead' }, later)).toEqual({ replayed: 1 })
      const claim = () =>
        store.claim({ target: 'crm', limit: 10, owner: 'worker-1', now: later, leaseMs: MINUTE })
      let [again] = await claim()
      await store.record(again?.id as number, DEAD, outcome({ now: later, ...HTTP_500 }))
      expect(await store.replay({ ids: [again?.id as number] }, later)).toEqual({ replayed: 1 })
      ;[again] = await claim()
      await store.record(again?.id as number, DELIVERED, outcome({ now: later }))
      const event = await store.getEvent(key(1, 'odd'))
      const crm = event?.deliveries.find((d) => d.target === 'crm')
      expect(crm?.history.map((a) => [a.replay, a.status])).toEqual([
        [0, 500],
        [1, 500],
        [2, 200],
      ])
      // bot got it first time: the event's failed-only replay left it alone.
      expect(event?.deliveries.find((d) => d.target === 'bot')?.history.map((a) => a.replay)).toEqual([0])
    })

    it('keeps an audit log, newest first, paged by id', async () => {
      const entry = {
        via: 'cli',
        role: 'admin',
        session: null,
        subject: 'crm',
        count: null,
        reason: null,
      } as const
      await store.recordAudit({ ...entry, at: 1, action: 'pause' })
      await store.recordAudit({ ...entry, at: 2, action: 'resume' })
      await store.recordAudit({ ...entry, at: 3, action: 'discard', count: 4, reason: 'spam', session: 's1' })
      const all = await store.listAudit({ limit: 10 })
      expect(all.map((row) => row.action)).toEqual(['discard', 'resume', 'pause'])
      expect(all[0]).toMatchObject({
        at: 3,
        via: 'cli',
        role: 'admin',
        session: 's1',
        count: 4,
        reason: 'spam',
      })
      const older = await store.listAudit({ beforeId: all[1]?.id, limit: 10 })
      expect(older.map((row) => row.action)).toEqual(['pause'])
    })
  })
}

describe('the SQLite dead-letter statements, led either way', () => {
  it('give the same answer whether they read the events first or the dead letters', async () => {
    const dir = tempDir('dead-letter-leads-')
    const path = join(dir, 'relay.sqlite')
    const clock = testClock()
    const store = openSqliteStore({ path, clock })
    try {
      for (let id = 1; id <= 12; id++) {
        clock.at = 1000 * id
        await store.accept([
          event(id, {
            targets: ['crm', 'bot'],
            session: id % 3 === 0 ? 'three' : 'other',
            jid: `${id % 4}@c.us`,
          }),
        ])
      }
      clock.at = null
      const now = Date.now()
      for (const target of ['crm', 'bot']) {
        const claimed = await store.claim({ target, limit: 100, owner: 'w', now, leaseMs: MINUTE })
        expect(claimed).toHaveLength(12)
        for (const d of claimed) {
          const id = Number(d.eventKey.split(':')[2])
          const how = id % 2 === 0 ? HTTP_500 : REFUSED
          await store.record(d.id, id === 5 ? DELIVERED : DEAD, outcome({ now, owner: 'w', ...how }))
        }
      }
      const db = new DatabaseSync(path, { readOnly: true })
      const sqlite = { placeholder: () => '?', ordered: true }
      const run = ({ text, values }: { text: string; values: unknown[] }) =>
        db.prepare(text).all(...(values as never[]))
      const filters = [
        { whatsappId: 'three' },
        { receivedFrom: 3000, receivedBefore: 9000 },
        { chat: '2@c.us', target: 'crm' },
        { whatsappId: 'other', receivedFrom: 2000, lastStatus: null },
      ]
      for (const filter of filters) {
        const both = (['events', 'deliveries'] as const).map((lead) => ({
          groups: run(groupsStatement(filter, sqlite, lead)),
          list: run(listStatement({ ...filter, limit: 100 }, sqlite, lead)),
          count: run(countStatement(filter, sqlite, lead)),
        }))
        expect(both[0], JSON.stringify(filter)).toEqual(both[1])
        expect(both[0]?.list.length, JSON.stringify(filter)).toBeGreaterThan(0)
      }
      db.close()
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
