// The destinations bench's MQTT subscriber, run as a child so that it has its own event loop (an
// MQTT broker keeps no count of what it routed, and Mosquitto drops QoS 1 messages for a subscriber
// more than 1,000 behind). Subscribes to MQTT_TOPIC at QoS 1 before it listens, then records every
// message's event key (the `webhook-id` user property) and whether its body is the event's bytes.
// GET /stats gives the count, /dump everything.
import { createServer } from 'node:http'
import { connectAsync } from 'mqtt'
import { arrivals } from './brokers.ts'

const url = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883'
const topic = process.env.MQTT_TOPIC ?? '#'
const got = arrivals()

const client = await connectAsync(url, {
  protocolVersion: 5,
  clientId: `whatsgate-bench-subscriber-${process.pid}`,
  clean: true,
  reconnectPeriod: 1000,
})
client.on('message', (_topic, payload, packet) => {
  const key = packet.properties?.userProperties?.['webhook-id']
  got.add(typeof key === 'string' ? key : undefined, payload.toString('utf8'))
})
await client.subscribeAsync(topic, { qos: 1 })

const server = createServer((request, response) => {
  const answer =
    request.url === '/dump' ? { ids: got.ids, altered: got.altered } : { received: got.ids.length }
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
})
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1')
process.once('SIGTERM', () => {
  server.close()
  void client.endAsync().finally(() => process.exit(0))
})
