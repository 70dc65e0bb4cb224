// The mqtt kind against a real Mosquitto: each event is one QoS 1 publish on the topic its session
// and action name, body unchanged, metadata as MQTT 5 user properties; a chat's order holds; a
// broker out of reach is a retried failure, delivered once it is back.
import { connectAsync, type IPublishPacket, type MqttClient } from 'mqtt'
import { beforeAll, describe, expect, it } from 'vitest'
import { BROKERS, brokerSkipReason, brokerTitle, uniqueName } from '../support/brokers.ts'
import { waitUntil } from '../support/events.ts'
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

const skip = await brokerSkipReason('mqtt')
const { url } = BROKERS.mqtt

describe.skipIf(skip)(brokerTitle('mqtt destination (Mosquitto)', skip), () => {
  let client: MqttClient
  beforeAll(async () => {
    client = await connectAsync(url, { protocolVersion: 5 })
    return async () => {
      await client.endAsync()
    }
  })

  /** What arrives under `<prefix>/#` at QoS 1, in order. */
  async function subscribed(prefix = uniqueName('relay-test')) {
    const received: IPublishPacket[] = []
    const onMessage = (topic: string, _payload: Buffer, packet: IPublishPacket) => {
      if (topic.startsWith(`${prefix}/`)) received.push(packet)
    }
    client.on('message', onMessage)
    await client.subscribeAsync(`${prefix}/#`, { qos: 1 })
    onCleanup(async () => {
      client.off('message', onMessage)
      await client.unsubscribeAsync(`${prefix}/#`)
    })
    return { prefix, received }
  }

  it('publishes every event once on the topic of its session and action, body unchanged, metadata as user properties', async () => {
    const { prefix, received } = await subscribed()
    const relay = await relayWith([
      {
        type: 'mqtt',
        name: 'mosquitto',
        url,
        topic: `${prefix}/{session}/{action}`,
        events: ['*'],
        retry: quickRetry,
      },
    ])
    const events = mixedEvents()
    for (const event of events) await relay.post(event.body)
    await relay.allDelivered(events.length)
    await waitUntil(() => received.length >= events.length, 'every message received')

    expect(received).toHaveLength(events.length)
    for (const event of events) {
      const packet = received.find((p) => p.properties?.userProperties?.['webhook-id'] === event.key)
      expect(packet, event.key).toBeDefined()
      if (!packet) continue
      expect(packet.topic).toBe(`${prefix}/${event.session}/${event.action}`)
      expect(Buffer.from(packet.payload).equals(Buffer.from(event.body))).toBe(true)
      expect(packet.qos).toBe(1)
      expect(packet.properties?.contentType).toBe('application/json')
      expect(packet.properties?.userProperties).toMatchObject({
        'x-whatsgate-event': event.action,
        'x-whatsgate-session': event.session,
      })
    }
    const history = await relay.firstDelivery('mosquitto')
    expect(history.history).toMatchObject([{ status: null, errorClass: null, error: null }])
  })

  it('keeps each chat in order with ordering "chat"', async () => {
    const { prefix, received } = await subscribed()
    const relay = await relayWith([
      {
        type: 'mqtt',
        name: 'mosquitto',
        url,
        topic: `${prefix}/{session}`,
        events: ['*'],
        ordering: 'chat',
        concurrency: 16,
        retry: quickRetry,
      },
    ])
    const bodies = chatEvents(25)
    for (const body of bodies) await relay.post(body)
    await relay.allDelivered(bodies.length)
    await waitUntil(() => received.length >= bodies.length, 'every message received')
    for (const ids of idsPerChat(received.map((p) => Buffer.from(p.payload))).values()) {
      expect(ids).toHaveLength(25)
      expect(ids).toEqual(sortedNumbers(ids))
    }
  })

  it('retries while the broker is out of reach or cut off, and delivers once it is back; ingest answers all along', async () => {
    const { prefix, received } = await subscribed()
    const proxy = await startProxy('127.0.0.1', BROKERS.mqtt.port)
    onCleanup(() => proxy.stop())
    await proxy.stop()
    const relay = await relayWith([
      {
        type: 'mqtt',
        name: 'mosquitto',
        url: `mqtt://127.0.0.1:${proxy.port}`,
        topic: `${prefix}/{action}`,
        events: ['*'],
        retry: quickRetry,
      },
    ])
    const bodies = await outageDrill({
      relay,
      proxy,
      target: 'mosquitto',
      arrived: () => received.length,
      refused: /^mqtt: not connected: .*ECONNREFUSED/,
      cut: /^mqtt: /,
    })
    expect(received.map((p) => p.payload.toString()).sort()).toEqual([...bodies].sort())
  })
})
