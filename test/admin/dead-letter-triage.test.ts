// Dead-letter triage through the admin API, on both stores, against a real local target that
// answers 500 until it is fixed: grouped by cause, a bulk replay by time window delivers exactly
// the dead letters it matched, once; a discarded one stays out of bulk replays and replay-all;
// the audit log says who did what and how; attempt rows say which replay they belong to.
import { rmSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../support/browser.ts'
import { wgEvent } from '../support/events.ts'
import { freshSchema, postgresSkipReason } from '../support/postgres.ts'
import { buildTestApp, REPLICA_SIGNING_SECRET, tempDir } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const VIEWER_TOKEN = 'viewer-token-0123456789'

type Relay = Awaited<ReturnType<typeof buildTestApp>>

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const stores = [
  { name: 'sqlite', skip: null, env: async () => ({}) },
  {
    name: 'postgres',
    skip: postgresSkipReason,
    env: async () => {
      const schema = await freshSchema('dead_letter_triage')
      cleanups.push(() => schema.drop())
      return { DATABASE_URL: schema.url, FORWARD_SECRET: REPLICA_SIGNING_SECRET }
    },
  },
]

/** A moment no event was received in: the clock has moved past the last one and the next waits. */
async function boundary(): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 5))
  const at = new Date().toISOString()
  await new Promise((resolve) => setTimeout(resolve, 5))
  return at
}

const idOf = (body: Buffer) => JSON.parse(body.toString()).id as number

for (const store of stores) {
  const title = store.skip
    ? `dead-letter triage on ${store.name} (skipped: ${store.skip})`
    : `dead-letter triage on ${store.name}`
  describe.skipIf(store.skip !== null)(title, () => {
    let crm: Sink
    let bot: Sink
    let healthy = false
    let relay: Relay

    async function start() {
      healthy = false
      crm = await startSink({
        respondWith: () => (healthy ? { status: 200 } : { status: 500, body: '{"error":"down"}' }),
      })
      cleanups.push(() => crm.close())
      bot = await startSink()
      cleanups.push(() => bot.close())
      const dataDir = tempDir()
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
      relay = await buildTestApp(
        {
          ADMIN_TOKEN,
          ADMIN_VIEWER_TOKEN: VIEWER_TOKEN,
          ...(await store.env()),
          TARGETS: JSON.stringify([
            { name: 'bot', url: bot.url, events: ['*'], sessions: ['pair'] },
            {
              name: 'crm',
              url: crm.url,
              events: ['*'],
              retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
            },
          ]),
        },
        dataDir,
      )
      cleanups.push(() => relay.app.close())
    }

    async function api(method: 'GET' | 'POST', url: string, payload?: object, headers: object = {}) {
      const response = await relay.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
        ...(payload ? { payload } : {}),
      })
      expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(200)
      return response.json()
    }

    it('replays exactly the dead letters of a time window once, leaves the discarded out, and audits it all', async () => {
      await start()
      const send = async (ids: number[]) => {
        for (const id of ids) expect((await relay.post(wgEvent({ id }))).statusCode).toBe(200)
      }
      await send([1, 2, 3])
      const from = await boundary()
      await send([4, 5, 6])
      const to = await boundary()
      await send([7, 8])
      await eventually(async () => {
        expect((await api('GET', '/admin/dead-letters/groups')).total).toBe(8)
      }, 'eight dead letters')

      const { groups } = await api('GET', '/admin/dead-letters/groups')
      expect(groups).toEqual([
        expect.objectContaining({
          target: 'crm',
          lastStatus: 500,
          errorClass: 'http',
          count: 8,
          discarded: 0,
        }),
      ])
      const window = await api('GET', `/admin/dead-letters?${new URLSearchParams({ from, to })}`)
      const keys = window.deadLetters.map((d: { eventKey: string }) => Number(d.eventKey.split(':')[2]))
      expect(keys).toEqual([6, 5, 4])

      // One of the window is let go, with a reason; the discard is kept, marked and counted.
      const five = window.deadLetters[1]
      const discarded = await api('POST', '/admin/discard', { ids: [five.id], reason: 'test message' })
      expect(discarded).toEqual({ discarded: 1 })
      const marked = await api('GET', '/admin/dead-letters?discarded=true')
      expect(marked.deadLetters).toEqual([
        expect.objectContaining({ id: five.id, discardReason: 'test message', discardedBy: 'admin token' }),
      ])
      expect((await api('GET', '/admin/dead-letters/groups')).discarded).toBe(1)

      // The count first (the target still fails: said), then the replay of exactly what it counted.
      const dry = await api(
        'POST',
        '/admin/replay',
        { dead: { from, to }, dryRun: true },
        { 'x-relay-client': 'cli' },
      )
      expect(dry).toMatchObject({ replayed: 0, matched: 2, upTo: expect.any(Number) })
      expect(dry.warnings).toEqual(['crm is still failing: what is replayed may die again'])
      expect(crm.requests.length).toBe(16)

      healthy = true
      const replayed = await api(
        'POST',
        '/admin/replay',
        { dead: { from, to, upTo: dry.upTo } },
        { 'x-relay-client': 'cli' },
      )
      expect(replayed.replayed).toBe(2)
      await eventually(() => expect(crm.requests.length).toBe(18), 'the two replayed delivered')
      expect(
        crm.requests
          .slice(16)
          .map((r) => idOf(r.body))
          .sort(),
      ).toEqual([4, 6])
      expect((await api('GET', '/admin/dead-letters/groups')).total).toBe(5)

      // Replay-all of the target leaves the discarded one dead.
      expect(await api('POST', '/admin/replay', { target: 'crm', status: 'dead' })).toEqual({ replayed: 5 })
      await eventually(() => expect(crm.requests.length).toBe(23), 'the other five delivered')
      expect(
        crm.requests
          .slice(18)
          .map((r) => idOf(r.body))
          .sort(),
      ).toEqual([1, 2, 3, 7, 8])
      const left = await api('GET', '/admin/dead-letters/groups')
      expect(left).toMatchObject({ total: 0, discarded: 1 })

      // Attempts say which were retries and which the replay made.
      const four = await api('GET', `/admin/events/${encodeURIComponent(window.deadLetters[2].eventKey)}`)
      expect(
        four.deliveries[0].history.map((a: { replay: number; status: number }) => [a.replay, a.status]),
      ).toEqual([
        [0, 500],
        [0, 500],
        [1, 200],
      ])

      await api('POST', '/admin/targets/crm/pause', undefined, { 'x-relay-client': 'cli' })
      await api('POST', '/admin/targets/crm/resume')
      const viewer = await relay.app.inject({
        method: 'POST',
        url: '/admin/discard',
        headers: { authorization: `Bearer ${VIEWER_TOKEN}` },
        payload: { ids: [five.id], reason: 'no' },
      })
      expect(viewer.statusCode).toBe(403)
      const audit = await relay.app.inject({
        url: '/admin/audit',
        headers: { authorization: `Bearer ${VIEWER_TOKEN}` },
      })
      expect(audit.statusCode).toBe(200)
      expect(
        audit
          .json()
          .entries.map((e: Record<string, unknown>) => [
            e.action,
            e.via,
            e.role,
            e.session,
            e.count,
            e.reason,
          ]),
      ).toEqual([
        ['resume', 'api', 'admin', null, null, null],
        ['pause', 'cli', 'admin', null, null, null],
        ['replay', 'api', 'admin', null, 5, null],
        ['replay', 'cli', 'admin', null, 2, null],
        ['discard', 'api', 'admin', null, 1, 'test message'],
      ])
      expect(audit.json().entries.map((e: { subject: string }) => e.subject)).toEqual([
        'crm',
        'crm',
        'every dead letter of crm',
        `dead letters of every target, received from ${from}, received before ${to}, ids up to ${dry.upTo}`,
        `delivery ${five.id}`,
      ])
      const page = await api('GET', `/admin/audit?limit=2&before=${audit.json().entries[1].id}`)
      expect(page.entries.map((e: { action: string }) => e.action)).toEqual(['replay', 'replay'])
    })

    it('sends an event again to its failed targets only when asked so, not to those that got it', async () => {
      await start()
      expect((await relay.post(wgEvent({ id: 9, whatsappId: 'pair' }))).statusCode).toBe(200)
      await eventually(async () => {
        expect((await api('GET', '/admin/dead-letters/groups')).total).toBe(1)
      }, 'one dead letter')
      expect(bot.requests.length).toBe(1)
      healthy = true
      const key = (await api('GET', '/admin/dead-letters')).deadLetters[0].eventKey
      expect(await api('POST', '/admin/replay', { event: key, status: 'dead' })).toEqual({ replayed: 1 })
      await eventually(() => expect(crm.requests.length).toBe(3), 'delivered to crm')
      expect(bot.requests.length).toBe(1)
      // Asked for every target, the one that got it gets it again.
      expect(await api('POST', '/admin/replay', { event: key })).toEqual({ replayed: 2 })
      await eventually(() => expect(bot.requests.length).toBe(2), 'sent to bot again, as asked')
    })
  })
}
