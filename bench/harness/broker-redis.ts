// Redis Streams for the destinations bench: per destination one stream key, counted with XLEN and
// read back with XRANGE in pages after the run.
import { createClient } from 'redis'
import { arrivals, type Broker, benchBody, benchMetadata, type Destination, freshName } from './brokers.ts'

const PAGE = 5000

export async function openRedis(url: string): Promise<Broker> {
  const admin = createClient({ url, name: 'whatsgate-bench-admin' })
  admin.on('error', () => {}) // a lost connection fails the command that needed it
  await admin.connect()
  const made: string[] = []

  async function destination(label: string): Promise<Destination> {
    const stream = `${freshName()}-${label}`
    made.push(stream)
    return {
      target: { type: 'redis', url, stream },
      async publisher() {
        // As the relay's client: no offline queue, commands pipelined on one connection.
        const client = createClient({ url, name: 'whatsgate-bench-publisher', disableOfflineQueue: true })
        client.on('error', () => {})
        await client.connect()
        return {
          async publish(id) {
            await client.xAdd(stream, '*', { body: benchBody(id), ...benchMetadata(id) })
          },
          async close() {
            client.destroy()
          },
        }
      },
      count: () => admin.xLen(stream),
      async arrived() {
        const got = arrivals()
        for (let start = '-'; ; ) {
          const page = (await admin.xRange(stream, start, '+', { COUNT: PAGE })) ?? []
          for (const { message } of page) got.add(message['webhook-id'], message.body ?? '')
          const last = page.at(-1)
          if (!last || page.length < PAGE) return got
          start = `(${last.id}`
        }
      },
    }
  }

  return {
    destination,
    async close() {
      if (made.length > 0) await admin.del(made)
      admin.destroy()
    },
  }
}
