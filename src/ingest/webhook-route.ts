// POST /webhook/<token>: WhatsGate's callback. Thin: token, limits, then the acceptor decides.
import type { FastifyInstance } from 'fastify'
import type { Acceptor } from './acceptor.ts'
import { createTokenCheck } from './token.ts'

export interface WebhookRouteOptions {
  acceptor: Acceptor
  token: string
  bodyLimit: number
  logMessageText: boolean
}

export async function webhookRoute(app: FastifyInstance, opts: WebhookRouteOptions): Promise<void> {
  const tokenMatches = createTokenCheck(opts.token)

  // Keep the bytes as they came: they are stored and forwarded unchanged. Only JSON is taken;
  // any other content type gets Fastify's 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

  app.post<{ Params: { token: string }; Body: Buffer }>('/webhook/:token', {
    bodyLimit: opts.bodyLimit,
    // Before the body is read: a stranger cannot make the relay parse anything.
    onRequest: async (request, reply) => {
      if (!tokenMatches(request.params.token)) return reply.code(401).send({ error: 'unknown webhook token' })
    },
    handler: async (request, reply) => {
      if (!Buffer.isBuffer(request.body)) return reply.code(400).send({ error: 'empty body' })
      const outcome = await opts.acceptor.accept(request.body)
      if (outcome.status === 'invalid') {
        request.log.info({ issues: outcome.issues }, `event rejected: ${outcome.error}`)
        return reply.code(400).send({ error: outcome.error, issues: outcome.issues })
      }
      const { event } = outcome
      request.log.info(
        {
          event: outcome.key,
          status: outcome.status,
          text: opts.logMessageText ? messageText(event) : undefined,
        },
        'event accepted',
      )
      return reply.send({ result: 'OK', id: event.id })
    },
  })
}

function messageText(event: { event_data: Record<string, unknown> }): unknown {
  return (event.event_data.message as { body?: unknown } | undefined)?.body
}
