import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it } from 'vitest'
import { VERSION } from '../../src/version.ts'
import { waitUntil, wgEvent } from '../support/events.ts'
import { buildTestApp, readLeases, readOutbox } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const fastRetry = { maxAttempts: 5, initialDelayMs: 20, maxDelayMs: 50 }

let cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

async function sink(): Promise<Sink> {
  const s = await startSink()
  cleanup.push(() => s.close())
  return s
}

async function relayWith(targets: object[]) {
  const relay = await buildTestApp({ TARGETS: JSON.stringify(targets) })
  cleanup.push(() => relay.close())
  await relay.app.ready()
  const post = async (body: string) => expect((await relay.post(body)).statusCode).toBe(200)
  return { ...relay, post }
}

const statusOf = (dataDir: string, target: string) =>
  readOutbox(dataDir).deliveries.filter((d) => d.target === target)

describe('routing', () => {
  it('sends each action to exactly the targets that subscribe to it; * also gets unknown actions', async () => {
    const [messages, acks, all, otherSession] = await Promise.all([sink(), sink(), sink(), sink()])
    const relay = await relayWith([
      { name: 'messages', url: `${messages.url}/m`, events: ['message'], retry: fastRetry },
      { name: 'acks', url: `${acks.url}/a`, events: ['ack', 'create'], retry: fastRetry },
      { name: 'all', url: `${all.url}/all`, events: ['*'], retry: fastRetry },
      {
        name: 'other',
        url: otherSession.url,
        events: ['*'],
        sessions: ['another-session'],
        retry: fastRetry,
      },
    ])
    const actions = ['ready', 'message', 'sent', 'ack', 'disconnect', 'error', 'create', 'media']
    for (const [i, action] of actions.entries()) await relay.post(wgEvent({ id: i + 1, action }))

    await all.waitFor(actions.length)
    await messages.waitFor(1)
    await acks.waitFor(2)
    const received = (s: Sink) => s.requests.map((r) => r.headers['x-whatsgate-event']).sort()
    expect(received(all)).toEqual([...actions].sort())
    expect(received(messages)).toEqual(['message'])
    expect(received(acks)).toEqual(['ack', 'create'])
    // Routing writes every delivery at ingest, and a delivered one is never claimed again: once all
    // are delivered, each after one attempt, what the targets got is all they will ever get.
    await waitUntil(
      () => readOutbox(relay.dataDir).deliveries.every((d) => d.status === 'delivered'),
      'every delivery recorded',
    )
    expect(statusOf(relay.dataDir, 'other')).toEqual([])
    expect(statusOf(relay.dataDir, 'messages')).toMatchObject([{ status: 'delivered', attempts: 1 }])
    expect(otherSession.requests).toHaveLength(0)
    expect(messages.requests).toHaveLength(1)
  })

  it('stores an event no target wants without any delivery', async () => {
    const target = await sink()
    const relay = await relayWith([{ name: 'acks', url: target.url, events: ['ack'] }])
    await relay.post(wgEvent({ id: 1, action: 'message' }))
    const outbox = readOutbox(relay.dataDir)
    expect(outbox.events).toHaveLength(1)
    expect(outbox.deliveries).toHaveLength(0)
  })
})

describe('the forwarded request', () => {
  it('carries the body byte for byte and the documented headers', async () => {
    const target = await sink()
    const relay = await relayWith([
      { name: 'crm', url: `${target.url}/hook?x=1`, events: ['*'], headers: { Authorization: 'Bearer abc' } },
    ])
    // Odd spacing and key order: the relay must not re-serialise.
    const body = `{ "event_action":"message",  "id":42,"whatsapp_id":"191b80a9238","event_date":"2022-09-07 18:29:37","status_code":null,"event_data":{"message":{"id":"false_1@c.us_A","body":"é ✓"}} }`
    await relay.post(body)
    await target.waitFor(1)
    const [request] = target.requests
    expect(request?.path).toBe('/hook?x=1')
    expect(request?.body.equals(Buffer.from(body))).toBe(true)
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': `whatsgate-relay/${VERSION}`,
      'x-whatsgate-event': 'message',
      'x-whatsgate-session': '191b80a9238',
      'webhook-id': '191b80a9238:message:42',
      authorization: 'Bearer abc',
    })
    expect(Number(request?.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -1)
  })

  it('signs a target without a secret of its own with the secret the relay made in DATA_DIR', async () => {
    const target = await sink()
    const relay = await relayWith([{ name: 'bot', url: target.url, events: ['*'] }])
    const file = join(relay.dataDir, 'signing-secret')
    const secret = readFileSync(file, 'utf8').trim()
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    await relay.post(wgEvent({ id: 8 }))
    await target.waitFor(1)
    const request = target.requests[0]
    if (!request) throw new Error('no request')
    const headers = request.headers as Record<string, string>
    expect(new Webhook(secret).verify(request.body.toString(), headers)).toMatchObject({ id: 8 })
  })

  it('signs with Standard Webhooks, one signature per secret during a rotation', async () => {
    const target = await sink()
    const oldSecret = `whsec_${Buffer.from('old secret key of 24 bytes!').toString('base64')}`
    const newSecret = `whsec_${Buffer.from('new secret key of 24 bytes!').toString('base64')}`
    const relay = await relayWith([
      { name: 'signed', url: target.url, events: ['*'], secret: [oldSecret, newSecret] },
    ])
    await relay.post(wgEvent({ id: 7 }))
    await target.waitFor(1)
    const request = target.requests[0]
    if (!request) throw new Error('no request')
    const headers = {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    }
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2)
    for (const secret of [oldSecret, newSecret]) {
      expect(new Webhook(secret).verify(request.body.toString(), headers)).toMatchObject({ id: 7 })
    }
    const stranger = `whsec_${Buffer.from('some other key entirely!!').toString('base64')}`
    expect(() => new Webhook(stranger).verify(request.body.toString(), headers)).toThrow()
    expect(() =>
      new Webhook(newSecret).verify(request.body.toString().replace('hi', 'ho'), headers),
    ).toThrow()
  })
})

describe('retries', () => {
  it('delivers on the third attempt after two 503s, with the same webhook-id each time', async () => {
    const target = await sink()
    target.respondWith((_req, i) => ({ status: i < 2 ? 503 : 200 }))
    const relay = await relayWith([{ name: 't', url: target.url, events: ['*'], retry: fastRetry }])
    await relay.post(wgEvent({ id: 1 }))
    await waitUntil(() => statusOf(relay.dataDir, 't')[0]?.status === 'delivered', 'delivery')
    expect(target.requests).toHaveLength(3)
    expect(new Set(target.requests.map((r) => r.headers['webhook-id']))).toEqual(
      new Set(['191b80a9238:message:1']),
    )
    expect(statusOf(relay.dataDir, 't')[0]).toMatchObject({ attempts: 3, lastStatus: 200 })
  })

  it('honours Retry-After on 429', async () => {
    const target = await sink()
    target.respondWith((_req, i) =>
      i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    )
    const relay = await relayWith([
      { name: 't', url: target.url, events: ['*'], retry: { ...fastRetry, maxDelayMs: 5000 } },
    ])
    await relay.post(wgEvent({ id: 1 }))
    await target.waitFor(2, 5000)
    const [first, second] = target.requests
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950)
  })

  it('stops at once on 410 Gone: the delivery is dead after one attempt', async () => {
    const target = await sink()
    target.respondWith(() => ({ status: 410 }))
    const relay = await relayWith([{ name: 't', url: target.url, events: ['*'], retry: fastRetry }])
    await relay.post(wgEvent({ id: 1 }))
    // A dead delivery is never claimed again: with one attempt recorded, no second request can come.
    await waitUntil(() => statusOf(relay.dataDir, 't')[0]?.status === 'dead', 'dead delivery')
    expect(target.requests).toHaveLength(1)
    expect(statusOf(relay.dataDir, 't')[0]).toMatchObject({
      attempts: 1,
      lastStatus: 410,
      lastError: expect.stringMatching(/gone/),
    })
  })

  it('times out a target that never answers and tries again', async () => {
    const target = await sink()
    target.respondWith((_req, i) => (i === 0 ? { stall: true } : { status: 200 }))
    const relay = await relayWith([
      { name: 't', url: target.url, events: ['*'], timeoutMs: 300, retry: fastRetry },
    ])
    await relay.post(wgEvent({ id: 1 }))
    await waitUntil(() => statusOf(relay.dataDir, 't')[0]?.status === 'delivered', 'delivery after a timeout')
    expect(target.requests).toHaveLength(2)
  })

  it('marks the delivery dead after its last attempt, keeping the last error', async () => {
    const target = await sink()
    target.respondWith(() => ({ status: 500 }))
    const relay = await relayWith([
      { name: 't', url: target.url, events: ['*'], retry: { ...fastRetry, maxAttempts: 3 } },
    ])
    await relay.post(wgEvent({ id: 1 }))
    await waitUntil(() => statusOf(relay.dataDir, 't')[0]?.status === 'dead', 'dead delivery')
    expect(target.requests).toHaveLength(3)
    expect(statusOf(relay.dataDir, 't')[0]).toMatchObject({
      attempts: 3,
      lastStatus: 500,
      lastError: expect.stringContaining('HTTP 500'),
    })
  })

  it('does not let a stalled target delay another target', async () => {
    const [stalled, healthy] = await Promise.all([sink(), sink()])
    stalled.respondWith(() => ({ stall: true }))
    const relay = await relayWith([
      { name: 'stalled', url: stalled.url, events: ['*'], timeoutMs: 20_000, concurrency: 2 },
      { name: 'healthy', url: healthy.url, events: ['*'] },
    ])
    const started = Date.now()
    for (let i = 1; i <= 30; i++) await relay.post(wgEvent({ id: i }))
    await healthy.waitFor(30, 5000)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(stalled.requests).toHaveLength(2)
  })
})

describe('a target that keeps failing', () => {
  // Retries wait at least a tenth of initialDelayMs (6 s here): anything sooner is the relay's doing.
  const slowRetry = { maxAttempts: 10, initialDelayMs: 60_000, maxDelayMs: 60_000 }

  /** 16 events to a target of concurrency 4 that takes 30 ms and answers `status` every time. */
  async function sixteenAnswered(status: number) {
    const target = await sink()
    let inFlight = 0
    const concurrentAtArrival: number[] = []
    // The first four answers wait until all four are in flight, so their overlap does not hang
    // on timing (a bound keeps a relay that sends fewer from hanging the test: it then fails).
    let allFour: () => void = () => {}
    const firstRound = new Promise<void>((resolve) => {
      allFour = resolve
    })
    target.respondWith(async (_request, index) => {
      concurrentAtArrival.push(++inFlight)
      if (inFlight === 4) allFour()
      const answerAfter = new Promise((resolve) => setTimeout(resolve, index < 4 ? 2000 : 30))
      await (index < 4 ? Promise.race([firstRound, answerAfter]) : answerAfter)
      inFlight--
      return { status }
    })
    const relay = await relayWith([
      { name: 't', url: target.url, events: ['*'], concurrency: 4, retry: slowRetry },
    ])
    for (let id = 1; id <= 16; id++) await relay.post(wgEvent({ id }))
    await target.waitFor(16, 5000)
    return { relay, concurrentAtArrival }
  }

  it('gets one request at a time after five failures in a row', async () => {
    const { relay, concurrentAtArrival } = await sixteenAnswered(503)
    // The first rounds go four at once; once five answers have failed, never more than one.
    expect(Math.max(...concurrentAtArrival.slice(0, 4))).toBe(4)
    expect(concurrentAtArrival.slice(9)).toEqual(Array(7).fill(1))
    await waitUntil(
      () => statusOf(relay.dataDir, 't').every((d) => d.status === 'pending' && d.attempts === 1),
      'each failed attempt recorded once',
    )
  })

  it('keeps its full concurrency for a target answering 410: gone is an answer, not a struggle', async () => {
    const { relay, concurrentAtArrival } = await sixteenAnswered(410)
    // Not one at a time, as a failing target gets (its limit still adapts to its latency).
    expect(Math.max(...concurrentAtArrival.slice(8))).toBeGreaterThan(1)
    await waitUntil(
      () => statusOf(relay.dataDir, 't').every((d) => d.status === 'dead' && d.attempts === 1),
      'each delivery dead after its one 410',
    )
  })

  it('sends what waits for a retry as soon as the target answers 2xx again', async () => {
    const target = await sink()
    let down = true
    target.respondWith(() => ({ status: down ? 503 : 200 }))
    const relay = await relayWith([
      { name: 't', url: target.url, events: ['*'], concurrency: 2, retry: slowRetry },
    ])
    for (let id = 1; id <= 8; id++) await relay.post(wgEvent({ id }))
    await target.waitFor(8, 5000)
    down = false
    const recoveredAt = Date.now()
    // A new event finds the target up; the eight failed ones follow it, long before their retry.
    await relay.post(wgEvent({ id: 9 }))
    await waitUntil(
      () => statusOf(relay.dataDir, 't').every((d) => d.status === 'delivered'),
      'every delivery delivered',
      4000,
    )
    expect(Date.now() - recoveredAt).toBeLessThan(4000)
    // Without retries (6 s away) the first eight requests were the eight failed attempts.
    const delivered = target.requests.slice(8).map((r) => r.headers['webhook-id'])
    expect(delivered.sort()).toEqual(
      Array.from({ length: 9 }, (_, i) => `191b80a9238:message:${i + 1}`).sort(),
    )
  })
})

describe('ordering "chat"', () => {
  it('delivers each chat in order while the target fails at random', async () => {
    const target = await sink()
    let seed = 42
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    const accepted = new Set<number>()
    target.respondWith((_request, index) => {
      if (random() < 0.3) return { status: 503 }
      accepted.add(index)
      return { status: 200 }
    })
    const relay = await relayWith([
      {
        name: 'ordered',
        url: target.url,
        events: ['message'],
        ordering: 'chat',
        concurrency: 16,
        retry: { maxAttempts: 50, initialDelayMs: 10, maxDelayMs: 30 },
      },
    ])
    const chats = Array.from({ length: 10 }, (_, c) => `7999000000${c}@c.us`)
    for (let i = 0; i < 200; i++) await relay.post(wgEvent({ id: i, chat: chats[i % 10] }))
    await waitUntil(
      () => readOutbox(relay.dataDir).deliveries.every((d) => d.status === 'delivered'),
      'all 200 delivered',
      30_000,
    )
    const sentByChat = new Map<string, number[]>()
    const acceptedByChat = new Map<string, number[]>()
    for (const [i, request] of target.requests.entries()) {
      const event = JSON.parse(request.body.toString())
      const chat = event.event_data.message.from as string
      sentByChat.set(chat, [...(sentByChat.get(chat) ?? []), event.id])
      if (accepted.has(i)) acceptedByChat.set(chat, [...(acceptedByChat.get(chat) ?? []), event.id])
    }
    expect(acceptedByChat.size).toBe(10)
    for (const [chat, ids] of acceptedByChat) {
      const expected = Array.from({ length: 20 }, (_, k) => chats.indexOf(chat) + 10 * k)
      expect(ids, chat).toEqual(expected)
      // Nothing newer is even attempted while an older message of the chat is unfinished.
      const sent = sentByChat.get(chat) ?? []
      for (let k = 1; k < sent.length; k++)
        expect(sent[k], chat).toBeGreaterThanOrEqual(sent[k - 1] as number)
    }
    expect(target.requests.length).toBeGreaterThan(200) // the failures really happened
  })
})

describe('shutdown', () => {
  it('waits SHUTDOWN_TIMEOUT_MS for sends in flight, then gives them back untouched', async () => {
    const target = await sink()
    target.respondWith(() => ({ stall: true }))
    const relay = await buildTestApp({
      SHUTDOWN_TIMEOUT_MS: '300',
      TARGETS: JSON.stringify([{ name: 't', url: target.url, events: ['*'], timeoutMs: 60_000 }]),
    })
    cleanup.push(() => relay.close())
    for (let id = 1; id <= 3; id++) await relay.post(wgEvent({ id }))
    await target.waitFor(3)
    const started = Date.now()
    await relay.app.close()
    const took = Date.now() - started
    expect(took).toBeGreaterThanOrEqual(290)
    expect(took).toBeLessThan(3000)
    // Due again at once after a restart, no attempt spent on our own shutdown.
    const deliveries = readOutbox(relay.dataDir).deliveries
    expect(deliveries.map((d) => [d.status, d.attempts, d.lastError])).toEqual([
      ['pending', 0, null],
      ['pending', 0, null],
      ['pending', 0, null],
    ])
    expect(readLeases(relay.dataDir)).toEqual([null, null, null])
  })
})
