// The whole relay (buildApp, as main.ts runs it) against the fake WhatsGate: set-hook at start,
// a WhatsGate outage at start, backfill after downtime, and inline media. Targets are real HTTP
// sinks on 127.0.0.1; nothing here talks to anything else.

import { afterEach, describe, expect, it } from 'vitest'
import { CHECK_INTERVAL_MS } from '../../src/alerts/alerts.ts'
import type { RelayOptions } from '../../src/relay.ts'
import type { RegistrationStatus } from '../../src/whatsgate/registrar.ts'
import { waitUntil, wgEvent } from '../support/events.ts'
import { type FakeWhatsGate, startFakeWhatsGate } from '../support/fake-whatsgate.ts'
import { createManualClock } from '../support/manual-clock.ts'
import { buildTestApp, readOutbox, TEST_TOKEN, tempDir } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const API_KEY = 'integration-key-8c2d51e0f3'
const PUBLIC_URL = 'https://relay.example.test'
const CALLBACK = `${PUBLIC_URL}/webhook/${TEST_TOKEN}`
const fastRetry = { maxAttempts: 5, initialDelayMs: 20, maxDelayMs: 50 }
/** WhatsGate's retries in tens of milliseconds instead of seconds: a failed round, then the next. */
const quickWhatsGateRetries: RelayOptions = {
  delays: { whatsgateBackoff: () => 10, whatsgateRetry: () => 50 },
}

let cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

async function fakeWith(options: Omit<Parameters<typeof startFakeWhatsGate>[0], 'apiKey'>) {
  const fake = await startFakeWhatsGate({ apiKey: API_KEY, ...options })
  cleanup.push(() => fake.close())
  return fake
}

async function sink(): Promise<Sink> {
  const s = await startSink()
  cleanup.push(() => s.close())
  return s
}

type TestRelay = Awaited<ReturnType<typeof buildTestApp>>

/** The real app wired to the fake; started (registration, backfill, dispatcher) by ready(). */
async function relayFor(
  fake: FakeWhatsGate,
  env: Record<string, string> = {},
  dataDir?: string,
  options: RelayOptions = {},
) {
  const relay = await buildTestApp(
    { WHATSGATE_API_URL: fake.url, WHATSGATE_API_KEY: API_KEY, PUBLIC_URL, ...env },
    dataDir ?? tempDir(),
    options,
  )
  cleanup.push(() => relay.close())
  await relay.app.ready()
  return relay
}

interface Readiness {
  status: string
  registration: RegistrationStatus | null
  backfill: { whatsappId: string; from: string | null; fetched: number; accepted: number }[] | null
}

async function readyz(relay: TestRelay): Promise<{ text: string; body: Readiness; statusCode: number }> {
  const response = await relay.app.inject({ method: 'GET', url: '/readyz' })
  return { text: response.body, body: response.json(), statusCode: response.statusCode }
}

/** Polls /readyz until `check` holds; returns the last answer. */
async function readyzUntil(relay: TestRelay, check: (r: Readiness) => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const answer = await readyz(relay)
    if (check(answer.body)) return answer
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${answer.text}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const outcomes = (r: Readiness) =>
  Object.fromEntries((r.registration?.sessions ?? []).map((s) => [s.whatsappId, s.outcome]))

describe('registration at start', () => {
  it('sets the callback on the configured sessions only, and /readyz shows each outcome without the token', async () => {
    const fake = await fakeWith({
      sessions: [
        { unique_id: 'wa-1', callback: 'https://old.example/hook' },
        { unique_id: 'wa-2' },
        { unique_id: 'wa-3', callback: CALLBACK },
      ],
    })
    const relay = await relayFor(fake, { WHATSGATE_WHATSAPP_IDS: 'wa-1, wa-3,wa-missing' })

    const { body, text, statusCode } = await readyzUntil(
      relay,
      (r) => outcomes(r)['wa-1'] === 'registered' && outcomes(r)['wa-missing'] === 'failed',
      'wa-1 registered and wa-missing failed',
    )
    expect(statusCode).toBe(200)
    expect(body.status).toBe('ready')
    expect(outcomes(body)).toEqual({ 'wa-1': 'registered', 'wa-3': 'already', 'wa-missing': 'failed' })
    expect(body.registration?.discovery).toBe('explicit')
    expect(body.registration?.state).toBe('running')
    expect(body.registration?.sessions.find((s) => s.whatsappId === 'wa-missing')?.error).toMatch(
      /WhatsApp not found/,
    )
    expect(Object.fromEntries(fake.hooks)).toEqual({ 'wa-1': CALLBACK, 'wa-3': CALLBACK })
    // wa-3 already pointed here: no set-hook for it; wa-2 was never named.
    const hooked = fake.callsOf('set-hook').map((c) => (c.body as { WhatsappID: string }).WhatsappID)
    expect(new Set(hooked)).toEqual(new Set(['wa-1', 'wa-missing']))
    expect(text).not.toContain(TEST_TOKEN)
    // A session WhatsGate refuses does not hold back the backfill of the others.
    const backfilled = await readyzUntil(relay, (r) => r.backfill?.length === 2, 'the start-up backfill')
    expect(backfilled.body.backfill?.map((b) => b.whatsappId).sort()).toEqual(['wa-1', 'wa-3'])
    expect(text).not.toContain(API_KEY)
  })

  it('discovers every session over several sessions-get pages and registers them all', async () => {
    const sessions = Array.from({ length: 23 }, (_, i) => ({
      unique_id: `wa-${String(i + 1).padStart(2, '0')}`,
      callback: i === 4 ? CALLBACK : i === 7 ? 'https://elsewhere.example/hook' : '',
    }))
    const fake = await fakeWith({ sessions })
    const relay = await relayFor(fake)

    const { body, text } = await readyzUntil(relay, (r) => r.registration?.state === 'done', 'registration')
    expect(fake.callsOf('sessions-get').map((c) => (c.body as { page?: number }).page)).toEqual([1, 2, 3])
    expect(body.registration?.discovery).toBe('done')
    const expected = Object.fromEntries(
      sessions.map((s) => [s.unique_id, s.callback === CALLBACK ? 'already' : 'registered']),
    )
    expect(outcomes(body)).toEqual(expected)
    expect([...fake.hooks.values()]).toHaveLength(23)
    for (const [id, hook] of fake.hooks) expect(hook, id).toBe(CALLBACK)
    expect(fake.callsOf('set-hook')).toHaveLength(22)
    expect(text).not.toContain(TEST_TOKEN)
  })
})

describe('a rejected API key', () => {
  it('shows in /readyz and in the metrics, without a session to name', async () => {
    const fake = await startFakeWhatsGate({
      apiKey: 'another-key-0000000000',
      sessions: [{ unique_id: 'wa-1' }],
    })
    cleanup.push(() => fake.close())
    const clock = createManualClock()
    const relay = await relayFor(fake, { ADMIN_TOKEN: 'admin-token-0123456789' }, undefined, { clock })
    const { body, text } = await readyzUntil(
      relay,
      (r) => r.registration?.unauthorized === true,
      'Unauthorized',
    )
    expect(body.registration).toMatchObject({ state: 'running', discovery: 'failed', sessions: [] })
    expect(text).not.toContain(API_KEY)
    const metrics = await relay.app.inject({
      url: '/metrics',
      headers: { authorization: 'Bearer admin-token-0123456789' },
    })
    expect(metrics.body).toContain('whatsgate_relay_registration_state{state="unauthorized"} 1')
    // One refused discovery, then the slow retry (15 min): no tight loop. Time stands still, so the
    // registrar's one wait on the clock is all that will happen until the test moves it.
    // (Beside it, the alerts loop's next check.)
    await waitUntil(() => clock.pending().includes(15 * 60_000), 'the registrar waiting to retry')
    expect(clock.pending().filter((ms) => ms !== CHECK_INTERVAL_MS)).toEqual([15 * 60_000])
    expect(fake.callsOf('sessions-get')).toHaveLength(1)
    clock.advance(15 * 60_000)
    await waitUntil(() => fake.callsOf('sessions-get').length === 2, 'the retry 15 min later')
  })
})

describe('WhatsGate down at start', () => {
  it('takes webhooks meanwhile and finishes registration once WhatsGate is back, without a restart', async () => {
    const target = await sink()
    const fake = await fakeWith({ sessions: [{ unique_id: 'wa-1' }, { unique_id: 'wa-2' }] })
    fake.setDown(true)
    const relay = await relayFor(
      fake,
      { TARGETS: JSON.stringify([{ name: 'all', url: target.url, events: ['*'], retry: fastRetry }]) },
      undefined,
      quickWhatsGateRetries,
    )

    const during = await relay.post(wgEvent({ id: 1, whatsappId: 'wa-1' }))
    expect(during.statusCode).toBe(200)
    expect(during.json()).toEqual({ result: 'OK', id: 1 })
    await target.waitFor(1)

    const failedRound = await readyzUntil(
      relay,
      (r) => r.registration?.discovery === 'failed',
      'a failed discovery round',
    )
    expect(failedRound.statusCode).toBe(200)
    expect(failedRound.body.registration?.state).toBe('running')
    expect(fake.hooks.size).toBe(0)
    const refusedCalls = fake.calls.length
    expect(refusedCalls).toBeGreaterThan(0)

    fake.setDown(false)
    expect((await relay.post(wgEvent({ id: 2, whatsappId: 'wa-2' }))).statusCode).toBe(200)
    const { body } = await readyzUntil(relay, (r) => r.registration?.state === 'done', 'registration', 15_000)
    expect(outcomes(body)).toEqual({ 'wa-1': 'registered', 'wa-2': 'registered' })
    expect(Object.fromEntries(fake.hooks)).toEqual({ 'wa-1': CALLBACK, 'wa-2': CALLBACK })
    expect(readOutbox(relay.dataDir).events.map((e) => e.key)).toEqual(['wa-1:message:1', 'wa-2:message:2'])
  })
})

/** Event n of wa-1, 20 s after event n-1, as WhatsGate would post and list it. */
function event(n: number) {
  const date = new Date(Date.UTC(2024, 5, 1, 8, 0, 0) + n * 20_000).toISOString().slice(0, 19)
  return {
    id: n,
    whatsapp_id: 'wa-1',
    event_action: n % 5 === 0 ? 'ack' : 'message',
    event_date: date.replace('T', ' '),
    status_code: null,
    event_data: { message: { id: `false_7999000${n % 3}@c.us_3EB0${n}`, body: `text ${n}`, ack: 1 } },
  }
}

/**
 * WhatsGate holds `total` events of wa-1; a first run of the relay took the first `received` by
 * webhook and delivered them, then went away. The second run is the test's.
 */
async function afterDowntime(total: number, received: number) {
  const events = Array.from({ length: total }, (_, i) => event(i + 1))
  const fake = await fakeWith({ sessions: [{ unique_id: 'wa-1' }], events })
  const target = await sink()
  const env = {
    WHATSGATE_WHATSAPP_IDS: 'wa-1',
    TARGETS: JSON.stringify([{ name: 'all', url: target.url, events: ['*'], retry: fastRetry }]),
  }
  const dataDir = tempDir()
  const first = await relayFor(fake, { ...env, BACKFILL_ON_START: 'false' }, dataDir)
  for (const e of events.slice(0, received))
    expect((await first.post(JSON.stringify(e))).statusCode).toBe(200)
  await target.waitFor(received)
  await first.app.close() // not first.close(): that would delete the data folder
  return { events, fake, target, env, dataDir }
}

describe('backfill after downtime', () => {
  it('delivers every event exactly once: those received by webhook and the missed ones over several pages', async () => {
    const total = 350
    const received = 60
    const { events, fake, target, env, dataDir } = await afterDowntime(total, received)

    // Second run on the same outbox: backfill fetches what was missed, from a minute before the
    // newest stored event, in pages of 100.
    const second = await relayFor(fake, env, dataDir)
    const { body } = await readyzUntil(second, (r) => r.backfill?.length === 1, 'the start-up backfill')
    await target.waitFor(total)
    // Every delivery is delivered and none is ever claimed again: what the target got is final.
    await waitUntil(
      () => readOutbox(dataDir).deliveries.every((d) => d.status === 'delivered'),
      'every delivery recorded',
    )

    const ids = target.requests.map((r) => String(r.headers['webhook-id']))
    const expected = events.map((e) => `wa-1:${e.event_action}:${e.id}`)
    expect(ids.length).toBe(total)
    expect(new Set(ids).size).toBe(total)
    expect([...ids].sort()).toEqual([...expected].sort())
    expect(readOutbox(dataDir).deliveries).toHaveLength(total)

    // 57..60 fall in the one-minute overlap: fetched again, dropped as duplicates.
    const overlapFrom = events[received - 4]?.event_date
    expect(body.backfill).toEqual([
      expect.objectContaining({ whatsappId: 'wa-1', from: overlapFrom, fetched: total - received + 4 }),
    ])
    expect(body.backfill?.[0]).toMatchObject({ accepted: total - received, duplicates: 4, invalid: 0 })
    const pages = fake.callsOf('events-get').map((c) => (c.body as { page: number }).page)
    expect(pages).toEqual([1, 2, 3])
    // What the target got is what WhatsGate sent, byte for byte.
    for (const e of [events[0], events[received + 10], events[total - 1]]) {
      const sample = target.requests.find(
        (r) => r.headers['webhook-id'] === `wa-1:${e?.event_action}:${e?.id}`,
      )
      expect(sample?.body.toString()).toBe(JSON.stringify(e))
    }
  })
})

describe('backfill after downtime, with WhatsGate down when the relay comes back', () => {
  it('fetches the gap once WhatsGate is back, from before the first live event', async () => {
    const { events, fake, target, env, dataDir } = await afterDowntime(30, 10)

    // Back up while WhatsGate is down; WhatsGate's next live event arrives before the backfill.
    fake.setDown(true)
    const second = await relayFor(fake, env, dataDir, quickWhatsGateRetries)
    const live = event(31)
    expect((await second.post(JSON.stringify(live))).statusCode).toBe(200)
    await readyzUntil(
      second,
      (r) => r.registration?.state === 'running' && fake.calls.length > 0,
      'a refused call',
    )
    fake.setDown(false)

    const { body } = await readyzUntil(
      second,
      (r) => r.backfill?.length === 1,
      'the start-up backfill',
      15_000,
    )
    // From a minute before event 10 (the newest before this start), not before the live event 31.
    expect(body.backfill?.[0]).toMatchObject({ from: events[6]?.event_date, accepted: 20, duplicates: 4 })
    await target.waitFor(31)
    // Every delivery is delivered and none is ever claimed again: what the target got is final.
    await waitUntil(() => {
      const deliveries = readOutbox(dataDir).deliveries
      return deliveries.length === 31 && deliveries.every((d) => d.status === 'delivered')
    }, 'every delivery recorded')
    const ids = target.requests.map((r) => String(r.headers['webhook-id']))
    expect(ids).toHaveLength(31)
    expect(new Set(ids)).toEqual(new Set([...events, live].map((e) => `wa-1:${e.event_action}:${e.id}`)))
  })
})

describe('inline media', () => {
  it('gives the inline target the media from get-messagemedia and the other target the original bytes', async () => {
    const messageId = 'false_79990000001@c.us_3EB0MEDIA77'
    const media = {
      mimetype: 'image/jpeg',
      filename: 'photo.jpg',
      data: Buffer.from('jpeg bytes').toString('base64'),
    }
    const fake = await fakeWith({ sessions: [{ unique_id: 'wa-1' }], media: { [messageId]: media } })
    const [inline, plain] = await Promise.all([sink(), sink()])
    const relay = await relayFor(fake, {
      REGISTER_ON_START: 'false',
      BACKFILL_ON_START: 'false',
      TARGETS: JSON.stringify([
        { name: 'inline', url: inline.url, events: ['message'], media: 'inline', retry: fastRetry },
        { name: 'plain', url: plain.url, events: ['message'], retry: fastRetry },
      ]),
    })
    // Spacing, key order and escapes that a re-serialisation would change.
    const original = `{ "id": 77, "whatsapp_id": "wa-1", "event_action": "message",
  "event_date": "2024-06-01 08:00:00", "status_code": null,
  "event_data": { "message": { "_id": "3EB0MEDIA77", "id": "${messageId}",
    "hasMedia": true, "mediaKey": "mk==", "body": "\\u0444\\u043e\\u0442\\u043e", "type": "image" } } }`
    expect((await relay.post(original)).statusCode).toBe(200)
    await Promise.all([inline.waitFor(1), plain.waitFor(1)])

    expect(plain.requests[0]?.body.equals(Buffer.from(original))).toBe(true)
    const inlined = JSON.parse(inline.requests[0]?.body.toString() ?? 'null')
    expect(inlined.event_data.message.media).toEqual(media)
    const { media: _media, ...rest } = inlined.event_data.message
    expect({ ...inlined, event_data: { message: rest } }).toEqual(JSON.parse(original))
    expect(fake.callsOf('get-messagemedia').map((c) => c.body)).toEqual([
      { WhatsappID: 'wa-1', MessageID: messageId },
    ])
    expect(inline.requests[0]?.headers['webhook-id']).toBe('wa-1:message:77')
  })
})
