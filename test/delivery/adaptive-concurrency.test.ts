// The dispatcher's concurrency adapting to real targets: one that can take only a few requests at
// once is not buried under 503s, one that answers quickly gets more than a handful at once.
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { buildTestApp } from '../support/relay.ts'
import { type Reply, type Sink, startSink } from '../support/sink.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A target holding each request `holdMs`; above `capacity` at once it answers 503 straight away. */
async function startTarget(holdMs: number, capacity = Number.POSITIVE_INFINITY) {
  const seen = { inFlight: 0, most: 0, overloaded: 0 }
  const sink: Sink = await startSink({
    respondWith: async (): Promise<Reply> => {
      if (seen.inFlight >= capacity) {
        seen.overloaded++
        return { status: 503 }
      }
      seen.inFlight++
      seen.most = Math.max(seen.most, seen.inFlight)
      await new Promise((resolve) => setTimeout(resolve, holdMs))
      seen.inFlight--
      return { status: 200 }
    },
  })
  cleanups.push(() => sink.close())
  return { sink, seen }
}

async function relayTo(sink: Sink) {
  const target = {
    name: 'bot',
    url: `${sink.url}/hook`,
    events: ['*'],
    retry: { initialDelayMs: 20, maxDelayMs: 100 },
  }
  const relay = await buildTestApp({
    TARGETS: JSON.stringify([target]),
    ADMIN_TOKEN: 'admin-token-0123456789',
  })
  cleanups.push(() => relay.close())
  await relay.app.ready()
  return relay
}

/** WhatsGate posting `count` events of as many chats, all at once (one group commit). */
async function postEvents(relay: Awaited<ReturnType<typeof relayTo>>, count: number) {
  const ids = Array.from({ length: count }, (_, i) => i + 1)
  const answers = await Promise.all(ids.map((id) => relay.post(wgEvent({ id, chat: `7999${id}@c.us` }))))
  expect(answers.map((a) => a.statusCode)).toEqual(ids.map(() => 200))
}

/** Distinct events the target answered 200 to, by webhook-id. */
const deliveredIds = (sink: Sink) => new Set(sink.requests.map((r) => r.headers['webhook-id']))

async function limitMetric(relay: Awaited<ReturnType<typeof relayTo>>): Promise<number> {
  const text = (
    await relay.app.inject({ url: '/metrics', headers: { authorization: 'Bearer admin-token-0123456789' } })
  ).body
  const line = text
    .split('\n')
    .find((l) => l.startsWith('whatsgate_relay_target_concurrency_limit{target="bot"}'))
  return Number(line?.split(' ')[1])
}

describe('adaptive concurrency', () => {
  it('gives a quick target far more than the old fixed 8 requests at once', async () => {
    const { sink, seen } = await startTarget(30)
    const relay = await relayTo(sink)
    await postEvents(relay, 400)
    await waitUntil(() => deliveredIds(sink).size === 400, '400 events at the target', 20_000)
    expect(seen.most).toBeGreaterThanOrEqual(16)
    expect(sink.requests).toHaveLength(400)
    expect(await limitMetric(relay)).toBeGreaterThan(8)
  })

  it('keeps a target that takes 6 at once mostly within them, and delivers every event', async () => {
    const { sink, seen } = await startTarget(20, 6)
    const relay = await relayTo(sink)
    await postEvents(relay, 200)
    await waitUntil(() => sink.requests.length - seen.overloaded >= 200, '200 events answered 200', 20_000)
    expect(deliveredIds(sink).size).toBe(200)
    // Sent 64 at once, the first round alone would be answered 58 times 503.
    expect(seen.overloaded).toBeLessThan(40)
    expect(await limitMetric(relay)).toBeLessThanOrEqual(12)
  })
})
