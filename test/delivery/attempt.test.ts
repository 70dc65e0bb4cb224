// What one attempt hands the store for its history: the class of its failure, when it started,
// how long it took, the excerpt, and the dispatcher that made it. The sends are scripted here; the
// real sender and stores are covered by http-sender.test.ts, the store suite and the admin tests.
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createAttempt } from '../../src/delivery/attempt.ts'
import type { HttpSender, SendResult } from '../../src/delivery/http-sender.ts'
import { MediaFetchError } from '../../src/delivery/prepare-body.ts'
import { createTarget } from '../../src/delivery/targets.ts'
import type {
  AttemptOutcome,
  ClaimedDelivery,
  DeliveryDecision,
  DeliveryStore,
} from '../../src/store/types.ts'

const NOW = 1_700_000_000_000
const delivery: ClaimedDelivery = {
  id: 7,
  target: 't',
  attempts: 0,
  eventKey: 's:message:1',
  whatsappId: 's',
  action: 'message',
  body: Buffer.from('{"id":1}'),
  receivedAt: NOW,
}

/** `media`: the target takes inline media, fetched (30 ms on the clock) or failing. */
function harness(result: Partial<SendResult>, options: { media?: 'fetched' | 'failed' } = {}) {
  const recorded: { decision: DeliveryDecision; outcome: AttemptOutcome }[] = []
  const store = {
    record: async (_id: number, decision: DeliveryDecision, outcome: AttemptOutcome) => {
      recorded.push({ decision, outcome })
    },
  } as unknown as DeliveryStore
  let clock = NOW
  const sender: HttpSender = {
    async send() {
      clock += 120
      return {
        status: 200,
        retryAfter: undefined,
        error: null,
        timedOut: false,
        durationMs: 120,
        responseExcerpt: '{"ok":true}',
        ...result,
      }
    },
    close: async () => {},
  }
  const attempt = createAttempt({
    store,
    owner: 'dispatcher-1',
    sender,
    log: pino({ level: 'silent' }),
    now: () => clock,
    random: () => 0.5,
    prepareBody: async () => {
      clock += 30
      if (options.media === 'failed') throw new MediaFetchError('WhatsGate answered 500')
      return delivery.body
    },
  })
  const target = createTarget({
    name: 't',
    url: 'http://127.0.0.1:1/',
    events: ['*'],
    media: options.media === undefined ? 'none' : 'inline',
  })
  const run = () => attempt(target, delivery, { abandoned: () => false, answered: () => {} })
  return { recorded, run }
}

describe('an attempt records its history', () => {
  it.each([
    ['a 2xx', { status: 204 }, null],
    ['a non-2xx answer', { status: 500 }, 'http'],
    ['a 3xx answer (redirects are not followed)', { status: 302 }, 'http'],
    ['no answer', { status: null, error: 'ECONNREFUSED', responseExcerpt: null }, 'connection'],
    [
      'the deadline',
      { status: null, error: 'timeout after 100 ms', timedOut: true, responseExcerpt: null },
      'timeout',
    ],
    [
      'the deadline while the body came',
      { status: 500, error: 'timeout after 100 ms', timedOut: true },
      'timeout',
    ],
  ] as const)('classes %s', async (_what, result, errorClass) => {
    const { recorded, run } = harness(result)
    await run()
    expect(recorded[0]?.outcome).toMatchObject({
      errorClass,
      httpStatus: result.status,
      responseExcerpt: 'responseExcerpt' in result ? result.responseExcerpt : '{"ok":true}',
    })
  })

  it('starts at the send (after the media fetch), lasts what the sender measured, names the dispatcher', async () => {
    const { recorded, run } = harness({ status: 500, responseExcerpt: 'down' }, { media: 'fetched' })
    await run()
    expect(recorded[0]?.outcome).toEqual({
      owner: 'dispatcher-1',
      now: NOW + 150,
      httpStatus: 500,
      error: null,
      startedAt: NOW + 30,
      durationMs: 120,
      errorClass: 'http',
      responseExcerpt: 'down',
    })
  })

  it('classes a media fetch that failed as media: the target was never called', async () => {
    const { recorded, run } = harness({}, { media: 'failed' })
    await run()
    expect(recorded[0]?.outcome).toMatchObject({
      httpStatus: null,
      errorClass: 'media',
      error: 'media: WhatsGate answered 500',
      startedAt: NOW,
      responseExcerpt: null,
    })
  })
})
