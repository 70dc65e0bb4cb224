// Attempt history through the real app: a real target on a real port, the dispatcher's own
// attempts, read back through the admin API, on SQLite and PostgreSQL (test/support/postgres.ts).
import { afterEach, describe, expect, it } from 'vitest'
import { wgEvent } from '../support/events.ts'
import { freshSchema, postgresSkipReason, type TestSchema } from '../support/postgres.ts'
import { buildTestApp, REPLICA_SIGNING_SECRET } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const fastRetry = { maxAttempts: 5, initialDelayMs: 20, maxDelayMs: 50 }
const KEY = '191b80a9238:message:1'

interface StoreSetup {
  name: string
  skip: string | null
  /** Extra environment for the relay, and what to remove after. */
  open(): Promise<{ env: Record<string, string>; drop(): Promise<void> }>
}

const stores: StoreSetup[] = [
  { name: 'sqlite', skip: null, open: async () => ({ env: {}, drop: async () => {} }) },
  {
    name: 'postgres',
    skip: postgresSkipReason,
    async open() {
      const schema: TestSchema = await freshSchema('attempt_history')
      return {
        env: { DATABASE_URL: schema.url, FORWARD_SECRET: REPLICA_SIGNING_SECRET },
        drop: () => schema.drop(),
      }
    },
  },
]

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

type Relay = Awaited<ReturnType<typeof buildTestApp>>

async function relayFor(store: StoreSetup, targets: object[]): Promise<Relay> {
  const { env, drop } = await store.open()
  cleanups.push(drop)
  const relay = await buildTestApp({ ...env, ADMIN_TOKEN, TARGETS: JSON.stringify(targets) })
  cleanups.push(() => relay.close())
  return relay
}

async function startTarget(options: Parameters<typeof startSink>[0]): Promise<Sink> {
  const sink = await startSink(options)
  cleanups.push(() => sink.close())
  return sink
}

const get = async (relay: Relay, url: string) => {
  const response = await relay.app.inject({ url, headers: auth })
  return { status: response.statusCode, body: response.json() }
}

/** The event's detail once every delivery of it is finished. */
async function finishedEvent(relay: Relay, key = KEY) {
  let detail: { status: number; body: { deliveries?: { status: string }[] } } | undefined
  const url = `/admin/events/${encodeURIComponent(key)}`
  const deadline = Date.now() + 10_000
  for (;;) {
    detail = await get(relay, url)
    const deliveries = detail.body.deliveries ?? []
    if (detail.status === 200 && deliveries.length > 0 && deliveries.every((d) => d.status !== 'pending')) {
      return detail.body as Record<string, unknown> & { deliveries: Record<string, unknown>[] }
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${key}: ${JSON.stringify(detail)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

for (const store of stores) {
  const title = store.skip ? `${store.name} (skipped: ${store.skip})` : store.name
  describe.skipIf(store.skip !== null)(`attempt history on ${title}`, () => {
    it('a delivery answered 500 three times, then 200, shows four attempts with statuses and excerpts', async () => {
      const sink = await startTarget({
        respondWith: (_, i) =>
          i < 3
            ? { status: 500, body: JSON.stringify({ error: `down ${i + 1}`, text: 'привет 👋' }) }
            : { status: 200, body: '{"ok":true}' },
      })
      const relay = await relayFor(store, [
        { name: 'crm', url: `${sink.url}/hook`, events: ['*'], retry: fastRetry },
      ])
      const body = wgEvent({ id: 1, text: 'привет' })
      expect((await relay.post(body)).statusCode).toBe(200)

      const event = await finishedEvent(relay)
      expect(event).toMatchObject({
        key: KEY,
        whatsappId: '191b80a9238',
        eventId: '1',
        action: 'message',
        eventDate: '2022-09-07 18:29:37',
        issues: null,
        body,
        bodyEncoding: 'utf8',
      })
      const [delivery] = event.deliveries
      expect(delivery).toMatchObject({ target: 'crm', status: 'delivered', attempts: 4, lastStatus: 200 })
      const history = delivery?.history as Record<string, unknown>[]
      expect(history.map((a) => [a.status, a.errorClass, a.error, a.responseExcerpt])).toEqual([
        [500, 'http', null, '{"error":"down 1","text":"привет 👋"}'],
        [500, 'http', null, '{"error":"down 2","text":"привет 👋"}'],
        [500, 'http', null, '{"error":"down 3","text":"привет 👋"}'],
        [200, null, null, '{"ok":true}'],
      ])
      // One dispatcher made them all; each started after the one before it ended.
      expect(new Set(history.map((a) => a.replica)).size).toBe(1)
      expect(history[0]?.replica).toMatch(/^[0-9a-f-]{36}$/)
      for (const [i, attempt] of history.entries()) {
        expect(attempt.deliveryId).toBe(delivery?.id)
        expect(attempt.durationMs).toBeGreaterThanOrEqual(0)
        const previous = history[i - 1]
        if (previous) {
          expect(attempt.startedAt as number).toBeGreaterThanOrEqual(
            (previous.startedAt as number) + (previous.durationMs as number) - 1,
          )
        }
      }
      expect(sink.requests).toHaveLength(4)

      // The delivery on its own: the same, oldest first.
      const one = await get(relay, `/admin/deliveries/${delivery?.id}`)
      expect(one.status).toBe(200)
      expect(one.body).toEqual(delivery)
    })

    it('an attempt without an answer keeps its error class and message, with a null status', async () => {
      const stalled = await startTarget({ respondWith: () => ({ stall: true }) })
      const gone = await startSink()
      const refusedUrl = gone.url
      await gone.close()
      const relay = await relayFor(store, [
        {
          name: 'slow',
          url: stalled.url,
          events: ['*'],
          timeoutMs: 200,
          retry: { ...fastRetry, maxAttempts: 1 },
        },
        { name: 'down', url: refusedUrl, events: ['*'], retry: { ...fastRetry, maxAttempts: 1 } },
      ])
      await relay.post(wgEvent({ id: 1 }))
      const event = await finishedEvent(relay)
      const byTarget = Object.fromEntries(
        event.deliveries.map((d) => [d.target, (d.history as Record<string, unknown>[])[0]]),
      )
      expect(byTarget.slow).toMatchObject({
        status: null,
        errorClass: 'timeout',
        error: expect.stringContaining('timeout after 200 ms'),
        responseExcerpt: null,
      })
      expect(byTarget.slow?.durationMs).toBeGreaterThanOrEqual(150)
      expect(byTarget.down).toMatchObject({
        status: null,
        errorClass: 'connection',
        error: expect.stringContaining('ECONNREFUSED'),
        responseExcerpt: null,
      })
      expect(event.deliveries.map((d) => (d.history as unknown[]).length)).toEqual([1, 1])
    })

    it('names a bad id or key (400) and an unknown one (404)', async () => {
      const relay = await relayFor(store, [])
      // A string id of 128 characters: a key longer than a route parameter may be (100).
      const longId = 'x'.repeat(128)
      await relay.post(JSON.stringify({ id: longId, whatsapp_id: 's/1', event_action: 'custom' }))

      for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
        const bad = await get(relay, `/admin/deliveries/${id}`)
        expect(bad.status, id).toBe(400)
        expect(bad.body.issues, id).toEqual([expect.objectContaining({ path: 'id' })])
      }
      expect(await get(relay, '/admin/deliveries/12345')).toEqual({
        status: 404,
        body: { error: 'unknown delivery 12345' },
      })

      for (const key of ['nokey', 'a:b', 'a::1', `a:b:${'1'.repeat(129)}`, '']) {
        const bad = await get(relay, `/admin/events/${encodeURIComponent(key)}`)
        expect(bad.status, key).toBe(400)
        expect(bad.body.issues, key).toEqual([expect.objectContaining({ path: 'key' })])
      }
      expect(await get(relay, `/admin/events/${encodeURIComponent('s:message:2')}`)).toEqual({
        status: 404,
        body: { error: 'unknown event "s:message:2"' },
      })

      const long = await get(relay, `/admin/events/${encodeURIComponent(`s/1:custom:${longId}`)}`)
      expect(long.status).toBe(200)
      expect(long.body).toMatchObject({ key: `s/1:custom:${longId}`, action: 'custom', deliveries: [] })
    })
  })
}

describe('attempt history routes', () => {
  it('refuse a missing token', async () => {
    const relay = await relayFor(stores[0] as StoreSetup, [])
    for (const url of ['/admin/deliveries/1', `/admin/events/${encodeURIComponent(KEY)}`]) {
      expect((await relay.app.inject({ url })).statusCode, url).toBe(401)
    }
  })
})
