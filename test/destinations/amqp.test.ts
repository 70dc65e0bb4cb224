// The amqp kind against a real RabbitMQ: each event lands once, routed by its session and action,
// its bytes unchanged and its metadata in the message's properties; a chat's order holds; a broker
// out of reach or an exchange missing is a retried failure, delivered once that is fixed.
import { type Channel, type ChannelModel, type ConsumeMessage, connect } from 'amqplib'
import { beforeAll, describe, expect, it } from 'vitest'
import { BROKERS, brokerSkipReason, brokerTitle, uniqueName } from '../support/brokers.ts'
import { waitUntil, wgEvent } from '../support/events.ts'
import { startProxy } from '../support/tcp-proxy.ts'
import {
  chatEvents,
  idsPerChat,
  mixedEvents,
  onCleanup,
  outageDrill,
  quickRetry,
  relayWith,
  sortedNumbers,
} from './harness.ts'

const skip = await brokerSkipReason('amqp')
const { url } = BROKERS.amqp

describe.skipIf(skip)(brokerTitle('amqp destination (RabbitMQ)', skip), () => {
  let connection: ChannelModel
  let channel: Channel
  beforeAll(async () => {
    connection = await connect(url)
    channel = await connection.createChannel()
    return () => connection.close()
  })

  /** A topic exchange with a queue bound to every key; what reaches the queue, in order. */
  async function exchangeWithQueue(exchange = uniqueName('relay-test')) {
    await channel.assertExchange(exchange, 'topic', { durable: false })
    onCleanup(async () => {
      await channel.deleteExchange(exchange)
    })
    const { queue } = await channel.assertQueue('', { exclusive: true })
    onCleanup(async () => {
      await channel.deleteQueue(queue)
    })
    await channel.bindQueue(queue, exchange, '#')
    const received: ConsumeMessage[] = []
    await channel.consume(queue, (message) => message && received.push(message), { noAck: true })
    return { exchange, received }
  }

  it('publishes every event once, routed by session and action, body unchanged, metadata as properties', async () => {
    const { exchange, received } = await exchangeWithQueue()
    const relay = await relayWith([
      {
        type: 'amqp',
        name: 'rabbit',
        url,
        exchange,
        routingKey: 'whatsgate.{session}.{action}',
        events: ['*'],
        retry: quickRetry,
      },
    ])
    const events = mixedEvents()
    for (const event of events) await relay.post(event.body)
    await relay.allDelivered(events.length)
    await waitUntil(() => received.length >= events.length, 'every message in the queue')

    expect(received).toHaveLength(events.length)
    for (const event of events) {
      const message = received.find((m) => m.properties.messageId === event.key)
      expect(message, event.key).toBeDefined()
      if (!message) continue
      expect(message.fields.routingKey).toBe(`whatsgate.${event.session}.${event.action}`)
      expect(message.content.equals(Buffer.from(event.body))).toBe(true)
      expect(message.properties).toMatchObject({
        type: event.action,
        contentType: 'application/json',
        deliveryMode: 2,
        appId: 'whatsgate-relay',
      })
      expect(message.properties.headers).toMatchObject({
        'webhook-id': event.key,
        'x-whatsgate-event': event.action,
        'x-whatsgate-session': event.session,
      })
      expect(message.properties.headers?.['webhook-timestamp']).toMatch(/^\d+$/)
    }
    const history = await relay.firstDelivery('rabbit')
    // A broker's confirmation: delivered, no HTTP status, where it went in the excerpt.
    expect(history.history).toMatchObject([
      { status: null, errorClass: null, error: null, responseExcerpt: expect.stringContaining(exchange) },
    ])
  })

  it('keeps each chat in order with ordering "chat"', async () => {
    const { exchange, received } = await exchangeWithQueue()
    const relay = await relayWith([
      {
        type: 'amqp',
        name: 'rabbit',
        url,
        exchange,
        routingKey: 'chat.{session}',
        events: ['*'],
        ordering: 'chat',
        concurrency: 16,
        retry: quickRetry,
      },
    ])
    const bodies = chatEvents(25)
    for (const body of bodies) await relay.post(body)
    await relay.allDelivered(bodies.length)
    await waitUntil(() => received.length >= bodies.length, 'every message in the queue')
    for (const ids of idsPerChat(received.map((m) => m.content)).values()) {
      expect(ids).toHaveLength(25)
      expect(ids).toEqual(sortedNumbers(ids))
    }
  })

  it('retries while RabbitMQ is out of reach or cut off, and delivers once it is back; ingest answers all along', async () => {
    const { exchange, received } = await exchangeWithQueue()
    const proxy = await startProxy('127.0.0.1', BROKERS.amqp.port)
    onCleanup(() => proxy.stop())
    await proxy.stop()
    const relay = await relayWith([
      {
        type: 'amqp',
        name: 'rabbit',
        url: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
        exchange,
        routingKey: 'k.{action}',
        events: ['*'],
        retry: quickRetry,
      },
    ])
    const bodies = await outageDrill({
      relay,
      proxy,
      target: 'rabbit',
      arrived: () => received.length,
      refused: /^amqp: not connected: .*ECONNREFUSED/,
      cut: /^amqp: /,
    })
    expect(received.map((m) => m.content.toString()).sort()).toEqual([...bodies].sort())
    const history = JSON.stringify(await relay.firstDelivery('rabbit'))
    expect(history).not.toContain('guest:guest')
  })

  it('treats a missing exchange as a retried failure with a clear error, delivered once it exists', async () => {
    const exchange = uniqueName('relay-missing')
    const relay = await relayWith([
      {
        type: 'amqp',
        name: 'rabbit',
        url,
        exchange,
        routingKey: 'k.{action}',
        events: ['*'],
        retry: quickRetry,
      },
    ])
    const body = wgEvent({ id: 1 })
    await relay.post(body)
    await waitUntil(() => (relay.deliveries()[0]?.attempts ?? 0) >= 2, 'two failed attempts')
    const failing = await relay.firstDelivery('rabbit')
    expect(failing.status).toBe('pending')
    expect(failing.history[0]).toMatchObject({ status: null, errorClass: 'connection' })
    expect(failing.history[0]?.error).toMatch(
      new RegExp(`^amqp: exchange "${exchange}" does not exist .*NOT_FOUND`),
    )

    const { received } = await exchangeWithQueue(exchange)
    await relay.allDelivered(1)
    await waitUntil(() => received.length >= 1, 'the message in the queue')
    expect(received.map((m) => m.content.toString())).toEqual([body])
  })
})
