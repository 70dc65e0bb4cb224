// Inline media through the whole relay (buildApp): a failed get-messagemedia is an attempt of the
// inline target's delivery, retried and finally dead like a failed send, and never touches the
// other targets. Real HTTP only: the fake WhatsGate and sinks on 127.0.0.1.
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from '../support/events.ts'
import { type FailKind, type FakeWhatsGate, startFakeWhatsGate } from '../support/fake-whatsgate.ts'
import { buildTestApp, readOutbox } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const API_KEY = 'media-delivery-key-5be1'
const SESSION = 'wa-1'
const MESSAGE_ID = 'false_79990000001@c.us_3EB0MEDIA88'
const MEDIA = { mimetype: 'image/jpeg', filename: 'photo.jpg', data: Buffer.from('jpeg').toString('base64') }
const BAD_REQUEST: FailKind = { name: 'Bad Request', message: 'Service is busy', code: 0 }

let cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

/** A WhatsGate event whose message has media; spacing that a re-serialisation would change. */
function mediaEvent(action = 'message', id = 88): string {
  return `{ "id": ${id}, "whatsapp_id": "${SESSION}", "event_action": "${action}",
  "event_date": "2024-06-01 08:00:00", "status_code": null,
  "event_data": { "message": { "_id": "3EB0MEDIA88", "id": "${MESSAGE_ID}", "ack": 1,
    "hasMedia": true, "mediaKey": "mk==", "body": "caption", "type": "image" } } }`
}

interface Setup {
  /** The inline target's retry settings and timeout. */
  maxAttempts?: number
  timeoutMs?: number
  events?: string[]
}

async function relayWithMedia({ maxAttempts = 5, timeoutMs = 5000, events = ['message'] }: Setup = {}) {
  const fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { [MESSAGE_ID]: MEDIA } })
  cleanup.push(() => fake.close())
  const [inline, plain] = await Promise.all([startSink(), startSink()])
  cleanup.push(
    () => inline.close(),
    () => plain.close(),
  )
  const retry = { maxAttempts, initialDelayMs: 20, maxDelayMs: 50 }
  const relay = await buildTestApp({
    WHATSGATE_API_URL: fake.url,
    WHATSGATE_API_KEY: API_KEY,
    REGISTER_ON_START: 'false',
    BACKFILL_ON_START: 'false',
    TARGETS: JSON.stringify([
      { name: 'inline', url: inline.url, events, media: 'inline', timeoutMs, retry },
      { name: 'plain', url: plain.url, events, retry },
    ]),
  })
  cleanup.push(() => relay.close())
  await relay.app.ready()
  const post = async (body: string) => expect((await relay.post(body)).statusCode).toBe(200)
  const delivery = (target: string) => readOutbox(relay.dataDir).deliveries.find((d) => d.target === target)
  return { fake, inline, plain, post, delivery }
}

function mediaOf(sink: Sink, index: number): unknown {
  return JSON.parse(sink.requests[index]?.body.toString() ?? 'null').event_data.message.media
}

const fetchesOf = (fake: FakeWhatsGate) => fake.callsOf('get-messagemedia').map((c) => c.outcome)

describe('a media fetch that fails', () => {
  it('is an attempt: with maxAttempts 2 the inline delivery ends dead with the media error', async () => {
    const { fake, inline, plain, post, delivery } = await relayWithMedia({ maxAttempts: 2 })
    fake.failNext('get-messagemedia', 2, 'unauthorized')
    await post(mediaEvent())

    await waitUntil(() => delivery('inline')?.status === 'dead', 'the inline delivery to die', 5000)
    const dead = delivery('inline')
    expect(dead?.attempts).toBe(2)
    expect(dead?.lastStatus).toBeNull()
    expect(dead?.lastError).toMatch(/^gave up after 2 attempts, last: media: .*Unauthorized/)
    expect(inline.requests).toHaveLength(0)
    expect(fetchesOf(fake)).toEqual(['unauthorized', 'unauthorized'])
    // The other target was never held back.
    expect(plain.requests).toHaveLength(1)
    expect(plain.requests[0]?.body.toString()).toBe(mediaEvent())
    expect(delivery('plain')).toMatchObject({ status: 'delivered', attempts: 1 })
  })

  it('is retried, and the target gets the media once WhatsGate gives it (an error answer first)', async () => {
    const { fake, inline, post, delivery } = await relayWithMedia()
    fake.failNext('get-messagemedia', 1, BAD_REQUEST)
    await post(mediaEvent())

    await inline.waitFor(1, 5000)
    expect(mediaOf(inline, 0)).toEqual(MEDIA)
    expect(fetchesOf(fake)).toEqual(['Bad Request', 'ok'])
    await waitUntil(() => delivery('inline')?.status === 'delivered', 'the inline delivery recorded')
    expect(delivery('inline')).toMatchObject({ attempts: 2, lastStatus: 200 })
  })

  it("is bounded by the target's timeoutMs: a hanging WhatsGate fails the attempt, the retry delivers", async () => {
    const { fake, inline, post, delivery } = await relayWithMedia({ timeoutMs: 300 })
    fake.failNext('get-messagemedia', 1, 'hang')
    await post(mediaEvent())

    // The API client's own timeout is 10 s: only an attempt that gives up on the hanging call at
    // 300 ms gets the retry's request here in time.
    await inline.waitFor(1, 8000)
    expect(mediaOf(inline, 0)).toEqual(MEDIA)
    expect(fetchesOf(fake)).toEqual(['hang', 'ok'])
    await waitUntil(() => delivery('inline')?.status === 'delivered', 'the inline delivery recorded')
    expect(delivery('inline')).toMatchObject({ attempts: 2 })
  })

  it('records the timeout as the attempt error', async () => {
    const { fake, post, delivery } = await relayWithMedia({ timeoutMs: 200, maxAttempts: 1 })
    fake.failNext('get-messagemedia', 1, 'hang')
    await post(mediaEvent())

    await waitUntil(() => delivery('inline')?.status === 'dead', 'the inline delivery to die', 5000)
    expect(delivery('inline')).toMatchObject({
      attempts: 1,
      lastStatus: null,
      lastError: 'gave up after 1 attempts, last: media: timed out after 200 ms',
    })
  })
})

describe('which events get media', () => {
  it('fetches for message events only: ack and sent carry the message object too', async () => {
    const { fake, inline, post } = await relayWithMedia({ events: ['*'] })
    await post(mediaEvent('ack', 1))
    await post(mediaEvent('sent', 2))
    await post(mediaEvent('message', 3))

    await inline.waitFor(3, 5000)
    const byAction = new Map(
      inline.requests.map((r) => [r.headers['x-whatsgate-event'], r.body.toString()] as const),
    )
    expect(byAction.get('ack')).toBe(mediaEvent('ack', 1))
    expect(byAction.get('sent')).toBe(mediaEvent('sent', 2))
    expect(JSON.parse(byAction.get('message') ?? 'null').event_data.message.media).toEqual(MEDIA)
    expect(fake.callsOf('get-messagemedia')).toHaveLength(1)
  })

  it('delivers without media, once, when WhatsGate answers that the message has none', async () => {
    const { fake, inline, post, delivery } = await relayWithMedia()
    delete fake.media[MESSAGE_ID]
    await post(mediaEvent())

    await inline.waitFor(1, 5000)
    expect(inline.requests[0]?.body.toString()).toBe(mediaEvent())
    await waitUntil(() => delivery('inline')?.status === 'delivered', 'the inline delivery recorded')
    expect(delivery('inline')).toMatchObject({ attempts: 1 })
    expect(fetchesOf(fake)).toEqual(['error'])
  })
})
