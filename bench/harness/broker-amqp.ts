// RabbitMQ for the destinations bench: per destination a topic exchange with a durable queue bound
// to every key (so persistent messages are written to disk, as a real consumer's queue would have
// them), counted by the queue's message count and read back by consuming it after the run.
import { type Channel, type ChannelModel, connect } from 'amqplib'
import {
  arrivals,
  type Broker,
  benchBody,
  benchMetadata,
  type Destination,
  freshName,
  type Publisher,
  within,
} from './brokers.ts'
import { BENCH_SESSION } from './event.ts'

export async function openAmqp(url: string): Promise<Broker> {
  const admin: ChannelModel = await connect(url)
  // A failed check (a queue gone) closes the channel: the next call opens another.
  let channel: Promise<Channel> | null = null
  const usable = (): Promise<Channel> => {
    if (channel) return channel
    const opened = admin.createChannel().then((ch) => {
      ch.on('error', () => {}) // the close that follows says it
      ch.on('close', () => {
        if (channel === opened) channel = null
      })
      return ch
    })
    channel = opened
    return opened
  }
  const made: string[] = []

  async function destination(label: string): Promise<Destination> {
    const name = `${freshName()}-${label}`
    const ch = await usable()
    await ch.assertExchange(name, 'topic', { durable: true })
    made.push(name)
    await ch.assertQueue(name, { durable: true })
    await ch.bindQueue(name, name, '#')
    const count = async () => (await (await usable()).checkQueue(name)).messageCount
    return {
      target: { type: 'amqp', url, exchange: name, routingKey: 'whatsgate.{session}.{action}' },
      publisher: () => publisher(url, name, `whatsgate.${BENCH_SESSION}.message`),
      count,
      async arrived() {
        const expected = await count()
        const reader = await admin.createChannel()
        const got = arrivals()
        try {
          await within(
            60_000,
            `reading ${expected} messages of queue ${name}`,
            new Promise<void>((resolve) => {
              if (expected === 0) return resolve()
              void reader.consume(
                name,
                (message) => {
                  if (!message) return
                  const key = message.properties.messageId as string | undefined
                  got.add(key, message.content.toString('utf8'))
                  if (got.ids.length >= expected) resolve()
                },
                { noAck: true },
              )
            }),
          )
        } finally {
          await reader.close()
        }
        return got
      },
    }
  }

  return {
    destination,
    async close() {
      const ch = await usable()
      for (const name of made) {
        await ch.deleteQueue(name)
        await ch.deleteExchange(name)
      }
      await admin.close()
    },
  }
}

/** One connection with one confirm channel: persistent messages with the relay's properties. */
async function publisher(url: string, exchange: string, routingKey: string): Promise<Publisher> {
  const connection = await connect(url)
  const channel = await connection.createConfirmChannel()
  // Failures reach the publish that suffers them; an unheard 'error' would end the bench.
  connection.on('error', () => {})
  channel.on('error', () => {})
  return {
    publish(id) {
      const metadata = benchMetadata(id)
      const options = {
        persistent: true,
        messageId: metadata['webhook-id'],
        type: 'message',
        contentType: 'application/json',
        timestamp: Number(metadata['webhook-timestamp']),
        appId: 'whatsgate-relay',
        headers: metadata,
      }
      return new Promise((resolve, reject) => {
        channel.publish(exchange, routingKey, benchBody(id), options, (error: unknown) =>
          error ? reject(error) : resolve(),
        )
      })
    },
    async close() {
      await connection.close()
    },
  }
}
