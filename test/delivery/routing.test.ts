import { describe, expect, it } from 'vitest'
import { chatLane } from '../../src/delivery/routing.ts'
import type { Envelope } from '../../src/events/index.ts'

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
