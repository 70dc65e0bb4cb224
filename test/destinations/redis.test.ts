// The redis kind against a real Redis: each event is one stream entry, in the stream its session
// and action name, with the body's bytes and the metadata as fields; a chat's order holds; maxLen
// trims; a Redis out of reach is a retried failure, delivered once it is back.
import { createClient, RESP_TYPES } from 'redis'
import { beforeAll, describe, expect, it } from 'vitest'
import { BROKERS, brokerSkipReason, brokerTitle, uniqueName } from '../support/brokers.ts'
import { wgEvent } from '../support/events.ts'
import { startProxy } from '../support/tcp-proxy.ts'
import {
  chatEvents,
  eventually,
  idsPerChat,
  mixedEvents,
  onCleanup,
  outageDrill,
  quickRetry,
  relayWith,
  sortedNumbers,
} from './harness.ts'

const skip = await brokerSkipReason('redis')
const { url } = BROKERS.redis

describe.skipIf(skip)(brokerTitle('redis destination (Redis Streams)', skip), () => {
  const client = createClient({ url })
  beforeAll(async () => {
    await client.connect()
    return async () => {
      await client.close()
    }
  })

  /** Every entry of a stream, oldest first, its fields as bytes. */
  async function entries(stream: string) {
    const raw = await client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).xRange(stream, '-', '+')
    return (raw ?? []).map((entry) => ({
      id: entry.id.toString(),
      fields: Object.fromEntries(Object.entries(entry.message).map(([k, v]) => [k, Buffer.from(v)])),
    }))
  }

  function streamsOf(prefix: string) {
    onCleanup(async () => {
      const keys = await client.keys(`${prefix}*`)
      if (keys.length > 0) await client.del(keys)
    })
    return prefix
  }

  it('adds every event once to the stream of its session and action, body unchanged, metadata as fields', async () => {
    const prefix = streamsOf(uniqueName('relay-test'))
    const relay = await relayWith([
      {
        type: 'redis',
        name: 'streams',
        url,
        stream: `${prefix}:{session}:{action}`,
        events: ['*'],
        retry: quickRetry,
      },
    ])
    const events = mixedEvents()
    for (const event of events) await relay.post(event.body)
    await relay.allDelivered(events.length)

    for (const event of events) {
      const stream = await entries(`${prefix}:${event.session}:${event.action}`)
      const entry = stream.find((e) => e.fields['webhook-id']?.toString() === event.key)
      expect(entry, event.key).toBeDefined()
      expect(entry?.fields.body?.equals(Buffer.from(event.body))).toBe(true)
      expect(entry?.fields['x-whatsgate-event']?.toString()).toBe(event.action)
      expect(entry?.fields['x-whatsgate-session']?.toString()).toBe(event.session)
      expect(entry?.fields['webhook-timestamp']?.toString()).toMatch(/^\d+$/)
    }
    const all = await client.keys(`${prefix}*`)
    let total = 0
    for (const key of all) total += await client.xLen(key)
    expect(total).toBe(events.length)
    const history = await relay.firstDelivery('streams')
    expect(history.history).toMatchObject([
      {
        status: null,
        errorClass: null,
        error: null,
        responseExcerpt: expect.stringMatching(/entry \d+-\d+/),
      },
    ])
  })

  it('holds one connection for the target while the relay runs, and closes it when the relay stops', async () => {
    const stream = streamsOf(uniqueName('relay-test'))
    const relay = await relayWith([
      { type: 'redis', name: 'streams', url, stream, events: ['*'], concurrency: 8 },
    ])
    const relayClients = async () =>
      (await client.clientList()).filter((c) => c.name === 'whatsgate-relay:streams').length
    for (let id = 1; id <= 20; id++) await relay.post(wgEvent({ id }))
    await relay.allDelivered(20)
    expect(await relayClients()).toBe(1)
    await relay.app.close()
    // The server drops a closed client when it reads the socket's end: soon, not at once.
    await eventually(async () => (await relayClients()) === 0, 'the relay connection gone from CLIENT LIST')
  })

  it('keeps each chat in order with ordering "chat" (with a maxLen the stream stays above)', async () => {
    const stream = streamsOf(uniqueName('relay-test'))
    const relay = await relayWith([
      {
        type: 'redis',
        name: 'streams',
        url,
        stream,
        maxLen: 1000,
        events: ['*'],
        ordering: 'chat',
        concurrency: 16,
        retry: quickRetry,
      },
    ])
    const bodies = chatEvents(25)
    for (const body of bodies) await relay.post(body)
    await relay.allDelivered(bodies.length)
    const stored = await entries(stream)
    expect(stored).toHaveLength(bodies.length)
    for (const ids of idsPerChat(stored.map((e) => e.fields.body ?? Buffer.alloc(0))).values()) {
      expect(ids).toHaveLength(25)
      expect(ids).toEqual(sortedNumbers(ids))
    }
  })

  it('retries while Redis is out of reach or cut off, and delivers once it is back; ingest answers all along', async () => {
    const stream = streamsOf(uniqueName('relay-test'))
    const proxy = await startProxy('127.0.0.1', BROKERS.redis.port)
    onCleanup(() => proxy.stop())
    await proxy.stop()
    const relay = await relayWith([
      {
        type: 'redis',
        name: 'streams',
        url: `redis://127.0.0.1:${proxy.port}`,
        stream,
        events: ['*'],
        retry: quickRetry,
      },
    ])
    const bodies = await outageDrill({
      relay,
      proxy,
      target: 'streams',
      arrived: async () => ((await client.exists(stream)) ? await client.xLen(stream) : 0),
      refused: /^redis: not connected: .*ECONNREFUSED/,
      cut: /^redis: /,
    })
    const stored = await entries(stream)
    expect(stored.map((e) => e.fields.body?.toString()).sort()).toEqual([...bodies].sort())
  })
})
