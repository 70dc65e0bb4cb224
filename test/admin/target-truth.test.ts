// The targets' state as it is, in the API, the status and the CLI alike: a target whose deliveries
// all died, none pending, says `dead letters: N` (never ok, never "failing, 0 pending"); a stream
// with events waiting and no consumer says `no consumer`, until one connects; each target's
// configuration is shown, its URL's credentials never. A real relay on a real port, real targets.
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, eventually } from '../cli/admin-relay.ts'
import { wgEvent } from '../support/events.ts'
import { buildTestApp } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'
import { readStream } from '../support/stream-consumer.ts'

const ADMIN_TOKEN = 'admin-token-truth-0123456789'
const STREAM_TOKEN = 'stream-token-truth-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const SECRET_URL =
  'https://relay-user:hunter2-pass@hooks.example.com/in?api_key=k3y-value&region=eu#frag-secret'

interface Target {
  name: string
  state: string
  stateText: string
  pending: number
  dead: number
  url: string
  consumers: number | null
  lastHour: { delivered: number; failed: number; dead: number }
  [field: string]: unknown
}

describe('target state truth', () => {
  let relay: Awaited<ReturnType<typeof buildTestApp>>
  let base: string
  let down: Sink
  let up: Sink
  const env = () => ({ RELAY_URL: base, ADMIN_TOKEN })

  beforeAll(async () => {
    down = await startSink({ respondWith: () => ({ status: 500, body: '{"error":"down"}' }) })
    up = await startSink()
    relay = await buildTestApp({
      ADMIN_TOKEN,
      TARGETS: JSON.stringify([
        {
          name: 'down',
          url: down.url,
          events: ['*'],
          retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
        },
        { name: 'up', url: up.url, events: ['*'], ordering: 'chat', concurrency: 4 },
        { name: 'bot', type: 'stream', token: STREAM_TOKEN, events: ['*'] },
        {
          name: 'vault',
          url: SECRET_URL,
          events: ['message'],
          sessions: ['nobody'],
          filter: { 'message.type': { $in: ['text'] } },
          secret: `whsec_${Buffer.alloc(32, 3).toString('base64')}`,
        },
      ]),
    })
    await relay.app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(relay.app.server.address() as AddressInfo).port}`
    for (const id of [1, 2]) expect((await relay.post(wgEvent({ id }))).statusCode).toBe(200)
  })

  afterAll(async () => {
    await relay?.close()
    await down?.close()
    await up?.close()
  })

  async function targets(): Promise<Record<string, Target>> {
    const response = await fetch(`${base}/admin/targets`, { headers: auth })
    expect(response.status).toBe(200)
    const { targets } = (await response.json()) as { targets: Target[] }
    return Object.fromEntries(targets.map((t) => [t.name, t]))
  }

  it('says dead letters: N for a target whose deliveries all died, in the API, the status and the CLI', async () => {
    await eventually(async () => (await targets()).down?.dead === 2, 'both deliveries to down to die')
    const { down: dead, up: fine } = await targets()
    expect(dead).toMatchObject({ state: 'dead_letters', stateText: 'dead letters: 2', pending: 0 })
    expect(dead?.lastHour).toEqual({ delivered: 0, failed: 4, dead: 2 })
    await eventually(async () => (await targets()).up?.lastHour.delivered === 2, 'up to get both')
    expect(fine).toMatchObject({ state: 'ok', stateText: 'ok', dead: 0 })

    const status = (await (await fetch(`${base}/admin/status`, { headers: auth })).json()) as {
      targets: Target[]
    }
    expect(status.targets.find((t) => t.name === 'down')).toMatchObject({
      state: 'dead_letters',
      stateText: 'dead letters: 2',
    })

    const run = await cli(['targets'], { env: env() })
    expect(run.err).toEqual([])
    expect(run.code).toBe(0)
    const row = (name: string) => run.out.find((line) => line.startsWith(`${name} `))
    expect(row('down')).toMatch(/^down\s+http\s+dead letters: 2\s+0\s+-\s+0 delivered, 4 failed, 2 dead$/)
    expect(row('down')).not.toMatch(/\bok\b/)
    expect(run.out).toContain('down (http): dead letters: 2')
    expect(run.out).toContain('  retry        2 attempts, 0s to 0s apart')
    const statusRun = await cli(['status'], { env: env() })
    expect(statusRun.out.find((line) => line.startsWith('down '))).toMatch(
      /^down\s+http\s+dead letters: 2\s+0\s+-$/,
    )
  })

  it('says no consumer for a stream with events waiting and none connected, ok while one is', async () => {
    expect((await targets()).bot).toMatchObject({
      state: 'no_consumer',
      stateText: 'no consumer',
      pending: 2,
      consumers: 0,
    })
    expect((await cli(['targets'], { env: env() })).out).toContain('bot (stream): no consumer')

    const consumer = await readStream(`${base}/stream/bot`, { token: STREAM_TOKEN })
    try {
      await consumer.waitFor(2)
      const bot = (await targets()).bot
      expect(bot).toMatchObject({ state: 'ok', stateText: 'ok', consumers: 1 })
    } finally {
      consumer.close()
    }
    await eventually(async () => (await targets()).bot?.state === 'no_consumer', 'the consumer to be gone')
  })

  it("shows each target's configuration, and never its URL's credentials", async () => {
    const { vault, up: fine, bot } = await targets()
    expect(vault).toMatchObject({
      url: 'https://hooks.example.com/in?api_key=***&region=eu',
      events: ['message'],
      sessions: ['nobody'],
      filter: { 'message.type': { $in: ['text'] } },
      retry: {
        maxAttempts: 15,
        maxAgeMs: null,
        initialDelayMs: expect.any(Number),
        maxDelayMs: expect.any(Number),
      },
      concurrency: { now: expect.any(Number), cap: expect.any(Number) },
      ordering: 'none',
      signed: true,
      state: 'ok',
    })
    expect(fine).toMatchObject({
      ordering: 'chat',
      signed: true,
      concurrency: { cap: 4 },
      sessions: null,
      filter: null,
    })
    // Every http target is signed (its own secret or the relay's); a stream is read, not sent.
    expect(bot).toMatchObject({
      type: 'stream',
      signed: false,
      retry: null,
      concurrency: null,
      url: '/stream/bot',
    })

    const text = (await cli(['targets'], { env: env() })).stdout
    const document = (await cli(['targets', '--json'], { env: env() })).stdout
    const api = await (await fetch(`${base}/admin/targets`, { headers: auth })).text()
    for (const shown of [text, document, api]) {
      for (const secret of ['hunter2', 'relay-user', 'k3y-value', 'frag-secret', STREAM_TOKEN]) {
        expect(shown).not.toContain(secret)
      }
    }
    expect(text).toContain('  url          https://hooks.example.com/in?api_key=***&region=eu')
    expect(text).toContain('  filter       {"message.type":{"$in":["text"]}}')
    expect(text).toContain('  signed       yes')
  })
})
