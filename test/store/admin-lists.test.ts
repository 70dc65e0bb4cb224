// The admin lists' filters, one suite on both stores (store-harness.ts): events by chat (a jid or a
// phone number), by party (each party, each written form of a number) and by key, deliveries by session and received time, and received-time ranges
// read exactly whichever way the store reads them (time-range.ts), also after the clock went back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { worthBounding } from '../../src/store/time-range.ts'
import type { DeliveryQuery, EventQuery, OutboxStore } from '../../src/store/types.ts'
import { outboxEvent as event, eventKey as key, SESSION } from '../support/outbox.ts'
import { type Harness, postgres, sqlite, type TestClock, testClock } from './store-harness.ts'

const GROUP = '120363025246125888@g.us'

for (const factory of [sqlite, postgres]) {
  const title = factory.skip
    ? `${factory.name} store: admin lists (skipped: ${factory.skip})`
    : `${factory.name} store: admin lists`

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

    const eventKeys = async (query: Omit<EventQuery, 'limit'>, limit = 100) =>
      (await store.listEvents({ ...query, limit })).map((e) => e.key)
    const deliveryKeys = async (query: Omit<DeliveryQuery, 'limit'>, limit = 100) =>
      (await store.listDeliveries({ ...query, limit })).map((d) => [d.eventKey, d.target])

    /** Events received at the given times, in this order: event i+1 at times[i]. */
    async function receivedAt(times: number[], targets = ['a']) {
      for (const [i, at] of times.entries()) {
        clock.at = at
        await store.accept([event(i + 1, { targets })])
      }
    }

    it('keeps the chat of each event and finds a chat by its jid or, one-to-one, by its phone number', async () => {
      const ready = { ...event(5, { jid: null }), key: `${SESSION}:ready:5`, action: 'ready' }
      await store.accept([
        event(1, { jid: '79991234567@c.us' }),
        event(2, { jid: GROUP }),
        event(3, { jid: '79991234567@c.us', session: 'other' }),
        event(4, { jid: '79995550000@c.us' }),
        ready,
      ])
      const listed = await store.listEvents({ limit: 10 })
      expect(listed.map((e) => e.chat)).toEqual([
        '79991234567@c.us',
        GROUP,
        '79991234567@c.us',
        '79995550000@c.us',
        null,
      ])
      expect((await store.getEvent(key(2)))?.chat).toBe(GROUP)
      expect((await store.getEvent(ready.key))?.chat).toBeNull()

      const bothSessions = [key(1), key(3, 'other')]
      expect(await eventKeys({ chat: '79991234567@c.us' })).toEqual(bothSessions)
      expect(await eventKeys({ chat: '79991234567' })).toEqual(bothSessions)
      expect(await eventKeys({ chat: '+79991234567' })).toEqual(bothSessions)
      expect(await eventKeys({ chat: GROUP })).toEqual([key(2)])
      // A group is found by its jid only; a number is never a group's, nor a part of a jid.
      expect(await eventKeys({ chat: '120363025246125888' })).toEqual([])
      expect(await eventKeys({ chat: '7999123456' })).toEqual([])
      expect(await eventKeys({ chat: '+7 999 123-45-67' })).toEqual([])
      expect(await eventKeys({ chat: '79991234567', whatsappId: 'other' })).toEqual([key(3, 'other')])
      expect(await eventKeys({ chat: '79991234567', afterSeq: listed[0]?.seq as number })).toEqual([
        key(3, 'other'),
      ])
    })

    it('finds a chat through its party rows, which the store writes even when the caller left the chat out, and an odd chat event by event', async () => {
      // The chat's own index went: its party rows lead (events/parties.ts chatParty).
      await store.accept([
        event(1, { jid: '79991234567@c.us', parties: ['79995550000'] }),
        event(2, { jid: 'not-a-jid', parties: [] }),
        event(3, { jid: '79995550000@c.us', parties: ['79995550000'] }),
      ])
      expect(await eventKeys({ chat: '+79991234567' })).toEqual([key(1)])
      expect(await eventKeys({ party: '79991234567' })).toEqual([key(1)])
      // A sender's number is no chat: the chat is checked on each party row.
      expect(await eventKeys({ chat: '79995550000' })).toEqual([key(3)])
      // Neither a jid nor a number has no party row: it is still found, read event by event.
      expect(await eventKeys({ chat: 'not-a-jid' })).toEqual([key(2)])
      expect(await eventKeys({ chat: 'not-a-jid', newestFirst: true })).toEqual([key(2)])
    })

    it('finds an event by each of its parties, a number in any written form, a group by its jid', async () => {
      // As partiesOf reads them (events/parties.ts): the chat, the sender, the recipient, a
      // group participant, each a number or a group jid.
      await store.accept([
        event(1, { jid: '79999999999@c.us', parties: ['79999999999', '79991112233'] }),
        event(2, { jid: GROUP, parties: [GROUP, '79994445566', '79999999999'] }),
        event(3, { jid: '79991112233@c.us', parties: ['79991112233', '79999999999'], session: 'other' }),
        event(4, { jid: '79990000000@c.us', parties: ['79990000000'] }),
        { ...event(5), key: `${SESSION}:ready:5`, action: 'ready' },
      ])
      const sender = [key(1), key(3, 'other')]
      for (const written of ['79991112233', '+79991112233', '+7 999 111-22-33', '7 (999) 111.22.33']) {
        expect(await eventKeys({ party: written }), written).toEqual(sender)
      }
      expect(await eventKeys({ party: '79991112233@c.us' })).toEqual(sender)
      // The chat as a party; the recipient; a group by its jid, and its participant by number.
      expect(await eventKeys({ party: '79990000000@c.us' })).toEqual([key(4)])
      expect(await eventKeys({ party: '+7 999 999 99 99' })).toEqual([key(1), key(2), key(3, 'other')])
      expect(await eventKeys({ party: GROUP })).toEqual([key(2)])
      expect(await eventKeys({ party: '+7 999 444 55 66' })).toEqual([key(2)])
      // A party is whole: neither a part of a number nor a group's number without its domain.
      expect(await eventKeys({ party: '7999111223' })).toEqual([])
      expect(await eventKeys({ party: '120363025246125888' })).toEqual([])
      expect(await eventKeys({ party: 'not a number' })).toEqual([])
      // With the other filters, and paged by seq.
      expect(await eventKeys({ party: '79991112233', whatsappId: 'other' })).toEqual([key(3, 'other')])
      expect(await eventKeys({ party: '79991112233', chat: '79999999999' })).toEqual([key(1)])
      const [first, second] = await store.listEvents({ party: '79999999999', limit: 2 })
      expect([first?.key, second?.key]).toEqual([key(1), key(2)])
      expect(await eventKeys({ party: '79999999999', afterSeq: second?.seq })).toEqual([key(3, 'other')])
      expect(await eventKeys({ party: '79999999999', afterSeq: first?.seq }, 1)).toEqual([key(2)])
      // The chat filter keeps its meaning: the chat only.
      expect(await eventKeys({ chat: '79991112233' })).toEqual([key(3, 'other')])
    })

    it('finds a party within a received-time range', async () => {
      const t0 = 1_700_000_000_000
      for (let i = 1; i <= 30; i++) {
        clock.at = t0 + i * 1000
        await store.accept([event(i, { parties: i % 3 === 0 ? ['79991112233'] : ['79990000000'] })])
      }
      expect(
        await eventKeys({
          party: '+7 999 111 22 33',
          receivedFrom: t0 + 10_000,
          receivedBefore: t0 + 22_000,
        }),
      ).toEqual([key(12), key(15), key(18), key(21)])
      expect(await eventKeys({ party: '79991112233', receivedFrom: t0 + 28_000 })).toEqual([key(30)])
    })

    it('finds one event by its key, with the other filters still applied', async () => {
      const ack = { ...event(1), key: `${SESSION}:ack:1`, action: 'ack' }
      await store.accept([event(1), ack, event(2)])
      expect(await eventKeys({ key: key(1) })).toEqual([key(1)])
      expect(await eventKeys({ key: ack.key })).toEqual([ack.key])
      expect(await eventKeys({ key: `${SESSION}:message:3` })).toEqual([])
      expect(await eventKeys({ key: key(1), action: 'ack' })).toEqual([])
      expect(
        await eventKeys({ key: key(2), afterSeq: (await store.listEvents({ limit: 3 }))[2]?.seq }),
      ).toEqual([])
    })

    it("lists deliveries of one session's events, and of events received within a time range", async () => {
      const t0 = 1_700_000_000_000
      await receivedAt([t0, t0 + 1000, t0 + 2000], ['a', 'b'])
      clock.at = t0 + 3000
      await store.accept([event(4, { session: 'other', targets: ['a'] })])
      expect(await deliveryKeys({ whatsappId: 'other' })).toEqual([[key(4, 'other'), 'a']])
      expect(await deliveryKeys({ whatsappId: SESSION, target: 'b' })).toEqual([
        [key(1), 'b'],
        [key(2), 'b'],
        [key(3), 'b'],
      ])
      expect(await deliveryKeys({ receivedFrom: t0 + 1000, receivedBefore: t0 + 3000 })).toEqual([
        [key(2), 'a'],
        [key(2), 'b'],
        [key(3), 'a'],
        [key(3), 'b'],
      ])
      expect(await deliveryKeys({ receivedFrom: t0 + 2000, target: 'a' })).toEqual([
        [key(3), 'a'],
        [key(4, 'other'), 'a'],
      ])
      expect(await deliveryKeys({ receivedBefore: t0 + 1000, status: 'pending' })).toEqual([
        [key(1), 'a'],
        [key(1), 'b'],
      ])
      expect(await deliveryKeys({ receivedFrom: t0 + 9000 })).toEqual([])
      expect(await deliveryKeys({ receivedBefore: t0 })).toEqual([])
    })

    it('reads a received-time range exactly, whether it lies at the end or the start, page by page, also after the clock went back', async () => {
      const t0 = 1_700_000_000_000
      // Event 1 came while the clock ran ahead; events 2..40 a second apart after it was set back.
      const times = [t0 + 30_500, ...Array.from({ length: 39 }, (_, i) => t0 + i * 1000)]
      await receivedAt(times)
      const expected = (from: number, before = Number.POSITIVE_INFINITY) =>
        times.flatMap((at, i) => (at >= from && at < before ? [key(i + 1)] : []))

      // Pages of 4: the range at the end is bounded first, the range from the start read in order.
      for (const [from, before] of [
        [t0 + 35_000, undefined],
        [t0 + 30_000, undefined],
        [t0 + 1000, undefined],
        [t0 + 29_500, t0 + 31_000],
        [t0, t0 + 3000],
        [t0 - 5000, undefined],
      ] as const) {
        const range = { receivedFrom: from, ...(before !== undefined && { receivedBefore: before }) }
        const events: string[] = []
        for (let afterSeq = 0; ; ) {
          const page = await store.listEvents({ ...range, afterSeq, limit: 4 })
          events.push(...page.map((e) => e.key))
          if (page.length < 4) break
          afterSeq = page.at(-1)?.seq as number
        }
        expect(events).toEqual(expected(from, before))
        const deliveries: string[] = []
        for (let afterId = 0; ; ) {
          const page = await store.listDeliveries({ ...range, afterId, limit: 4 })
          deliveries.push(...page.map((d) => d.eventKey))
          if (page.length < 4) break
          afterId = page.at(-1)?.id as number
        }
        expect(deliveries).toEqual(expected(from, before))
      }
      // With another filter, that filter leads and the range still holds.
      expect(await eventKeys({ whatsappId: SESSION, receivedFrom: t0 + 30_000 })).toEqual(
        expected(t0 + 30_000),
      )
      expect(await eventKeys({ receivedFrom: t0 + 60_000 })).toEqual([])
      expect(await eventKeys({ receivedFrom: t0 + 5000, receivedBefore: t0 + 5000 })).toEqual([])
    })
  })
}

describe('worthBounding: which way a received-time range is read (the answer is the same)', () => {
  const probe = { start: 900, stop: 1001, last: 1000 }
  const read = { receivedFrom: 1, receivedBefore: undefined, afterSeq: 0, limit: 100, boundCost: 1 / 3 }

  it('bounds a range at the end of the table, and reads one at the start in seq order', () => {
    expect(worthBounding(probe, read)).toBe(true)
    expect(worthBounding({ ...probe, start: 1 }, read)).toBe(false)
  })

  it('reads in seq order once the page starts inside the range', () => {
    expect(worthBounding(probe, { ...read, afterSeq: 950 })).toBe(false)
  })

  it('bounds a narrow range that holds no page: in seq order it would read on to the end', () => {
    const narrow = { start: 10, stop: 20, last: 1000 }
    expect(worthBounding(narrow, { ...read, receivedBefore: 2 })).toBe(true)
  })

  it('weighs the cost of the bounds: what is cheap for events may not be for deliveries', () => {
    const middle = { start: 400, stop: 1001, last: 1000 }
    expect(worthBounding(middle, read)).toBe(true)
    expect(worthBounding(middle, { ...read, boundCost: 1 })).toBe(false)
  })

  it('reads an empty table, or a range past its end, without bounds', () => {
    expect(worthBounding({ start: null, stop: null, last: null }, read)).toBe(false)
    expect(worthBounding({ start: null, stop: null, last: 1000 }, read)).toBe(true)
  })
})
