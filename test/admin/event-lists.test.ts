// The event console's lists through the admin API, on both stores: newest first with cursors both
// ways, each row's outcome per target and message preview, filters by outcome and target, and the
// "why not" of each target an event did not go to (its sessions, its events, its filter, or added
// after the event came).
import { rmSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { freshSchema, postgresSkipReason } from '../support/postgres.ts'
import { buildTestApp, REPLICA_SIGNING_SECRET, tempDir } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Listed {
  seq: number
  eventId: string
  outcomes: { target: string; outcome: string }[]
  preview: { type: string | null; text: string | null } | null
}

const STORES = [
  { name: 'sqlite', skip: null, database: async () => ({}) },
  {
    name: 'postgres',
    skip: postgresSkipReason,
    database: async () => {
      const schema = await freshSchema('event_lists')
      cleanups.push(() => schema.drop())
      return { DATABASE_URL: schema.url, FORWARD_SECRET: REPLICA_SIGNING_SECRET }
    },
  },
]

for (const store of STORES) {
  const title = store.skip
    ? `${store.name}: event lists (skipped: ${store.skip})`
    : `${store.name}: event lists`
  describe.skipIf(store.skip !== null)(title, () => {
    async function relayWith(
      sinks: { ok: Sink; gone: Sink },
      extra: object[],
      env: Record<string, string>,
      dataDir: string,
    ) {
      const targets = [
        { name: 'bot', url: sinks.ok.url, events: ['message'], sessions: ['s1'] },
        { name: 'crm', url: sinks.gone.url, events: ['*'] },
        { name: 'other-session', url: sinks.ok.url, events: ['*'], sessions: ['s2'] },
        { name: 'acks', url: sinks.ok.url, events: ['ack'] },
        { name: 'images', url: sinks.ok.url, events: ['*'], filter: { 'event_data.message.type': 'image' } },
        ...extra,
      ]
      const relay = await buildTestApp({ ADMIN_TOKEN, TARGETS: JSON.stringify(targets), ...env }, dataDir)
      const get = async (url: string) => {
        const answer = await relay.app.inject({ url, headers: auth })
        expect(answer.statusCode, `${url}: ${answer.body}`).toBe(200)
        return answer.json()
      }
      return { relay, get }
    }

    it('lists newest first, both ways, with outcomes and previews; filters by outcome and target; says why not', async () => {
      const ok = await startSink()
      const gone = await startSink({ respondWith: () => ({ status: 410 }) })
      cleanups.push(
        () => ok.close(),
        () => gone.close(),
      )
      const env = await store.database()
      const dataDir = tempDir()
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
      const first = await relayWith({ ok, gone }, [], env, dataDir)
      const long = `where is my order ${'please '.repeat(20)}`
      for (let id = 1; id <= 3; id++) {
        await first.relay.post(wgEvent({ id, whatsappId: 's1', text: id === 3 ? long : `order ${id}` }))
      }
      await waitUntil(() => ok.requests.length === 3 && gone.requests.length === 3, 'every delivery tried')
      await expect.poll(async () => (await first.get('/admin/events?outcome=pending')).events.length).toBe(0)

      const latest = await first.get('/admin/events?limit=2')
      expect(latest.events.map((e: Listed) => e.eventId)).toEqual(['3', '2'])
      expect(latest.newer).toBeNull()
      expect(latest.events[1].outcomes).toEqual([
        { target: 'bot', outcome: 'delivered' },
        { target: 'crm', outcome: 'dead' },
        { target: 'other-session', outcome: 'not_routed' },
        { target: 'acks', outcome: 'not_routed' },
        { target: 'images', outcome: 'not_routed' },
      ])
      expect(latest.events[1].preview).toEqual({ type: 'chat', text: 'order 2' })
      const preview = latest.events[0].preview.text as string
      expect(preview.startsWith('where is my order please')).toBe(true)
      expect(preview.endsWith('…')).toBe(true)
      expect(preview.length).toBeLessThanOrEqual(61)

      const older = await first.get(`/admin/events?limit=2&before=${latest.older}`)
      expect(older.events.map((e: Listed) => e.eventId)).toEqual(['1'])
      expect(older.older).toBeNull()
      const newer = await first.get(`/admin/events?limit=2&after=${older.newer}`)
      expect(newer.events.map((e: Listed) => e.eventId)).toEqual(['3', '2'])
      expect(newer.newer).toBeNull()

      const ids = async (query: string) =>
        (await first.get(`/admin/events?${query}`)).events.map((e: Listed) => e.eventId)
      expect(await ids('outcome=dead')).toEqual(['3', '2', '1'])
      expect(await ids('outcome=dead&target=crm&limit=1')).toEqual(['3'])
      expect(await ids('outcome=dead&target=bot')).toEqual([])
      expect(await ids('outcome=delivered&target=bot')).toEqual(['3', '2', '1'])
      expect(await ids('target=acks')).toEqual([])
      expect(await ids('outcome=retrying')).toEqual([])
      const bad = await first.relay.app.inject({ url: '/admin/events?outcome=lost', headers: auth })
      expect(bad.statusCode).toBe(400)

      const key = encodeURIComponent('s1:message:1')
      const detail = await first.get(`/admin/events/${key}`)
      expect(detail.routing).toEqual([
        { target: 'bot', outcome: 'delivered', reason: null },
        { target: 'crm', outcome: 'dead', reason: null },
        {
          target: 'other-session',
          outcome: 'not_routed',
          reason: { kind: 'sessions', path: null, message: 'its sessions (s2) do not include s1' },
        },
        {
          target: 'acks',
          outcome: 'not_routed',
          reason: { kind: 'events', path: null, message: 'its events (ack) do not include message' },
        },
        {
          target: 'images',
          outcome: 'not_routed',
          reason: {
            kind: 'filter',
            path: 'event_data.message.type',
            message: 'its filter did not match at event_data.message.type',
          },
        },
      ])
      await first.relay.app.close()

      // The same outbox with a target added since: it would take the event now, and says so.
      const second = await relayWith(
        { ok, gone },
        [{ name: 'late', url: ok.url, events: ['*'] }],
        env,
        dataDir,
      )
      cleanups.push(() => second.relay.app.close())
      const later = await second.get(`/admin/events/${key}`)
      expect(later.routing.at(-1)).toEqual({
        target: 'late',
        outcome: 'not_routed',
        reason: { kind: 'added_later', path: null, message: expect.stringContaining('after the event came') },
      })
    })
  })
}
