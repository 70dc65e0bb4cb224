// POST /webhook/<token>: WhatsGate's callback. Thin: token, size limit, then the acceptor decides.
// Registered under the /webhook prefix, so its refusals (404s included) are all its own.
import type { IncomingMessage } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { messageTextOf } from '../events/index.ts'
import { createTokenCheck } from '../shared/token-check.ts'
import type { Acceptor } from './acceptor.ts'
import type { RecordRefusal, Refusal } from './refusals.ts'
import { headersAsReceived } from './request-headers.ts'

export interface WebhookRouteOptions {
  acceptor: Acceptor
  token: string
  bodyLimit: number
  logMessageText: boolean
  /** Whether the server cut this request at the request timeout, answering 408 itself. */
  cutByRequestTimeout: (request: IncomingMessage) => boolean
  recordRefusal: RecordRefusal
}

export async function webhookRoute(app: FastifyInstance, opts: WebhookRouteOptions): Promise<void> {
  const tokenMatches = createTokenCheck(opts.token)

  async function refuse(request: FastifyRequest, reply: FastifyReply, refusal: Refusal, answer: object) {
    await opts.recordRefusal(request, refusal)
    return reply.code(refusal.status).send(answer)
  }

  // WhatsGate's page names no content type, and its sample handler reads the raw body whatever
  // the header says: every body is kept as bytes (stored and forwarded unchanged) and parsed as
  // JSON by the acceptor. The header is set aside before parsing (the request's rawHeaders still
  // hold it), so not even a malformed one can turn an event away.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

  app.setNotFoundHandler((request, reply) =>
    refuse(request, reply, { reason: 'not_found', status: 404, body: null }, { error: 'not found' }),
  )

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const errorStatus = error.statusCode ?? 500
    // Not a refusal (a store outage is a 503): the app's handler answers it.
    if (errorStatus < 400 || errorStatus >= 500) throw error
    // The body stopped coming: the client left, or the request timeout cut it off (Node's server
    // has then answered 408 itself, and that is the status kept).
    const incomplete = error.code === 'ECONNRESET' || request.raw.destroyed
    const reason =
      error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'too_large' : incomplete ? 'incomplete' : 'bad_request'
    const status = opts.cutByRequestTimeout(request.raw) ? 408 : errorStatus
    return refuse(request, reply, { reason, status, body: null }, { error: error.message })
  })

  app.post<{ Params: { token: string }; Body: Buffer | undefined }>('/:token', {
    bodyLimit: opts.bodyLimit,
    // Before the body is read: a stranger cannot make the relay parse anything.
    onRequest: async (request, reply) => {
      if (!tokenMatches(request.params.token)) {
        return refuse(
          request,
          reply,
          { reason: 'token', status: 401, body: null },
          { error: 'unknown webhook token' },
        )
      }
      delete request.headers['content-type']
    },
    handler: async (request, reply) => {
      const body = request.body
      if (!Buffer.isBuffer(body) || body.length === 0) {
        const refusal = { reason: 'not_json', status: 400, body: null } as const
        return refuse(request, reply, refusal, { error: 'empty body', issues: [] })
      }
      const outcome = await opts.acceptor.accept(body, headersAsReceived(request.raw.rawHeaders))
      if (outcome.status === 'invalid') {
        const refusal = { reason: outcome.reason, status: 400, body }
        return refuse(request, reply, refusal, { error: outcome.error, issues: outcome.issues })
      }
      request.log.info(
        {
          event: outcome.key,
          status: outcome.status,
          conflict: outcome.conflict,
          conforming: outcome.issues.length === 0,
          text: opts.logMessageText ? messageTextOf(outcome.event) : undefined,
        },
        'event accepted',
      )
      return reply.send({ result: 'OK', id: outcome.event.id })
    },
  })
}
