import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { chatLane } from '../../src/delivery/routing.ts'
import { createTarget } from '../../src/delivery/targets.ts'
import { chatOf, type Envelope } from '../../src/events/index.ts'
import { createAcceptor } from '../../src/ingest/acceptor.ts'
import type { IngestStore, NewEvent } from '../../src/store/types.ts'

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
