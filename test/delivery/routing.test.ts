import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { chatLane } from '../../src/delivery/routing.ts'
import { createTarget } from '../../src/delivery/targets.ts'
import { chatOf, type Envelope } from '../../src/events/index.ts'
import { createAcceptor } from '../../src/ingest/acceptor.ts'
import type { IngestStore, NewEvent } from '../../src/store/types.ts'
import { wgEvent } from '../support/events.ts'
import { buildTestApp } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const message = (id: string): Envelope => ({
  id: 1,
  whatsapp_id: 'sess1',
  event_action: 'message',
  event_date: '2022-09-07 18:29:37',
  event_data: { message: { id } },
})

describe('chatLane', () => {
  it('orders a one-to-one chat on its jid, whoever sent the message', () => {
    expect(chatLane(message('false_79999999999@c.us_3EB0436AE1E682FF3A37'))).toBe('sess1/79999999999@c.us')
    expect(chatLane(message('true_79999999999@c.us_17AC61BFA5A561B7EE42'))).toBe('sess1/79999999999@c.us')
  })

  it('puts every message of a group in one lane, whichever participant wrote it', () => {
    const lanes = [
      'false_120363025246125888@g.us_3EB0AAA_79991234567@c.us',
      'false_120363025246125888@g.us_3EB0BBB_79995555555@c.us',
      'true_120363025246125888@g.us_3EB0CCC_79991234567@c.us',
      'false_79991112222-1600000000@g.us_3EB0DDD_79991234567@c.us',
    ].map((id) => chatLane(message(id)))
    expect(lanes).toEqual([
      'sess1/120363025246125888@g.us',
      'sess1/120363025246125888@g.us',
      'sess1/120363025246125888@g.us',
      'sess1/79991112222-1600000000@g.us',
    ])
  })

  it('orders session events, and messages whose id it cannot read, on the session', () => {
    const ready: Envelope = { ...message('x'), event_action: 'ready', event_data: {} }
    expect(chatLane(ready)).toBe('sess1')
    expect(chatLane(message('not-a-whatsapp-id'))).toBe('sess1')
    expect(chatLane(message('false_79999999999@c.us'))).toBe('sess1')
  })
})

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8'))

describe('chatOf: the one reading of a chat, for lanes and for the outbox', () => {
  it('reads the chat out of the message id of the documented message events, whichever side sent it', () => {
    // The examples disagree on from/to (the chat is `to` in one, `from` in another): the id decides.
    for (const name of ['event-message', 'event-message-2', 'event-sent', 'event-ack']) {
      expect(chatOf(fixture(name)), name).toBe('79999999999@c.us')
    }
    // An outgoing message (create: fromMe is true) is filed under the chat it went to.
    expect(chatOf(fixture('event-create'))).toBe('79999999999@c.us')
  })

  it("reads a group's jid, not the participant's", () => {
    expect(chatOf(message('false_120363025246125888@g.us_3EB0AAA_79991234567@c.us'))).toBe(
      '120363025246125888@g.us',
    )
  })

  it('gives null for session events', () => {
    for (const name of ['event-ready', 'event-disconnect', 'event-error'])
      expect(chatOf(fixture(name)), name).toBeNull()
  })

  it('gives null, never throws, for bodies that do not carry a readable message id', () => {
    const odd: unknown[] = [
      null,
      'text',
      42,
      [],
      {},
      { event_data: null },
      { event_data: [] },
      { event_data: { message: 'x' } },
      { event_data: { message: { id: 42 } } },
      { event_data: { message: { id: '' } } },
      { event_data: { message: { id: 'not-a-whatsapp-id' } } },
      { event_data: { message: { id: 'false_79999999999@c.us' } } },
      fixture('message-object-quoted'),
      // Too long to index, or a NUL PostgreSQL cannot store: the event must still be storable.
      { event_data: { message: { id: `false_${'7'.repeat(200)}@c.us_3EB0` } } },
      { event_data: { message: { id: 'false_7999\u00009999@c.us_3EB0' } } },
    ]
    for (const body of odd) expect(chatOf(body), JSON.stringify(body)).toBeNull()
    expect(chatLane({ ...message('x'), event_data: { message: { id: 42 } } })).toBe('sess1')
  })

  it('the acceptor files each event under the chat its lane orders it by', async () => {
    const accepted: NewEvent[] = []
    const store: IngestStore = {
      async accept(events) {
        accepted.push(...events)
        return events.map((event) => ({ key: event.key, inserted: true }))
      },
      async keepRefused() {},
    }
    const target = createTarget({ name: 't', url: 'http://127.0.0.1:9/', events: ['*'], ordering: 'chat' })
    const acceptor = createAcceptor({ store, targets: [target], log: pino({ level: 'silent' }) })
    for (const name of ['event-message', 'event-ready']) {
      await acceptor.accept(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url)))
    }
    expect(accepted.map((event) => [event.chat, event.deliveries[0]?.orderingKey])).toEqual([
      ['79999999999@c.us', '191b80a9238/79999999999@c.us'],
      [null, '191b80a9238'],
    ])
  })
})

describe('content filters through the real app', () => {
  const ADMIN_TOKEN = 'admin-token-0123456789'
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it('routes to a filtered target only the events it matches, and records no delivery for the rest', async () => {
    const sink: Sink = await startSink()
    cleanups.push(() => sink.close())
    const relay = await buildTestApp({
      ADMIN_TOKEN,
      TARGETS: JSON.stringify([
        {
          name: 'people',
          url: `${sink.url}/people`,
          events: ['*'],
          filter: { 'event_data.message.from': { $startsWith: '7999' }, 'event_data.message.fromMe': false },
        },
        { name: 'all', url: `${sink.url}/all`, events: ['*'] },
      ]),
    })
    cleanups.push(() => relay.close())

    // One per case: matching, another chat, fromMe true, fromMe missing, and a session event.
    const withFromMe = (id: number, chat: string, fromMe?: boolean) => {
      const body = JSON.parse(wgEvent({ id, chat }))
      if (fromMe !== undefined) body.event_data.message.fromMe = fromMe
      return JSON.stringify(body)
    }
    const bodies = [
      withFromMe(1, '79991112233@c.us', false),
      withFromMe(2, '120363025246125888@g.us', false),
      withFromMe(3, '79991112233@c.us', true),
      withFromMe(4, '79991112233@c.us'),
      wgEvent({ id: 5, action: 'disconnect' }),
    ]
    for (const body of bodies) expect((await relay.post(body)).statusCode).toBe(200)

    await sink.waitFor(bodies.length + 1)
    const ids = (path: string) =>
      sink.requests.filter((r) => r.path === path).map((r) => JSON.parse(r.body.toString()).id)
    expect(ids('/people')).toEqual([1])
    expect(ids('/all').sort()).toEqual([1, 2, 3, 4, 5])

    const keys = [1, 2, 3, 4].map((id) => `191b80a9238:message:${id}`).concat('191b80a9238:disconnect:5')
    const targetsOf = async (key: string) => {
      const response = await relay.app.inject({
        url: `/admin/events/${encodeURIComponent(key)}`,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      })
      expect(response.statusCode).toBe(200)
      const deliveries: { target: string; status: string }[] = response.json().deliveries
      return deliveries.map((d) => `${d.target}:${d.status}`).sort()
    }
    // The sink has answered; the relay records each outcome just after.
    const deadline = Date.now() + 10_000
    let seen: string[][] = []
    do {
      seen = await Promise.all(keys.map(targetsOf))
      if (seen.flat().every((d) => d.endsWith(':delivered'))) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    } while (Date.now() < deadline)
    expect(seen).toEqual([
      ['all:delivered', 'people:delivered'],
      ['all:delivered'],
      ['all:delivered'],
      ['all:delivered'],
      ['all:delivered'],
    ])
  })
})
