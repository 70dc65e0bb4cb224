// NATS JetStream for the destinations bench: per destination a stream (file storage, the server's
// defaults) taking `<name>.>`, counted by the stream's own message count and read back after the
// run with an ordered consumer.
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, headers } from '@nats-io/transport-node'
import {
  arrivals,
  type Broker,
  benchBody,
  benchMetadata,
  type Destination,
  freshName,
  within,
} from './brokers.ts'
import { BENCH_SESSION } from './event.ts'

export async function openNats(url: string): Promise<Broker> {
  const servers = new URL(url).host
  const admin = await connect({ servers, name: 'whatsgate-bench admin' })
  const jsm = await jetstreamManager(admin)
  const made: string[] = []

  async function destination(label: string): Promise<Destination> {
    const subject = `${freshName()}-${label}`
    // Stream names take no ".", "*", ">" or spaces; subjects take "-".
    const stream = subject.replaceAll('-', '_')
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] })
    made.push(stream)
    const count = async () => (await jsm.streams.info(stream)).state.messages
    return {
      target: { type: 'nats', url, subject: `${subject}.{session}.{action}` },
      async publisher() {
        const nc = await connect({ servers, name: 'whatsgate-bench publisher' })
        const js = jetstream(nc)
        const to = `${subject}.${BENCH_SESSION}.message`
        return {
          async publish(id) {
            const metadata = benchMetadata(id)
            const h = headers()
            for (const [name, value] of Object.entries(metadata)) h.set(name, value)
            // As the relay: the event key as Nats-Msg-Id, done on the stream's ack.
            await js.publish(to, benchBody(id), {
              msgID: metadata['webhook-id'],
              headers: h,
              timeout: 10_000,
            })
          },
          close: () => nc.close(),
        }
      },
      count,
      async arrived() {
        const { state } = await jsm.streams.info(stream)
        const got = arrivals()
        if (state.messages === 0) return got
        const consumer = await jetstream(admin).consumers.get(stream)
        const messages = await consumer.consume({ max_messages: 1000 })
        await within(
          60_000,
          `reading ${state.messages} messages of stream ${stream}`,
          (async () => {
            for await (const message of messages) {
              got.add(message.headers?.get('webhook-id') || undefined, message.string())
              if (message.seq >= state.last_seq) break
            }
          })(),
        ).finally(() => messages.stop())
        return got
      },
    }
  }

  return {
    destination,
    async close() {
      for (const stream of made) await jsm.streams.delete(stream)
      await admin.close()
    },
  }
}
