// The nats kind (JetStream): one connection per target, which nats.js keeps reconnecting once it
// has been made (a first connect that fails is tried again at the next send). Published with
// `Nats-Msg-Id` = the event key, so the stream itself drops a repeat within its duplicate window;
// done on the stream's ack. A subject no stream takes has no responder: a retried failure.
import { jetstream } from '@nats-io/jetstream'
import { connect, headers, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import type { Sender } from '../sender.ts'
import type { TargetOf } from '../targets.ts'
import { BrokerError, confirmWithin, createLink, describeBrokerError, redactedUrl } from './broker-link.ts'
import { renderTemplate } from './template.ts'

interface Connection {
  publish(
    subject: string,
    body: Buffer,
    metadata: Readonly<Record<string, string>>,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<string>
  close(): Promise<void>
}

export function createNatsSender({ log }: { log: Logger }): Sender {
  const connections = new Map<string, Connection>()
  return {
    send(target, { delivery, body, metadata }) {
      if (target.type !== 'nats') throw new Error(`not a nats target: ${target.name}`)
      let connection = connections.get(target.name)
      if (!connection) {
        connection = open(target, log)
        connections.set(target.name, connection)
      }
      const subject = renderTemplate(target.subject, {
        session: delivery.whatsappId,
        action: delivery.action,
        target: target.name,
      })
      const using = connection
      return confirmWithin('nats', target.timeoutMs, (signal) =>
        using.publish(subject, body, metadata, signal, target.timeoutMs),
      )
    },
    async close() {
      const closing = [...connections.values()].map((connection) => connection.close())
      connections.clear()
      await Promise.allSettled(closing)
    },
  }
}

function open(target: TargetOf<'nats'>, log: Logger): Connection {
  const link = createLink()
  const where = { target: target.name, broker: redactedUrl(target.url) }
  let current: Promise<NatsConnection> | null = null
  /** The connection once made: close() closes it without waiting for a connect under way. */
  let made: NatsConnection | null = null
  let closed = false

  function connection(): Promise<NatsConnection> {
    if (current) return current
    const url = new URL(target.url)
    // Credentials go as options, not in the server list nats.js may quote in its errors.
    const user = decodeURIComponent(url.username)
    const pass = decodeURIComponent(url.password)
    const connecting = connect({
      servers: `${url.protocol}//${url.host}`,
      name: `whatsgate-relay ${target.name}`,
      ...(user && pass ? { user, pass } : user ? { token: user } : {}),
      ...(url.protocol === 'tls:' ? { tls: {} } : {}),
      timeout: Math.min(target.timeoutMs, 10_000),
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
    }).then((nc) => {
      if (closed) {
        void nc.close()
        return nc
      }
      made = nc
      link.up()
      log.info(where, 'connected to NATS')
      void (async () => {
        for await (const status of nc.status()) {
          if (status.type === 'disconnect') {
            link.down(new BrokerError('disconnected; reconnecting'))
            log.warn(where, 'NATS connection lost; reconnecting')
          } else if (status.type === 'reconnect') {
            link.up()
            log.info(where, 'reconnected to NATS')
          }
        }
      })()
      void nc.closed().then(() => {
        if (current === connecting) current = null
      })
      return nc
    })
    connecting.catch((error: unknown) => {
      link.down(error)
      // The next send tries again: nats.js reconnects only a connection it once made.
      if (current === connecting) current = null
    })
    current = connecting
    return connecting
  }

  return {
    async publish(subject, body, metadata, signal, timeoutMs) {
      const nc = await connection()
      await link.ready(signal)
      const h = headers()
      for (const [name, value] of Object.entries(metadata)) h.set(name, value)
      const msgID = metadata['webhook-id'] ?? ''
      try {
        const ack = await jetstream(nc).publish(subject, body, { msgID, headers: h, timeout: timeoutMs })
        return `stream "${ack.stream}" seq ${ack.seq}${ack.duplicate ? ' (a repeat the stream dropped)' : ''}`
      } catch (error) {
        // nats.js words a publish nobody answered as "jetstream is not enabled"; mostly it is a
        // subject outside every stream, so both are said.
        if (hasNoResponders(error)) {
          throw new BrokerError(
            `no JetStream stream takes subject "${subject}" (no responders; is JetStream enabled?)`,
          )
        }
        throw new BrokerError(describeBrokerError('nats', error))
      }
    },
    async close() {
      closed = true
      // A connect still under way closes itself when it lands (above): not waited for here.
      if (made) await made.close()
    },
  }
}

function hasNoResponders(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (['NoRespondersError', 'JetStreamNotEnabled'].includes(cause.name)) return true
    if (/no responders/i.test(cause.message)) return true
  }
  return false
}
