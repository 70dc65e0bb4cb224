import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createWhatsGateClient } from '../../src/whatsgate/api-client.ts'
import {
  isUnauthorized,
  WhatsGateApiError,
  WhatsGateUnavailableError,
} from '../../src/whatsgate/api-errors.ts'
import { captureLogger, type FakeWhatsGate, startFakeWhatsGate } from '../support/fake-whatsgate.ts'

const API_KEY = 'test-key-0f3c9a7e51d24b8e'
const silent = pino({ level: 'silent' })

let fake: FakeWhatsGate
afterEach(async () => {
  await fake?.close()
})

function client(overrides: Partial<Parameters<typeof createWhatsGateClient>[0]> = {}) {
  return createWhatsGateClient({
    baseUrl: fake.url,
    apiKey: API_KEY,
    log: silent,
    backoff: () => 1,
    ...overrides,
  })
}

describe('WhatsGate API client', () => {
  it('POSTs JSON to <base>/<command> with X-Api-Key and Content-Type', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions: [{ unique_id: 'wa1' }] })
    await client().setHook('wa1', 'https://relay.example/webhook/tok')

    expect(fake.calls).toHaveLength(1)
    const [call] = fake.calls
    expect(call?.command).toBe('set-hook')
    expect(call?.headers['x-api-key']).toBe(API_KEY)
    expect(call?.headers['content-type']).toBe('application/json')
    expect(call?.body).toEqual({ WhatsappID: 'wa1', callback: 'https://relay.example/webhook/tok' })
    expect(fake.hooks.get('wa1')).toBe('https://relay.example/webhook/tok')
  })

  it('accepts a base URL with a trailing slash', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions: [{ unique_id: 'wa1' }] })
    await client({ baseUrl: `${fake.url}/` }).setHook('wa1', 'https://x/y')
    expect(fake.calls[0]?.command).toBe('set-hook')
  })

  it('turns the documented HTTP 500 answer into WhatsGateApiError, without retrying', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions: [{ unique_id: 'wa1' }] })
    const err = await client({ apiKey: 'wrong' })
      .setHook('wa1', 'https://x/y')
      .catch((e: unknown) => e)

    expect(err).toBeInstanceOf(WhatsGateApiError)
    const apiError = err as WhatsGateApiError
    expect(apiError.command).toBe('set-hook')
    expect(apiError.name).toBe('Unauthorized')
    expect(apiError.code).toBe(0)
    expect(apiError.message).toBe(
      'set-hook failed: Unauthorized (code 0): Your request was made with invalid credentials.',
    )
    expect(isUnauthorized(err)).toBe(true)
    expect(fake.calls).toHaveLength(1)
  })

  it('treats a result other than OK as an error, without retrying', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY })
    fake.failNext('sessions-get', 1, 'result')
    const err = await client()
      .sessionsGet()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WhatsGateApiError)
    expect((err as Error).message).toBe('sessions-get failed: result "ERROR": Something went wrong')
    expect(fake.calls).toHaveLength(1)
  })

  it.each(['reset', '503', 'html'] as const)(
    'retries an outage (%s) with backoff, then succeeds',
    async (kind) => {
      fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions: [{ unique_id: 'wa1' }] })
      fake.failNext('sessions-get', 2, kind)
      const waits: number[] = []
      const backoff = (n: number) => {
        waits.push(n)
        return 1
      }
      const page = await client({ backoff }).sessionsGet()

      expect(page.data.map((s) => s.unique_id)).toEqual(['wa1'])
      expect(fake.callsOf('sessions-get').map((c) => c.outcome)).toEqual([kind, kind, 'ok'])
      expect(waits).toEqual([1, 2])
    },
  )

  it('gives up after the retries with WhatsGateUnavailableError', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY })
    fake.setDown(true, '503')
    const err = await client({ retries: 2 })
      .sessionsGet()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WhatsGateUnavailableError)
    expect((err as Error).message).toBe(
      'sessions-get failed: WhatsGate unavailable after 3 attempt(s): HTTP 503, not a JSON object',
    )
    expect(fake.calls).toHaveLength(3)
  })

  it('times out a call that never answers', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY })
    fake.failNext('*', 5, 'hang')
    const started = Date.now()
    const err = await client({ timeoutMs: 100, retries: 1 })
      .sessionsGet()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WhatsGateUnavailableError)
    expect((err as Error).message).toContain('timed out after 100 ms')
    expect(fake.calls).toHaveLength(2)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('stops retrying when its signal is aborted', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY })
    fake.setDown(true)
    const abort = new AbortController()
    const pending = client({ backoff: () => 60_000 })
      .sessionsGet({}, { signal: abort.signal })
      .catch((e: unknown) => e)
    await expect.poll(() => fake.calls.length).toBe(1)
    abort.abort(new Error('stopping'))
    expect(((await pending) as Error).message).toBe('stopping')
    expect(fake.calls).toHaveLength(1)
  })

  it('reads one page of sessions-get and every page with listAllSessions', async () => {
    const sessions = Array.from({ length: 23 }, (_, i) => ({ unique_id: `wa${i}` }))
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions })
    const api = client()

    const first = await api.sessionsGet({ page: 2 })
    expect(first).toMatchObject({ page: 2, pages: 3, elements: 23 })
    expect(first.data.map((s) => s.unique_id)).toEqual(sessions.slice(10, 20).map((s) => s.unique_id))

    fake.calls.length = 0
    const all = await api.listAllSessions()
    expect(all.map((s) => s.unique_id)).toEqual(sessions.map((s) => s.unique_id))
    expect(fake.calls.map((c) => (c.body as { page: number }).page)).toEqual([1, 2, 3])
  })

  it('passes events-get filters through', async () => {
    const event = (id: number, wa: string, date: string) => ({
      id,
      whatsapp_id: wa,
      event_action: 'message',
      event_date: date,
      status_code: null,
      event_data: {},
    })
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      events: [
        event(1, 'a', '2024-01-01 10:00:00'),
        event(2, 'b', '2024-01-01 11:00:00'),
        event(3, 'a', '2024-01-02 09:00:00'),
      ],
    })
    const page = await client().eventsGet({ WhatsappID: 'a', date: '2024-01-01 12:00:00' })
    expect(page.data).toEqual([event(3, 'a', '2024-01-02 09:00:00')])
    expect(fake.calls[0]?.body).toEqual({ WhatsappID: 'a', date: '2024-01-01 12:00:00' })
  })

  it('fetches message media and reports an unknown message as an API error', async () => {
    const media = {
      mimetype: 'image/jpeg',
      filename: 'image.jpg',
      data: Buffer.from('jpeg').toString('base64'),
    }
    fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { 'false_1@c.us_AA': media } })
    const api = client()
    expect(await api.getMessageMedia('wa1', 'false_1@c.us_AA')).toEqual(media)
    expect(fake.calls[0]?.body).toEqual({ WhatsappID: 'wa1', MessageID: 'false_1@c.us_AA' })
    await expect(api.getMessageMedia('wa1', 'false_1@c.us_BB')).rejects.toThrow(WhatsGateApiError)
  })

  it('never writes the API key into logs or error messages', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions: [{ unique_id: 'wa1' }] })
    const { log, lines } = captureLogger('trace')
    const api = client({ log, retries: 1 })
    const messages: string[] = []
    const record = (e: unknown) =>
      void messages.push(String((e as Error).message), String((e as Error).stack))

    await api.setHook('wa1', 'https://x/y')
    fake.failNext('sessions-get', 2, 'reset')
    await api.sessionsGet().catch(record)
    fake.failNext('sessions-get', 1, { name: 'Forbidden', message: `key ${API_KEY} is blocked`, code: 3 })
    await api.sessionsGet().catch(record)
    await createWhatsGateClient({ baseUrl: fake.url, apiKey: `${API_KEY}x`, log, backoff: () => 1 })
      .sessionsGet()
      .catch(record)

    expect(lines.length).toBeGreaterThan(2)
    expect(messages).toHaveLength(6)
    expect(messages[2]).toBe('sessions-get failed: Forbidden (code 3): key [redacted] is blocked')
    for (const text of [...lines, ...messages]) expect(text).not.toContain(API_KEY)
  })
})
