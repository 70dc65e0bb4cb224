// The one interface the dispatcher drives, whatever a target's kind: send one event, say whether
// the far side confirmed it. Each kind is a module behind it (http here; the brokers' in
// destinations/, imported only when a target of their kind is configured, so their clients are
// loaded only then). A sender never throws for the target's failure: it reports it.
import type { Logger } from 'pino'
import type { ClaimedDelivery } from '../store/types.ts'
import { createHttpTargetSender } from './destinations/http.ts'
import { createHttpSender, type HttpSender, type SendResult } from './http-sender.ts'
import type { Target, TargetType } from './targets.ts'

/** What one attempt sends. */
export interface Outgoing {
  delivery: ClaimedDelivery
  /** The event's bytes (rewritten only by an http target's inline media), sent unchanged. */
  body: Buffer
  /** Unix seconds of this attempt: `webhook-timestamp`, and what an http signature covers. */
  timestamp: number
  /**
   * The relay's metadata, as header-safe text (header-value.ts): `webhook-id` (the event key),
   * `webhook-timestamp`, `x-whatsgate-event`, `x-whatsgate-session`. Brokers carry them as their
   * headers or fields; http adds the target's own headers, the signature and CloudEvents.
   */
  metadata: Readonly<Record<string, string>>
}

export interface SendOutcome extends SendResult {
  /**
   * The far side confirmed it: a 2xx, a publisher confirm, a JetStream ack, an XADD reply, a
   * PUBACK. A broker's confirmation has no HTTP status (null).
   */
  ok: boolean
}

export interface Sender {
  /** Ends within the target's timeoutMs and never rejects for the target's failure. */
  send(target: Target, outgoing: Outgoing): Promise<SendOutcome>
  /** Drops every connection, aborting sends in flight (the dispatcher has given them back). */
  close(): Promise<void>
}

export interface SenderOptions {
  targets: readonly Target[]
  userAgent: string
  log: Logger
  /** The HTTP client; by default one made here with `userAgent`. */
  http?: HttpSender
}

/** The sender of every kind the targets use, each loaded once; a kind no target has is never loaded. */
export async function createSender(options: SenderOptions): Promise<Sender> {
  const kinds = new Map<TargetType, Sender>([
    ['http', createHttpTargetSender(options.http ?? createHttpSender({ userAgent: options.userAgent }))],
  ])
  for (const type of new Set(options.targets.map((target) => target.type))) {
    // A stream's consumers pull (stream/): there is nothing to send them.
    if (type !== 'http' && type !== 'stream') {
      kinds.set(type, await loadKind(type, options.log.child({ destination: type })))
    }
  }
  return {
    send(target, outgoing) {
      const sender = kinds.get(target.type)
      if (!sender) throw new Error(`no sender for ${target.type} targets (target "${target.name}")`)
      return sender.send(target, outgoing)
    },
    async close() {
      await Promise.all([...kinds.values()].map((sender) => sender.close()))
    },
  }
}

async function loadKind(type: Exclude<TargetType, 'http' | 'stream'>, log: Logger): Promise<Sender> {
  switch (type) {
    case 'amqp':
      return (await import('./destinations/amqp.ts')).createAmqpSender({ log })
    case 'nats':
      return (await import('./destinations/nats.ts')).createNatsSender({ log })
    case 'redis':
      return (await import('./destinations/redis.ts')).createRedisSender({ log })
    case 'mqtt':
      return (await import('./destinations/mqtt.ts')).createMqttSender({ log })
  }
}
