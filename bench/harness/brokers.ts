// The brokers of the destinations bench, on 127.0.0.1: for each kind, fresh places for one run's
// events (an exchange with a queue, a JetStream stream, a Redis stream, an MQTT topic with a
// subscriber), published to by the kind's own client with the confirmation the relay waits for,
// and the broker's own view of what arrived. Every place is deleted again by `close()`.
import { randomBytes } from 'node:crypto'
import { createConnection } from 'node:net'
import { BENCH_SESSION, eventKey, idFromKey, messageEventBody } from './event.ts'

export const BROKER_KINDS = ['amqp', 'nats', 'redis', 'mqtt'] as const
export type BrokerKind = (typeof BROKER_KINDS)[number]

export const BROKERS: Record<BrokerKind, { name: string; port: number; url: string }> = {
  amqp: { name: 'RabbitMQ', port: 5672, url: 'amqp://guest:guest@127.0.0.1:5672' },
  nats: { name: 'NATS JetStream', port: 4222, url: 'nats://127.0.0.1:4222' },
  redis: { name: 'Redis', port: 6379, url: 'redis://127.0.0.1:6379' },
  mqtt: { name: 'Mosquitto', port: 1883, url: 'mqtt://127.0.0.1:1883' },
}

/** Why the kind's broker cannot be measured (its port is closed), or null. */
export function unreachable(kind: BrokerKind, timeoutMs = 1000): Promise<string | null> {
  const { name, port } = BROKERS[kind]
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    const done = (open: boolean) => {
      socket.destroy()
      resolve(open ? null : `${name} is not listening on 127.0.0.1:${port}`)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** A name no earlier run used: `whatsgate-bench-<hex>`. */
export const freshName = () => `whatsgate-bench-${randomBytes(4).toString('hex')}`

/** What the relay sends with each event (src/delivery/attempt.ts), so both sides publish the same. */
export function benchMetadata(id: number): Record<string, string> {
  return {
    'x-whatsgate-event': 'message',
    'x-whatsgate-session': BENCH_SESSION,
    'webhook-id': eventKey(id),
    'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
  }
}

export const benchBody = (id: number) => Buffer.from(messageEventBody(id))

/** What a destination holds, read back after a run. */
export interface Arrived {
  /** The bench id of every message, in the order read (repeats included). */
  ids: number[]
  /** Messages whose body was not byte for byte the event their key names. */
  altered: number
}

/** Tallies messages read back by their event key and body. */
export function arrivals(): Arrived & { add: (key: string | undefined, body: string) => void } {
  const arrived = {
    ids: [] as number[],
    altered: 0,
    add(key: string | undefined, body: string) {
      const id = key === undefined ? Number.NaN : idFromKey(key)
      arrived.ids.push(id)
      if (body !== messageEventBody(id)) arrived.altered++
    },
  }
  return arrived
}

/** One client connection publishing events, each resolved on the broker's confirmation. */
export interface Publisher {
  publish(id: number): Promise<void>
  close(): Promise<void>
}

/** A fresh place in the broker for one run's events. */
export interface Destination {
  /** What the relay's target says besides its name and events: `type`, `url`, where events go. */
  target: Record<string, unknown>
  /** The kind's own client, publishing here as the relay does. */
  publisher(): Promise<Publisher>
  /** How many messages the broker holds here now, by its own count (the subscriber's for mqtt). */
  count(): Promise<number>
  /** Everything that arrived here, read back after the run. */
  arrived(): Promise<Arrived>
  /** What a count below the confirmed publishes means for this kind, where it is not a loss. */
  shortfall?: string
}

export interface Broker {
  destination(label: string): Promise<Destination>
  /** Deletes every destination it made and closes its connections. */
  close(): Promise<void>
}

/** The kind's broker, its client loaded only now (as the relay loads only the kinds it uses). */
export async function openBroker(kind: BrokerKind): Promise<Broker> {
  const { url } = BROKERS[kind]
  switch (kind) {
    case 'amqp':
      return (await import('./broker-amqp.ts')).openAmqp(url)
    case 'nats':
      return (await import('./broker-nats.ts')).openNats(url)
    case 'redis':
      return (await import('./broker-redis.ts')).openRedis(url)
    case 'mqtt':
      return (await import('./broker-mqtt.ts')).openMqtt(url)
  }
}

/** Runs `work` until it resolves or `ms` pass; the bench never waits on a silent broker for ever. */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}
