// A stream target's side of the outbox, one suite on both stores (store-harness.ts): its entries
// read in id order past a position, its head, and the position its consumer confirms, which
// marks the deliveries up to it delivered.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { STREAM_LANE } from '../../src/delivery/routing.ts'
import type { OutboxStore } from '../../src/store/types.ts'
import { outboxEvent as event } from '../support/outbox.ts'
import { type Harness, postgres, sqlite } from './store-harness.ts'

for (const factory of [sqlite, postgres]) {
  const title = factory.skip
    ? `${factory.name} store: streams (skipped: ${factory.skip})`
    : `${factory.name} store: streams`

  describe.skipIf(factory.skip !== null)(title, () => {
    let harness: Harness
    let store: OutboxStore
    beforeEach(async () => {
      harness = await factory.open()
      store = harness.store
    })
    afterEach(() => harness.close())

    /** Events 1..count, each for the stream `s` and, every other one, for the http target `h`. */
    async function acceptEvents(count: number, from = 1) {
      for (let id = from; id < from + count; id++) {
        const body = Buffer.from(`{"id":${id},"text":"line\\nbreak é"}`)
        const stream = { target: 's', orderingKey: STREAM_LANE }
        const http = { target: 'h', orderingKey: null }
        await store.accept([{ ...event(id, { body }), deliveries: id % 2 ? [http, stream] : [stream] }])
      }
    }
    const idsOf = (entries: { body: Buffer }[]) =>
      entries.map((entry) => (JSON.parse(entry.body.toString()) as { id: number }).id)

    it("reads the stream's entries after a position, in id order, bodies as stored, its own only", async () => {
      expect(await store.readStream('s', 0, 10)).toEqual([])
      expect(await store.streamHead('s')).toBe(0)
      await acceptEvents(7)
      const all = await store.readStream('s', 0, 100)
      expect(idsOf(all)).toEqual([1, 2, 3, 4, 5, 6, 7])
      expect(all[0]?.body.toString()).toBe('{"id":1,"text":"line\\nbreak é"}')
      const ids = all.map((entry) => entry.id)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
      expect(await store.streamHead('s')).toBe(ids[6])
      expect(idsOf(await store.readStream('s', ids[2] as number, 3))).toEqual([4, 5, 6])
      expect(await store.readStream('s', ids[6] as number, 10)).toEqual([])
      expect(await store.readStream('nobody', 0, 10)).toEqual([])
    })

    it('keeps the confirmed position, never back and never past the head', async () => {
      expect(await store.streamPosition('s')).toBe(0)
      await acceptEvents(4)
      const ids = (await store.readStream('s', 0, 10)).map((entry) => entry.id)
      const head = ids[3] as number
      expect(await store.confirmStream('s', ids[1] as number, 1000)).toBe(ids[1])
      expect(await store.confirmStream('s', ids[0] as number, 2000)).toBe(ids[1])
      expect(await store.confirmStream('s', head + 1000, 3000)).toBe(head)
      expect(await store.streamPosition('s')).toBe(head)
      expect(await store.streamPosition('h')).toBe(0)
    })

    it('marks the pending deliveries of the stream up to a position delivered, a batch at a time', async () => {
      await acceptEvents(6)
      const ids = (await store.readStream('s', 0, 10)).map((entry) => entry.id)
      const upTo = ids[4] as number
      expect(await store.markStreamDelivered('s', upTo, 5000, 3)).toBe(3)
      expect(await store.markStreamDelivered('s', upTo, 5000, 3)).toBe(2)
      expect(await store.markStreamDelivered('s', upTo, 5000, 3)).toBe(0)
      const rows = await store.listDeliveries({ target: 's', limit: 10 })
      expect(rows.map((row) => row.status)).toEqual([
        'delivered',
        'delivered',
        'delivered',
        'delivered',
        'delivered',
        'pending',
      ])
      expect(rows[0]).toMatchObject({ attempts: 1, finishedAt: 5000 })
      // The http target's deliveries of the same events are its own business.
      const http = await store.listDeliveries({ target: 'h', limit: 10 })
      expect(http.every((row) => row.status === 'pending')).toBe(true)
      // Entries already delivered are still read (a consumer may rewind within retention).
      expect(idsOf(await store.readStream('s', 0, 10))).toEqual([1, 2, 3, 4, 5, 6])
    })
  })
}
