// The redis kind (Redis Streams): one client per target, reconnecting on its own; `XADD` of the
// body and the relay's metadata as fields, optionally trimmed (`MAXLEN ~ n`). Done on the reply,
// the entry's id. The offline queue is off: while the client reconnects a send fails at once
// instead of waiting in memory.
import type { Logger } from 'pino'
import { createClient } from 'redis'
import type { Sender } from '../sender.ts'
import type { TargetOf } from '../targets.ts'
import { confirmWithin, createLink, describeBrokerError, type Link, redactedUrl } from './broker-link.ts'
import { renderTemplate } from './template.ts'

interface Connection {
  link: Link
  client: ReturnType<typeof clientFor>
}

export function createRedisSender({ log }: { log: Logger }): Sender {
  const connections = new Map<string, Connection>()
  return {
    send(target, { delivery, body, metadata }) {
      if (target.type !== 'redis') throw new Error(`not a redis target: ${target.name}`)
      let connection = connections.get(target.name)
      if (!connection) {
        connection = open(target, log)
        connections.set(target.name, connection)
      }
      const { link, client } = connection
      const stream = renderTemplate(target.stream, {
        session: delivery.whatsappId,
        action: delivery.action,
        target: target.name,
      })
      const trim =
        target.maxLen === null
          ? undefined
          : { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: target.maxLen } as const }
      return confirmWithin('redis', target.timeoutMs, async (signal) => {
        await link.ready(signal)
        const id = await client.xAdd(stream, '*', { body, ...metadata }, trim)
        return `stream "${stream}" entry ${id}`
      })
    },
    async close() {
      for (const { client } of connections.values()) client.destroy()
      connections.clear()
    },
  }
}

function clientFor(target: TargetOf<'redis'>) {
  return createClient({
    url: target.url,
    // Seen in CLIENT LIST: which relay target a connection belongs to.
    name: `whatsgate-relay:${target.name}`,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: Math.min(target.timeoutMs, 10_000),
      // 100 ms doubling to 5 s, for as long as the relay runs.
      reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000),
    },
  })
}

function open(target: TargetOf<'redis'>, log: Logger): Connection {
  const link = createLink()
  const where = { target: target.name, broker: redactedUrl(target.url) }
  const client = clientFor(target)
  let wasReady = false
  client.on('ready', () => {
    link.up()
    wasReady = true
    log.info(where, 'connected to Redis')
  })
  client.on('error', (error: unknown) => {
    link.down(error)
    if (wasReady)
      log.warn(
        { ...where, error: describeBrokerError('redis', error) },
        'Redis connection lost; reconnecting',
      )
    wasReady = false
  })
  client.connect().catch((error: unknown) => link.down(error))
  return { link, client }
}
