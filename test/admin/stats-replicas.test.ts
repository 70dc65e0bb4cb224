// GET /admin/stats reads the store, not a replica's memory: the same numbers after a restart on
// the same SQLite file, and from two replicas on one PostgreSQL schema, each of which took some
// of the events. Real relays, a real target, the relays' clocks standing at one instant.
import { rmSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { createManualClock } from '../support/manual-clock.ts'
import { freshSchema, postgresSkipReason } from '../support/postgres.ts'
import { buildTestApp, REPLICA_SIGNING_SECRET, tempDir } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-stats-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const NOW = Date.UTC(2026, 11, 7, 10, 30, 15)

type Relay = Awaited<ReturnType<typeof buildTestApp>>
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function sink(): Promise<Sink> {
  const started = await startSink()
  cleanups.push(() => started.close())
  return started
}

async function relayOn(dataDir: string, env: Record<string, string>): Promise<Relay> {
  const relay = await buildTestApp({ ADMIN_TOKEN, ...env }, dataDir, { clock: createManualClock(NOW) })
  cleanups.push(() => relay.app.close())
  return relay
}

async function stats(relay: Relay, range = 'hour') {
  const response = await relay.app.inject({ url: `/admin/stats?range=${range}`, headers: auth })
  expect(response.statusCode).toBe(200)
  return response.json()
}

async function post(relay: Relay, id: number, session = 'main-session') {
  expect((await relay.post(wgEvent({ id, whatsappId: session }))).statusCode).toBe(200)
}

/** Waits until the store has counted `delivered` deliveries in the last hour. */
async function delivered(relay: Relay, count: number) {
  let last = 0
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    last = (await stats(relay)).totals.delivered
    if (last === count) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`delivered stayed at ${last}, not ${count}`)
}

const minute = NOW - (NOW % 60_000)

describe('GET /admin/stats', () => {
  it('counts in the minute of the relay clock, and shows the same after a restart (SQLite)', async () => {
    const bot = await sink()
    const dir = tempDir()
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const env = { TARGETS: JSON.stringify([{ name: 'bot', url: bot.url, events: ['*'] }]) }
    const first = await relayOn(dir, env)
    await post(first, 1)
    await post(first, 2, 'side-session')
    await bot.waitFor(2)
    await delivered(first, 2)
    const before = await stats(first)
    expect(before.buckets).toHaveLength(60)
    expect(before.buckets.at(-1)).toEqual({ at: minute, received: 2, delivered: 2, failed: 0, dead: 0 })
    expect(before).toMatchObject({
      range: 'hour',
      bucketSeconds: 60,
      totals: { received: 2, delivered: 2, failed: 0, dead: 0 },
      backlog: 0,
      deadLetters: 0,
      lastEventAt: NOW,
      sessions: [
        { whatsappId: 'main-session', lastEventAt: NOW },
        { whatsappId: 'side-session', lastEventAt: NOW },
      ],
    })
    const day = await stats(first, 'day')
    expect(day.buckets).toHaveLength(24)
    expect(day.buckets.at(-1)).toEqual({
      at: NOW - (NOW % 3_600_000),
      received: 2,
      delivered: 2,
      failed: 0,
      dead: 0,
    })
    const refused = await first.app.inject({ url: '/admin/stats?range=week', headers: auth })
    expect(refused.statusCode).toBe(400)

    // The app only: the data folder stays for the next start.
    await first.app.close()
    const second = await relayOn(dir, env)
    expect(await stats(second)).toEqual(before)
  })

  it.skipIf(postgresSkipReason !== null)(
    `is the same on two PostgreSQL replicas, each of which took some of the events${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
    async () => {
      const schema = await freshSchema('stats_replicas')
      cleanups.push(() => schema.drop())
      const bot = await sink()
      const env = {
        DATABASE_URL: schema.url,
        FORWARD_SECRET: REPLICA_SIGNING_SECRET,
        TARGETS: JSON.stringify([{ name: 'bot', url: bot.url, events: ['*'] }]),
      }
      const dirs = [tempDir(), tempDir()]
      cleanups.push(() => {
        for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
      })
      const a = await relayOn(dirs[0] as string, env)
      const b = await relayOn(dirs[1] as string, env)
      await post(a, 1)
      await post(a, 2)
      await post(b, 3, 'side-session')
      await waitUntil(() => bot.requests.length === 3, 'three deliveries')
      await delivered(a, 3)
      const [fromA, fromB] = [await stats(a), await stats(b)]
      expect(fromA).toEqual(fromB)
      expect(fromA.buckets.at(-1)).toEqual({ at: minute, received: 3, delivered: 3, failed: 0, dead: 0 })
      expect(fromA.sessions.map((s: { whatsappId: string }) => s.whatsappId)).toEqual([
        'main-session',
        'side-session',
      ])
      expect(await stats(a, 'day')).toEqual(await stats(b, 'day'))
    },
  )
})
