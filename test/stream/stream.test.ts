// Stream targets end to end: the real app listening on a port, events posted to its webhook,
// consumers reading GET /stream/<name> over HTTP (fetch with eventsource-parser, and undici's
// EventSource, which reconnects by itself), the outbox read back from its SQLite file.
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { setTimeout as sleep } from 'node:timers/promises'
import { EventSource } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { buildTestApp } from '../support/relay.ts'
import { readStream, type StreamReader } from '../support/stream-consumer.ts'
import { startProxy } from '../support/tcp-proxy.ts'

const TOKEN = 'stream-token-0123456789'
const OTHER_TOKEN = 'other-stream-token-98765'
const GROUP = '120363025246125888@g.us'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The relay with stream targets (`bot`, and `groups` filtered to one group's messages), listening. */
async function startRelay(env: Record<string, string> = {}) {
  const targets = [
    { name: 'bot', type: 'stream', token: TOKEN, events: ['*'] },
    {
      name: 'groups',
      type: 'stream',
      token: OTHER_TOKEN,
      events: ['message'],
      filter: { 'event_data.message.from': GROUP },
    },
  ]
  const relay = await buildTestApp({ TARGETS: JSON.stringify(targets), ...env })
  await relay.app.listen({ port: 0, host: '127.0.0.1' })
  cleanups.push(() => relay.close())
  const address = relay.app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const base = `http://127.0.0.1:${port}`
  return {
    ...relay,
    port,
    base,
    async postEvents(ids: number[], chat = '79991112233@c.us') {
      for (const id of ids) {
        const answer = await relay.post(wgEvent({ id, chat }))
        expect(answer.statusCode).toBe(200)
      }
    },
    /** The outbox as a second connection reads it. */
    query<T>(sql: string, ...params: (string | number)[]): T[] {
      const db = new DatabaseSync(join(relay.dataDir, 'relay.sqlite'), { readOnly: true })
      try {
        return db.prepare(sql).all(...params) as T[]
      } finally {
        db.close()
      }
    },
  }
}
type Relay = Awaited<ReturnType<typeof startRelay>>

async function consume(url: string, options: Parameters<typeof readStream>[1]): Promise<StreamReader> {
  const reader = await readStream(url, options)
  cleanups.push(() => reader.close())
  return reader
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

function confirmedPosition(relay: Relay, target: string): number | undefined {
  return relay.query<{ position: number }>(
    'SELECT position FROM stream_positions WHERE target = ?',
    target,
  )[0]?.position
}

function statusesOf(relay: Relay, target: string): Record<string, number> {
  const rows = relay.query<{ status: string; n: number }>(
    'SELECT status, count(*) AS n FROM deliveries WHERE target = ? GROUP BY status',
    target,
  )
  return Object.fromEntries(rows.map((row) => [row.status, row.n]))
}

describe('stream targets', () => {
  it('refuses a wrong token, no token and an unknown stream alike with a 401, and serves nothing', async () => {
    const relay = await startRelay()
    await relay.postEvents([1])
    for (const [path, token] of [
      ['/stream/bot', 'wrong-token-0123456789'],
      ['/stream/bot', undefined],
      ['/stream/bot', OTHER_TOKEN],
      ['/stream/nobody', TOKEN],
    ] as const) {
      const reader = await consume(`${relay.base}${path}`, { token })
      expect(reader.status, `${path} with ${token}`).toBe(401)
      expect(reader.headers.get('www-authenticate')).toBe('Bearer')
      expect(reader.error).toEqual({ error: 'unknown stream or wrong token' })
    }
    const twice = await fetch(`${relay.base}/stream/bot?token=${TOKEN}&token=${TOKEN}`)
    expect(twice.status).toBe(401)
    const ack = await fetch(`${relay.base}/stream/bot/ack?token=wrong-token-0123456789`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 1 }),
    })
    expect(ack.status).toBe(401)
    expect(confirmedPosition(relay, 'bot')).toBeUndefined()
  })

  it('resumes a consumer that read half and left exactly after its Last-Event-ID, in order, and confirms what it had', async () => {
    const relay = await startRelay()
    await relay.postEvents(range(1, 10))
    const first = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    await first.waitFor(10)
    expect(first.eventIds()).toEqual(range(1, 10))
    // The bot processed five, then went away; events keep coming meanwhile.
    const lastHandled = first.ids()[4] as number
    first.close()
    await relay.postEvents(range(11, 20))

    const second = await consume(`${relay.base}/stream/bot`, { token: TOKEN, lastEventId: lastHandled })
    await second.waitFor(15)
    expect(second.eventIds()).toEqual(range(6, 20))
    const ids = second.ids()
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(ids[0]).toBeGreaterThan(lastHandled)
    // The reconnection confirmed the five: kept in the store, their deliveries delivered.
    expect(confirmedPosition(relay, 'bot')).toBe(lastHandled)
    await waitUntil(() => statusesOf(relay, 'bot').delivered === 5, 'five deliveries confirmed')
    expect(statusesOf(relay, 'bot')).toEqual({ delivered: 5, pending: 15 })
  })

  it('sends events accepted while the consumer is connected as they are committed', async () => {
    const relay = await startRelay()
    const reader = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    expect(reader.status).toBe(200)
    await relay.postEvents([1, 2, 3])
    await reader.waitFor(3)
    await relay.postEvents([4])
    await reader.waitFor(4)
    expect(reader.eventIds()).toEqual([1, 2, 3, 4])
  })

  it('gives a filtered stream only its events, with ids of its own deliveries', async () => {
    const relay = await startRelay()
    const groups = await consume(`${relay.base}/stream/groups`, { token: OTHER_TOKEN })
    const bot = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    await relay.postEvents([1, 2])
    await relay.postEvents([3, 4], GROUP)
    await relay.postEvents([5])
    await bot.waitFor(5)
    await groups.waitFor(2)
    expect(bot.eventIds()).toEqual([1, 2, 3, 4, 5])
    // What `bot` got after the group's events proves those were committed and past: `groups`
    // has had its chance at the rest and took only its own.
    await relay.postEvents([6], GROUP)
    await groups.waitFor(3)
    expect(groups.eventIds()).toEqual([3, 4, 6])
    expect(statusesOf(relay, 'groups')).toEqual({ pending: 3 })
  })

  it("keeps a body's line breaks: a pretty-printed event arrives as the same JSON", async () => {
    const relay = await startRelay()
    const body = JSON.stringify(JSON.parse(wgEvent({ id: 7 })), null, 2).replaceAll('\n', '\r\n')
    expect((await relay.post(body)).statusCode).toBe(200)
    const reader = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    await reader.waitFor(1)
    expect(reader.messages[0]?.data).toBe(body.replaceAll('\r\n', '\n'))
  })

  it('confirms with POST /stream/<name>/ack; a consumer naming no position resumes after it', async () => {
    const relay = await startRelay()
    await relay.postEvents(range(1, 6))
    const reader = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    await reader.waitFor(6)
    const third = reader.ids()[2] as number
    reader.close()
    const ack = (id: unknown, token = TOKEN) =>
      fetch(`${relay.base}/stream/bot/ack`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id }),
      })
    for (const bad of ['x', -1, 1.5, null]) {
      const answer = await ack(bad)
      expect(answer.status, String(bad)).toBe(400)
    }
    const answer = await ack(String(third))
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ position: third })
    await waitUntil(() => statusesOf(relay, 'bot').delivered === 3, 'three deliveries confirmed')

    const resumed = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    await resumed.waitFor(3)
    expect(resumed.eventIds()).toEqual([4, 5, 6])
    expect(
      await (
        await fetch(`${relay.base}/stream/bot`, {
          headers: { 'last-event-id': 'abc', authorization: `Bearer ${TOKEN}` },
        })
      ).status,
    ).toBe(400)
  })

  it('lets an EventSource with ?token= reconnect by itself after the line is cut, with no event lost or repeated', async () => {
    const relay = await startRelay()
    const proxy = await startProxy('127.0.0.1', relay.port)
    cleanups.push(() => proxy.stop())
    await relay.postEvents(range(1, 5))
    const source = new EventSource(`http://127.0.0.1:${proxy.port}/stream/bot?token=${TOKEN}`)
    cleanups.push(() => source.close())
    const received: { id: number; eventId: number }[] = []
    source.onmessage = (message) =>
      received.push({ id: Number(message.lastEventId), eventId: JSON.parse(message.data).id })
    await waitUntil(() => received.length === 5, 'the first five events')

    // The line drops; events keep arriving at the relay; the line comes back.
    await proxy.stop()
    await relay.postEvents(range(6, 12))
    await proxy.start()
    await waitUntil(() => received.length >= 12, 'every event after the reconnection', 15_000)
    expect(received.map((r) => r.eventId)).toEqual(range(1, 12))
    // Its reconnection carried the last id it had, which the relay kept as its position.
    expect(confirmedPosition(relay, 'bot')).toBe(received[4]?.id)
  })

  it('ends its streams when the relay stops, so stopping waits for none of them', async () => {
    const relay = await startRelay()
    const reader = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    expect(reader.status).toBe(200)
    const started = Date.now()
    await relay.app.close()
    await reader.ended
    // SHUTDOWN_TIMEOUT_MS is 1 s in tests: a stream held open would have made it wait that long.
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('shows a stream in the admin API with what its consumer has not confirmed, and has no pause for it', async () => {
    const adminToken = 'admin-token-0123456789'
    const relay = await startRelay({ ADMIN_TOKEN: adminToken })
    const admin = (url: string, method: 'GET' | 'POST' = 'GET') =>
      relay.app.inject({
        url,
        method,
        headers: { authorization: `Bearer ${adminToken}` },
        ...(method === 'POST' && { payload: {} }),
      })
    await relay.postEvents(range(1, 4))
    const reader = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    await reader.waitFor(4)
    await fetch(`${relay.base}/stream/bot/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: reader.ids()[0] }),
    })
    await waitUntil(() => statusesOf(relay, 'bot').delivered === 1, 'the first confirmed')
    const { targets } = (await admin('/admin/targets')).json()
    // Its consumer is connected: ok, whatever waits.
    expect(targets).toContainEqual(
      expect.objectContaining({
        name: 'bot',
        type: 'stream',
        state: 'ok',
        pausedAt: null,
        pending: 3,
        consumers: 1,
      }),
    )
    const pause = await admin('/admin/targets/bot/pause', 'POST')
    expect(pause.statusCode).toBe(409)
    expect(pause.json().error).toBe('"bot" is a stream: its consumers pull, there is nothing to pause')
  })

  it('counts connected consumers in the metrics', async () => {
    const adminToken = 'admin-token-0123456789'
    const relay = await startRelay({ ADMIN_TOKEN: adminToken })
    const consumers = async () => {
      const metrics = await relay.app.inject({
        url: '/metrics',
        headers: { authorization: `Bearer ${adminToken}` },
      })
      const line = metrics.body
        .split('\n')
        .find((l) => l.startsWith('whatsgate_relay_stream_consumers{target="bot"}'))
      return Number(line?.split(' ')[1])
    }
    const a = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    const b = await consume(`${relay.base}/stream/bot`, { token: TOKEN })
    expect([a.status, b.status]).toEqual([200, 200])
    expect(await consumers()).toBe(2)
    a.close()
    const deadline = Date.now() + 5000
    while ((await consumers()) !== 1 && Date.now() < deadline) await sleep(20)
    expect(await consumers()).toBe(1)
  })
})
