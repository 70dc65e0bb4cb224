// What one attempt hands the store for its history: the class of its failure, when it started,
// how long it took, the excerpt, and the dispatcher that made it. The sends are scripted here; the
// real sender and stores are covered by http-sender.test.ts, the store suite and the admin tests;
// the broker kinds' real sends by test/destinations/.
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createAttempt } from '../../src/delivery/attempt.ts'
import { createHttpTargetSender } from '../../src/delivery/destinations/http.ts'
import type { HttpSender, SendResult } from '../../src/delivery/http-sender.ts'
import { MediaFetchError } from '../../src/delivery/prepare-body.ts'
import type { Outgoing, Sender, SendOutcome } from '../../src/delivery/sender.ts'
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
    sender: createHttpTargetSender(sender),
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

describe('an attempt to a broker kind', () => {
  /** A broker target's send, scripted: confirmed, refused or out of time. */
  function brokerHarness(outcome: Partial<SendOutcome>) {
    const recorded: { decision: DeliveryDecision; outcome: AttemptOutcome }[] = []
    const answers: { outcome: string; overloaded: boolean }[] = []
    const store = {
      record: async (_id: number, decision: DeliveryDecision, attemptOutcome: AttemptOutcome) => {
        recorded.push({ decision, outcome: attemptOutcome })
      },
    } as unknown as DeliveryStore
    const sent: Outgoing[] = []
    const sender: Sender = {
      async send(_target, outgoing) {
        sent.push(outgoing)
        return {
          ok: true,
          status: null,
          retryAfter: undefined,
          error: null,
          timedOut: false,
          durationMs: 4,
          responseExcerpt: 'stream "S" seq 1',
          ...outcome,
        }
      },
      close: async () => {},
    }
    const attempt = createAttempt({
      store,
      owner: 'dispatcher-1',
      sender,
      log: pino({ level: 'silent' }),
      now: () => NOW,
      random: () => 0.5,
    })
    const target = createTarget({
      type: 'nats',
      name: 't',
      url: 'nats://127.0.0.1:1',
      subject: 's',
      events: ['*'],
    })
    const run = () =>
      attempt(target, delivery, {
        abandoned: () => false,
        answered: (kind, answer) => answers.push({ outcome: kind, overloaded: answer.overloaded }),
      })
    return { recorded, answers, sent, run }
  }

  it('counts a confirmation as delivered, with no HTTP status, and the relay metadata sent', async () => {
    const { recorded, answers, sent, run } = brokerHarness({})
    await run()
    expect(recorded[0]).toMatchObject({
      decision: { kind: 'delivered' },
      outcome: { httpStatus: null, errorClass: null, error: null, responseExcerpt: 'stream "S" seq 1' },
    })
    expect(answers).toEqual([{ outcome: 'delivered', overloaded: false }])
    expect(sent[0]?.metadata).toEqual({
      'x-whatsgate-event': 'message',
      'x-whatsgate-session': 's',
      'webhook-id': 's:message:1',
      'webhook-timestamp': String(Math.floor(NOW / 1000)),
    })
    expect(sent[0]?.body).toBe(delivery.body)
  })

  it.each([
    [
      'a refusal',
      { ok: false, error: 'amqp: exchange "x" does not exist', responseExcerpt: null },
      'connection',
    ],
    [
      'the deadline',
      {
        ok: false,
        error: 'timeout after 10000 ms waiting for nats to confirm',
        timedOut: true,
        responseExcerpt: null,
      },
      'timeout',
    ],
  ] as const)(
    'retries %s, classed %s, and tells the concurrency limit the broker is overloaded',
    async (_what, outcome, errorClass) => {
      const { recorded, answers, run } = brokerHarness(outcome)
      await run()
      expect(recorded[0]?.decision.kind).toBe('retry')
      expect(recorded[0]?.outcome).toMatchObject({ httpStatus: null, errorClass, error: outcome.error })
      expect(answers).toEqual([{ outcome: 'retry', overloaded: true }])
    },
  )
})
