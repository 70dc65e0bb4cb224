// Conflicting copies, on both stores (store-harness.ts): a key stored again with a different body
// is kept beside its event, bounded per key, and goes with it; an identical repeat leaves nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CONFLICTS_KEPT_PER_KEY } from '../../src/store/conflicts.ts'
import type { OutboxStore } from '../../src/store/types.ts'
import { outboxEvent as event, eventKey as key, stored } from '../support/outbox.ts'
import { type Harness, postgres, sqlite, type TestClock, testClock } from './store-harness.ts'

const asText = (row: { body: Buffer }) => row.body.toString()
const DAY = 24 * 60 * 60 * 1000

for (const factory of [sqlite, postgres]) {
  const title = factory.skip ? `${factory.name} store (skipped: ${factory.skip})` : `${factory.name} store`

  describe.skipIf(factory.skip !== null)(`conflicting copies: ${title}`, () => {
    let harness: Harness
    let store: OutboxStore
    let clock: TestClock
    beforeEach(async () => {
      clock = testClock()
      harness = await factory.open(clock)
      store = harness.store
    })
    afterEach(() => harness.close())

    const copy = (
      id: number,
      body: string,
      headers: Record<string, string> | null = { 'user-agent': 'WhatsGate/1.0' },
    ) => ({
      ...event(id, { body: Buffer.from(body) }),
      headers,
    })

    it('keeps a copy with a different body beside its event; an identical repeat leaves nothing', async () => {
      clock.at = 1_000
      expect(await store.accept([copy(1, '{"id":1}')])).toEqual([stored(key(1))])
      expect(await store.accept([copy(1, '{"id":1}')])).toEqual([{ key: key(1), inserted: false }])
      expect(await store.listConflicts({ limit: 10 })).toEqual([])

      clock.at = 2_000
      const headers = { 'user-agent': 'WhatsGate/1.0', authorization: '[redacted]' }
      expect(await store.accept([copy(1, '{"id":"1"}', headers)])).toEqual([
        { key: key(1), inserted: false, conflict: 'kept' },
      ])
      // The conflicting copy again (WhatsGate's retry) and the first body again: silent.
      expect(await store.accept([copy(1, '{"id":"1"}'), copy(1, '{"id":1}')])).toEqual([
        { key: key(1), inserted: false },
        { key: key(1), inserted: false },
      ])

      const listed = await store.listConflicts({ limit: 10 })
      expect(listed).toEqual([
        { id: expect.any(Number), eventKey: key(1), receivedAt: 2_000, headers, body: expect.any(Buffer) },
      ])
      expect(listed.map(asText)).toEqual(['{"id":"1"}'])
      const detail = await store.getEvent(key(1))
      expect(detail?.body.toString()).toBe('{"id":1}')
      expect(detail?.conflicts).toEqual(listed)
      expect((await store.getEvent(key(1)))?.deliveries).toHaveLength(1)
    })

    it('compares bytes: a body that differs only in its bytes is a conflict, also within one batch', async () => {
      const results = await store.accept([copy(2, '{"id":2}'), copy(2, '{"id":2} '), copy(2, '{"id":2} ')])
      expect(results.map((r) => [r.inserted, r.conflict])).toEqual([
        [true, undefined],
        [false, 'kept'],
        [false, undefined],
      ])
      expect((await store.getEvent(key(2)))?.conflicts.map(asText)).toEqual(['{"id":2} '])
    })

    it(`keeps at most ${CONFLICTS_KEPT_PER_KEY} copies a key, lists them newest first, page by page`, async () => {
      await store.accept([copy(3, '{"id":3}'), copy(4, '{"id":4}')])
      const outcomes: (string | undefined)[] = []
      for (let n = 1; n <= CONFLICTS_KEPT_PER_KEY + 2; n++) {
        const [result] = await store.accept([copy(3, `{"id":3,"n":${n}}`)])
        outcomes.push(result?.conflict)
      }
      expect(outcomes).toEqual([
        ...Array(CONFLICTS_KEPT_PER_KEY).fill('kept'),
        'beyond_limit',
        'beyond_limit',
      ])
      await store.accept([copy(4, '{"id":"4"}')])

      const first = await store.listConflicts({ limit: 3 })
      expect(first.map(asText)).toEqual([
        '{"id":"4"}',
        `{"id":3,"n":${CONFLICTS_KEPT_PER_KEY}}`,
        `{"id":3,"n":${CONFLICTS_KEPT_PER_KEY - 1}}`,
      ])
      const rest = await store.listConflicts({ afterId: first.at(-1)?.id, limit: 100 })
      expect(rest).toHaveLength(CONFLICTS_KEPT_PER_KEY - 2)
      expect(rest.at(-1)?.body.toString()).toBe('{"id":3,"n":1}')
      expect((await store.getEvent(key(3)))?.conflicts).toHaveLength(CONFLICTS_KEPT_PER_KEY)
    })

    it('takes a backfilled copy, or a webhook under a backfilled key, as a duplicate: backfill writes its own bytes', async () => {
      await store.accept([copy(8, '{"id":8}'), copy(9, '{"id":9}', null)])
      expect(await store.accept([copy(8, '{"id": 8}', null), copy(9, '{"id": 9}')])).toEqual([
        { key: key(8), inserted: false },
        { key: key(9), inserted: false },
      ])
      expect(await store.listConflicts({ limit: 10 })).toEqual([])
    })

    it('lets its copies go when retention purges their event', async () => {
      clock.at = 10 * DAY
      await store.accept([{ ...copy(5, '{"id":5}'), deliveries: [] }])
      clock.at = 20 * DAY
      await store.accept([{ ...copy(6, '{"id":6}'), deliveries: [] }, copy(5, '{"id":"5"}')])
      await store.accept([copy(6, '{"id":"6"}')])
      // Event 6 arrived after the limit: only 5 goes, with its copy received after the limit too.
      expect(await store.purge({ deliveredBefore: 15 * DAY, deadBefore: 0, limit: 10 })).toBe(1)
      expect((await store.listConflicts({ limit: 10 })).map((c) => c.eventKey)).toEqual([key(6)])
    })
  })
}
