// Events: found by session, action, chat, party, time or conformance, and one with everything that
// became of it (its body, its deliveries, every attempt).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AdminOptions } from '../admin-plugin.ts'
import {
  asText,
  commonAnswers,
  errorAnswer,
  eventAnswer,
  eventKey,
  eventsAnswer,
  eventsQuery,
} from '../schemas.ts'
import { withTextBody } from './conflicts.ts'

export const eventRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/events',
    {
      schema: {
        summary: 'Events received, oldest first, with filters and cursor paging',
        querystring: eventsQuery,
        response: { 200: eventsAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { conforming, session, action, chat, party, key, from, to, after, limit } = request.query
      const events = await opts.store.listEvents({
        conforming,
        whatsappId: session,
        action,
        chat,
        party,
        key,
        receivedFrom: from,
        receivedBefore: to,
        afterSeq: after,
        limit,
      })
      return { events, next: events.length === limit ? (events.at(-1)?.seq ?? null) : null }
    },
  )

  // A wildcard, not a `:key` parameter: Fastify refuses parameters over 100 characters (414), and
  // a key may reach 322. The key comes URL-encoded, and decoded here. The OpenAPI document names
  // it {key} (openapi.ts).
  app.get(
    '/admin/events/*',
    {
      schema: {
        summary: 'One event: its body, its deliveries and every attempt, and any conflicting copies',
        params: z.strictObject({ '*': eventKey }),
        response: { 200: eventAnswer, 404: errorAnswer, ...commonAnswers },
      },
    },
    async (request, reply) => {
      const key = request.params['*']
      const event = await opts.store.getEvent(key)
      if (event === null) return reply.code(404).send({ error: `unknown event "${key}"` })
      const { body, conflicts, ...stored } = event
      return { ...stored, ...asText(body), conflicts: conflicts.map(withTextBody) }
    },
  )
}
