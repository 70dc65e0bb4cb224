// Deliveries (dead letters above all), one with its attempt history, and replay.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { AdminOptions } from '../admin-plugin.ts'
import {
  commonAnswers,
  deliveryAnswer,
  deliveryListAnswer,
  deliveryListQuery,
  deliveryParams,
  errorAnswer,
  replayAnswer,
  replayBody,
} from '../schemas.ts'
import { pageOf } from './page-cursors.ts'

export const deliveryRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/deliveries',
    {
      schema: {
        summary: 'Deliveries, newest first, with filters and cursors both ways',
        querystring: deliveryListQuery,
        response: { 200: deliveryListAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { status, target, session, from, to, before, after, limit } = request.query
      const newestFirst = after === undefined
      const rows = await opts.store.listDeliveries({
        status,
        target,
        whatsappId: session,
        receivedFrom: from,
        receivedBefore: to,
        ...(newestFirst ? { newestFirst, beforeId: before } : { afterId: after }),
        limit: limit + 1,
      })
      const { rows: deliveries, ...cursors } = pageOf(rows, (row) => row.id, {
        newestFirst,
        before,
        after,
        limit,
      })
      return { deliveries, ...cursors }
    },
  )

  app.get(
    '/admin/deliveries/:id',
    {
      schema: {
        summary: 'One delivery with every attempt',
        params: deliveryParams,
        response: { 200: deliveryAnswer, 404: errorAnswer, ...commonAnswers },
      },
    },
    async (request, reply) => {
      const delivery = await opts.store.getDelivery(request.params.id)
      if (delivery === null) return reply.code(404).send({ error: `unknown delivery ${request.params.id}` })
      return delivery
    },
  )

  app.post(
    '/admin/replay',
    {
      schema: {
        summary: 'Send finished deliveries again from scratch',
        body: replayBody,
        response: { 200: replayAnswer, 404: errorAnswer, ...commonAnswers },
      },
    },
    async (request, reply) => {
      const selector = request.body
      if ('target' in selector && !opts.targets.some((target) => target.name === selector.target)) {
        return reply.code(404).send({ error: `unknown target "${selector.target}"` })
      }
      if ('eventKey' in selector && (await opts.store.getEvent(selector.eventKey)) === null) {
        return reply.code(404).send({ error: `unknown event "${selector.eventKey}"` })
      }
      const result = await opts.store.replay(selector, opts.now())
      if (result.replayed > 0) opts.onReplay()
      request.log.info({ ...result, selector }, 'deliveries replayed')
      return result
    },
  )
}
