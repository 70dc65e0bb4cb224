// Events: found by session, action, chat, party, time, conformance, outcome or target, newest
// first, each row saying what became of it; and one with everything that became of it (its body,
// its deliveries, every attempt, and for each target that got none, why not).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AdminOptions } from '../admin-plugin.ts'
import {
  asText,
  commonAnswers,
  errorAnswer,
  eventDetailAnswer,
  eventKey,
  eventListAnswer,
  eventListQuery,
} from '../schemas.ts'
import { withTextBody } from './conflicts.ts'
import { outcomesOf, previewOf, routingOf } from './event-outcomes.ts'
import { pageOf } from './page-cursors.ts'

export const eventRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/events',
    {
      schema: {
        summary:
          'Events received, newest first, with filters (outcome and target too), cursors both ways, and what became of each',
        querystring: eventListQuery,
        response: { 200: eventListAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { conforming, session, action, chat, party, key, from, to, before, after, limit } = request.query
      const { outcome, target } = request.query
      // Newest first, from the newest or from before `before`; `after` reads the page just newer
      // than it (oldest first, in the store's order) and turns it around.
      const newestFirst = after === undefined
      const rows = await opts.store.listEvents({
        conforming,
        whatsappId: session,
        action,
        chat,
        party,
        key,
        receivedFrom: from,
        receivedBefore: to,
        outcome,
        target,
        ...(newestFirst ? { newestFirst, beforeSeq: before } : { afterSeq: after }),
        limit: limit + 1,
      })
      const { rows: page, ...cursors } = pageOf(rows, (event) => event.seq, {
        newestFirst,
        before,
        after,
        limit,
      })
      const [{ bodies, deliveries }, paused] = await Promise.all([
        opts.store.eventSummaries(page.map((event) => event.seq)),
        opts.store.pausedTargets(),
      ])
      const pausedNames = new Set(paused.keys())
      const events = page.map((event) => ({
        ...event,
        outcomes: outcomesOf(
          deliveries.filter((delivery) => delivery.seq === event.seq),
          opts.targets,
          pausedNames,
        ),
        preview: previewOf(bodies.get(event.seq)),
      }))
      return { events, ...cursors }
    },
  )

  // A wildcard, not a `:key` parameter: Fastify refuses parameters over 100 characters (414), and
  // a key may reach 322. The key comes URL-encoded, and decoded here. The OpenAPI document names
  // it {key} (openapi.ts).
  app.get(
    '/admin/events/*',
    {
      schema: {
        summary:
          'One event: its body, its deliveries and every attempt, every target and why one got nothing, and any conflicting copies',
        params: z.strictObject({ '*': eventKey }),
        response: { 200: eventDetailAnswer, 404: errorAnswer, ...commonAnswers },
      },
    },
    async (request, reply) => {
      const key = request.params['*']
      const event = await opts.store.getEvent(key)
      if (event === null) return reply.code(404).send({ error: `unknown event "${key}"` })
      const paused = new Set((await opts.store.pausedTargets()).keys())
      const { body, conflicts, ...stored } = event
      return {
        ...stored,
        ...asText(body),
        conflicts: conflicts.map(withTextBody),
        routing: routingOf(event, opts.targets, paused),
      }
    },
  )
}
