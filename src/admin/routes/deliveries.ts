// Deliveries (dead letters above all), one with its attempt history, and replay.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { AdminOptions } from '../admin-plugin.ts'
import {
  commonAnswers,
  deliveriesAnswer,
  deliveriesQuery,
  deliveryAnswer,
  deliveryParams,
  errorAnswer,
  replayAnswer,
  replayBody,
} from '../schemas.ts'

export const deliveryRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/deliveries',
    {
      schema: {
        summary: 'Deliveries, oldest first, with filters and cursor paging',
        querystring: deliveriesQuery,
        response: { 200: deliveriesAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { status, target, session, from, to, after, limit } = request.query
      const deliveries = await opts.store.listDeliveries({
        status,
        target,
        whatsappId: session,
        receivedFrom: from,
        receivedBefore: to,
        afterId: after,
        limit,
      })
      return { deliveries, next: deliveries.length === limit ? (deliveries.at(-1)?.id ?? null) : null }
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
