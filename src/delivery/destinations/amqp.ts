// The amqp kind (RabbitMQ): one connection per target, kept up by amqplib's own recovery, and one
// confirm channel on it. A message is persistent and done on the broker's publisher confirm. It is
// not `mandatory`: the exchange is the destination, and what the bindings route nowhere is the
// broker's policy (an alternate exchange keeps it), not a failure to retry forever.
import { type ConfirmChannel, connect, type RecoveringChannelModel } from 'amqplib'
import type { Logger } from 'pino'
import type { Sender } from '../sender.ts'
import type { TargetOf } from '../targets.ts'
import { BrokerError, confirmWithin, createLink, describeBrokerError, redactedUrl } from './broker-link.ts'
import { renderTemplate } from './template.ts'

interface Connection {
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: object,
    signal: AbortSignal,
  ): Promise<void>
  close(): Promise<void>
}

export function createAmqpSender({ log }: { log: Logger }): Sender {
  const connections = new Map<string, Connection>()
  return {
    send(target, { delivery, body, timestamp, metadata }) {
      if (target.type !== 'amqp') throw new Error(`not an amqp target: ${target.name}`)
      let connection = connections.get(target.name)
      if (!connection) {
        connection = open(target, log)
        connections.set(target.name, connection)
      }
      const { exchange } = target
      const routingKey = renderTemplate(target.routingKey, {
        session: delivery.whatsappId,
        action: delivery.action,
        target: target.name,
      })
      const options = {
        persistent: true,
        messageId: metadata['webhook-id'],
        type: delivery.action,
        contentType: 'application/json',
        timestamp,
        appId: 'whatsgate-relay',
        headers: { ...metadata },
      }
      const using = connection
      return confirmWithin('amqp', target.timeoutMs, async (signal) => {
        await using.publish(exchange, routingKey, body, options, signal)
        return `exchange "${exchange}" routing key "${routingKey}"`
      })
    },
    async close() {
      const closing = [...connections.values()].map((connection) => connection.close())
      connections.clear()
      await Promise.allSettled(closing)
    },
  }
}

function open(target: TargetOf<'amqp'>, log: Logger): Connection {
  const link = createLink()
  const where = { target: target.name, broker: redactedUrl(target.url) }
  let model: RecoveringChannelModel | null = null
  const opening = connect(target.url, {
    clientProperties: { connection_name: `whatsgate-relay ${target.name}` },
    recovery: {
      waitForConnect: false,
      maxRetries: Number.POSITIVE_INFINITY,
      initialDelay: 200,
      maxDelay: 10_000,
    },
  }).then((recovering) => {
    model = recovering
    recovering.on('connect', () => {
      link.up()
      log.info(where, 'connected to RabbitMQ')
    })
    recovering.on('disconnect', (error: Error) => {
      link.down(error)
      log.warn(
        { ...where, error: describeBrokerError('amqp', error) },
        'RabbitMQ connection lost; reconnecting',
      )
    })
    recovering.on('connect-failed', (error: Error) => link.down(error))
    recovering.on('error', () => {}) // reported by the disconnect that follows
    return recovering
  })
  opening.catch((error) => link.down(error))

  // One confirm channel, made again after the broker closed it (a missing exchange closes it).
  let channel: Promise<ChannelState> | null = null
  interface ChannelState {
    channel: ConfirmChannel
    /** Why the broker closed it: the 404 of a missing exchange, say. */
    closedBy: Error | null
  }
  function channelOf(): Promise<ChannelState> {
    if (channel) return channel
    const made: Promise<ChannelState> = opening.then(async (recovering) => {
      const confirm = await recovering.createConfirmChannel()
      const state: ChannelState = { channel: confirm, closedBy: null }
      confirm.on('error', (error: Error) => {
        state.closedBy = error
      })
      confirm.on('close', () => {
        if (channel === made) channel = null
      })
      return state
    })
    made.catch(() => {
      if (channel === made) channel = null
    })
    channel = made
    return made
  }

  return {
    async publish(exchange, routingKey, body, options, signal) {
      await link.ready(signal)
      const state = await channelOf()
      await new Promise<void>((resolve, reject) => {
        const fail = (error: unknown) => {
          if (state.closedBy) reject(new BrokerError(refusal(state.closedBy, exchange)))
          else if (error instanceof Error && error.message === 'message nacked')
            reject(new BrokerError('the broker refused the message (nack)'))
          else reject(error)
        }
        try {
          state.channel.publish(exchange, routingKey, body, options, (error: unknown) => {
            // The channel's close reason arrives with or just after the failed confirm.
            if (error) setImmediate(() => fail(error))
            else resolve()
          })
        } catch (error) {
          // Thrown at once on a channel already closing (by the broker, for the send before).
          fail(error)
        }
      })
    },
    async close() {
      await (model ?? (await opening.catch(() => null)))?.close()
    },
  }
}

/** RabbitMQ's reason, with what to do about a missing exchange. */
function refusal(error: Error, exchange: string): string {
  const reason = error.message.replace(/^Channel closed by server: /, '')
  if (/\b404\b.*NOT_FOUND/.test(reason) || /NOT_FOUND - no exchange/.test(reason)) {
    return `exchange "${exchange}" does not exist (declare it on the broker): ${reason}`
  }
  return `the broker closed the channel: ${reason}`
}
