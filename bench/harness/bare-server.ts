// The baselines, a bare Fastify route giving the relay's answer. Without FORWARD_URL it only parses
// the JSON (the ingest benchmark's baseline). With FORWARD_URL it also posts the body, byte for
// byte, to that URL through an undici pool and answers once the target has: a forwarder with no
// validation, no store and no retries, the ceiling for any relay on this machine (the pipeline's).
import { Pool } from 'undici'
import { type BareBody, bareApp, serve } from './bare-app.ts'

const forwardUrl = process.env.FORWARD_URL ? new URL(process.env.FORWARD_URL) : null
const pool = forwardUrl
  ? new Pool(forwardUrl.origin, { connections: Number(process.env.FORWARD_CONNECTIONS ?? 50) })
  : null

const app = bareApp()

app.post<{ Body: BareBody }>('/webhook/x', async (request, reply) => {
  const { id, whatsapp_id, event_action } = request.body.json ?? {}
  if (typeof id !== 'number') return reply.code(400).send({ error: 'id must be a number' })
  if (pool && forwardUrl) {
    const { statusCode, body } = await pool.request({
      path: forwardUrl.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': `${whatsapp_id}:${event_action}:${id}` },
      body: request.body.raw,
    })
    await body.dump()
    if (statusCode !== 200) return reply.code(502).send({ error: `target answered ${statusCode}` })
  }
  return { result: 'OK', id }
})

await serve(app, () => Promise.all([app.close(), pool?.close()]))
