// The baseline for the ingest benchmark: Fastify with nothing but JSON parsing and the same answer
// the relay gives. The relay's cost is measured as its distance from this.
import Fastify from 'fastify'

const port = Number(process.env.PORT ?? 0)
const host = process.env.HOST ?? '127.0.0.1'

const app = Fastify({ logger: false })

app.get('/healthz', async () => ({ status: 'ok' }))

app.post<{ Body: { id?: unknown } }>('/webhook/x', async (request, reply) => {
  const id = request.body?.id
  if (typeof id !== 'number') return reply.code(400).send({ error: 'id must be a number' })
  return { result: 'OK', id }
})

const shutdown = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)

await app.listen({ port, host })
