// MQTT (Mosquitto) for the destinations bench: per destination a topic prefix with its own QoS 1
// subscriber in a child process (mqtt-subscriber.ts), which counts and records what arrives. The
// broker keeps nothing of a clean session's topics, so there is nothing to delete but the child.
import { connectAsync } from 'mqtt'
import {
  type Arrived,
  type Broker,
  benchBody,
  benchMetadata,
  type Destination,
  freshName,
} from './brokers.ts'
import { BENCH_SESSION } from './event.ts'
import { type Child, startServer } from './process.ts'

export async function openMqtt(url: string): Promise<Broker> {
  const subscribers: Child[] = []

  async function destination(label: string): Promise<Destination> {
    const prefix = `${freshName()}/${label}`
    const env = { ...process.env, MQTT_URL: url, MQTT_TOPIC: `${prefix}/#` }
    const { child, origin } = await startServer('mqtt-subscriber', 'bench/harness/mqtt-subscriber.ts', env)
    subscribers.push(child)
    const get = async <T>(path: string): Promise<T> => {
      const response = await fetch(`${origin}${path}`, { signal: AbortSignal.timeout(15_000) })
      if (!response.ok) throw new Error(`the MQTT subscriber answered ${response.status} to ${path}`)
      return (await response.json()) as T
    }
    return {
      target: { type: 'mqtt', url, topic: `${prefix}/{session}/{action}` },
      async publisher() {
        const client = await connectAsync(url, {
          protocolVersion: 5,
          clientId: `whatsgate-bench-publisher-${process.pid}`,
          clean: true,
          reconnectPeriod: 1000,
        })
        const topic = `${prefix}/${BENCH_SESSION}/message`
        return {
          async publish(id) {
            // As the relay: QoS 1, done on the PUBACK, the metadata as user properties.
            await client.publishAsync(topic, benchBody(id), {
              qos: 1,
              properties: { contentType: 'application/json', userProperties: benchMetadata(id) },
            })
          },
          close: () => client.endAsync(),
        }
      },
      count: async () => (await get<{ received: number }>('/stats')).received,
      arrived: () => get<Arrived>('/dump'),
      shortfall:
        'the subscriber fell behind the client, and Mosquitto drops QoS 1 messages for a subscriber ' +
        "more than max_queued_messages (1,000 by default) behind; the PUBACKs counted are the broker's",
    }
  }

  return {
    destination,
    async close() {
      for (const child of subscribers) await child.stop(2000)
    },
  }
}
