// The nats kind against a real NATS server with JetStream: each event is one stream message on the
// subject its session and action name, body unchanged, metadata as headers, `Nats-Msg-Id` the event
// key (so a replay is dropped by the stream itself); a chat's order holds; a subject no stream takes
// and a server out of reach are retried failures, delivered once fixed.
import { type JetStreamManager, jetstreamManager, type StoredMsg } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { beforeAll, describe, expect, it } from 'vitest'
import { BROKERS, brokerSkipReason, brokerTitle, uniqueName } from '../support/brokers.ts'
import { waitUntil, wgEvent } from '../support/events.ts'
import { startProxy } from '../support/tcp-proxy.ts'
import {
  ADMIN_TOKEN,
  chatEvents,
  idsPerChat,
  mixedEvents,
  onCleanup,
  outageDrill,
  quickRetry,
  relayWith,
  sortedNumbers,
} from './harness.ts'

const skip = await brokerSkipReason('nats')
const { url } = BROKERS.nats

describe.skipIf(skip)(brokerTitle('nats destination (JetStream)', skip), () => {
  let nc: NatsConnection
  let jsm: JetStreamManager
  beforeAll(async () => {
    nc = await connect({ servers: url })
    jsm = await jetstreamManager(nc)
    return () => nc.close()
  })

  /** A stream taking `<prefix>.>`; its name is the prefix with `_` for `-`. */
  async function stream(prefix = uniqueName('relay-test')) {
    const name = prefix.replaceAll('-', '_')
    await jsm.streams.add({ name, subjects: [`${prefix}.>`] })
    onCleanup(async () => {
      await jsm.streams.delete(name)
    })
    return { prefix, name }
  }

  async function messages(name: string): Promise<StoredMsg[]> {
    const info = await jsm.streams.info(name)
    const stored: StoredMsg[] = []
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const message = await jsm.streams.getMessage(name, { seq })
      if (message) stored.push(message)
    }
    return stored
  }

  it('publishes every event once on the subject of its session and action, body unchanged, metadata as headers', async () => {
    const { prefix, name } = await stream()
    const relay = await relayWith([
      {
        type: 'nats',
        name: 'jetstream',
        url,
        subject: `${prefix}.{session}.{action}`,
        events: ['*'],
        retry: quickRetry,
      },
    ])
    const events = mixedEvents()
    for (const event of events) await relay.post(event.body)
    await relay.allDelivered(events.length)

    const stored = await messages(name)
    expect(stored).toHaveLength(events.length)
    for (const event of events) {
      const message = stored.find((m) => m.header.get('Nats-Msg-Id') === event.key)
      expect(message, event.key).toBeDefined()
      if (!message) continue
      expect(message.subject).toBe(`${prefix}.${event.session}.${event.action}`)
      expect(Buffer.from(message.data).equals(Buffer.from(event.body))).toBe(true)
      expect(message.header.get('webhook-id')).toBe(event.key)
      expect(message.header.get('x-whatsgate-event')).toBe(event.action)
      expect(message.header.get('x-whatsgate-session')).toBe(event.session)
    }
    const history = await relay.firstDelivery('jetstream')
    expect(history.history).toMatchObject([
      { status: null, errorClass: null, error: null, responseExcerpt: `stream "${name}" seq 1` },
    ])

    // A replay sends the event again with the same Nats-Msg-Id: the stream drops the repeat.
    const replay = await relay.app.inject({
      method: 'POST',
      url: '/admin/replay',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { event: events[0]?.key },
    })
    expect(replay.json()).toEqual({ replayed: 1 })
    await waitUntil(
      () =>
        relay
          .deliveries()
          .some((d) => d.key === events[0]?.key && d.attempts === 1 && d.status === 'delivered'),
      'the replay delivered',
    )
    await relay.allDelivered(events.length)
    expect(await messages(name)).toHaveLength(events.length)
  })

  it('keeps each chat in order with ordering "chat"', async () => {
    const { prefix, name } = await stream()
    const relay = await relayWith([
      {
        type: 'nats',
        name: 'jetstream',
        url,
        subject: `${prefix}.{session}`,
        events: ['*'],
        ordering: 'chat',
        concurrency: 16,
        retry: quickRetry,
      },
    ])
    const bodies = chatEvents(25)
    for (const body of bodies) await relay.post(body)
    await relay.allDelivered(bodies.length)
    const stored = await messages(name)
    expect(stored).toHaveLength(bodies.length)
    for (const ids of idsPerChat(stored.map((m) => Buffer.from(m.data))).values()) {
      expect(ids).toEqual(sortedNumbers(ids))
    }
  })

  it('retries a subject no stream takes with a clear error, delivered once a stream takes it', async () => {
    const prefix = uniqueName('relay-test')
    const relay = await relayWith([
      {
        type: 'nats',
        name: 'jetstream',
        url,
        subject: `${prefix}.{action}`,
        events: ['*'],
        retry: quickRetry,
      },
    ])
    await relay.post(wgEvent({ id: 1 }))
    await waitUntil(() => (relay.deliveries()[0]?.attempts ?? 0) >= 2, 'two failed attempts')
    const failing = await relay.firstDelivery('jetstream')
    expect(failing.history[0]).toMatchObject({ status: null, errorClass: 'connection' })
    expect(failing.history[0]?.error).toBe(
      `nats: no JetStream stream takes subject "${prefix}.message" (no responders; is JetStream enabled?)`,
    )

    const { name } = await stream(prefix)
    await relay.allDelivered(1)
    expect(await messages(name)).toHaveLength(1)
  })

  it('retries while NATS is out of reach or cut off, and delivers once it is back; ingest answers all along', async () => {
    const { prefix, name } = await stream()
    const proxy = await startProxy('127.0.0.1', BROKERS.nats.port)
    onCleanup(() => proxy.stop())
    await proxy.stop()
    const relay = await relayWith([
      {
        type: 'nats',
        name: 'jetstream',
        url: `nats://127.0.0.1:${proxy.port}`,
        subject: `${prefix}.{action}`,
        events: ['*'],
        retry: quickRetry,
      },
    ])
    const bodies = await outageDrill({
      relay,
      proxy,
      target: 'jetstream',
      arrived: async () => (await jsm.streams.info(name)).state.messages,
      refused: /^nats: .*(ECONNREFUSED|refused)/i,
      cut: /^nats: (not connected|timeout)/,
    })
    const stored = await messages(name)
    expect(stored.map((m) => Buffer.from(m.data).toString()).sort()).toEqual([...bodies].sort())
  })
})
