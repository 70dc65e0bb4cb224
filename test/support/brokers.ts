// The real brokers the destination tests publish to, on 127.0.0.1 (CI starts them: .ci/run). A
// broker whose port is closed skips its tests with the reason in their title, unless
// TEST_BROKERS_REQUIRED=1: then they fail, so CI cannot pass by skipping them.
import { randomBytes } from 'node:crypto'
import { createConnection } from 'node:net'

export const BROKERS = {
  amqp: { name: 'RabbitMQ', port: 5672, url: 'amqp://guest:guest@127.0.0.1:5672' },
  nats: { name: 'NATS JetStream', port: 4222, url: 'nats://127.0.0.1:4222' },
  redis: { name: 'Redis', port: 6379, url: 'redis://127.0.0.1:6379' },
  mqtt: { name: 'Mosquitto', port: 1883, url: 'mqtt://127.0.0.1:1883' },
} as const

export type BrokerKind = keyof typeof BROKERS

/** True when something accepts a TCP connection on 127.0.0.1:port within timeoutMs. */
export function portOpen(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    const done = (open: boolean) => {
      socket.destroy()
      resolve(open)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

export const brokersRequired = process.env.TEST_BROKERS_REQUIRED === '1'

/**
 * Why this broker's tests cannot run, or false when they can. With TEST_BROKERS_REQUIRED=1 a
 * closed port throws instead: the test file fails, naming the broker.
 */
export async function brokerSkipReason(kind: BrokerKind): Promise<string | false> {
  const broker = BROKERS[kind]
  if (await portOpen(broker.port)) return false
  const reason = `${broker.name} is not listening on 127.0.0.1:${broker.port}`
  if (brokersRequired) throw new Error(`${reason}, and TEST_BROKERS_REQUIRED=1`)
  // Also said on stderr: a reporter that lists files only would not show a skipped suite's title.
  console.warn(`skipping the ${kind} destination tests: ${reason}`)
  return reason
}

/** The describe() title, with the skip reason in it when there is one. */
export function brokerTitle(title: string, skip: string | false): string {
  return skip ? `${title} (skipped: ${skip})` : title
}

/** A name no other test (or earlier run) uses: `prefix-<hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`
}
