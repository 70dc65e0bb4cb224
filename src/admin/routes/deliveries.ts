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
import { describeSelection, recordAudit } from './audit.ts'
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
        summary:
          'Send finished deliveries again from scratch (or, as a dry run, count the dead ones it would)',
        body: replayBody,
        response: { 200: replayAnswer, 404: errorAnswer, ...commonAnswers },
      },
    },
    async (request, reply) => {
      const { selector, dryRun } = request.body
      const target =
        'target' in selector ? selector.target : 'dead' in selector ? selector.dead.target : undefined
      if (target !== undefined && !opts.targets.some((t) => t.name === target)) {
        return reply.code(404).send({ error: `unknown target "${target}"` })
      }
      if ('eventKey' in selector && (await opts.store.getEvent(selector.eventKey)) === null) {
        return reply.code(404).send({ error: `unknown event "${selector.eventKey}"` })
      }
      const filter =
        'dead' in selector ? selector.dead : 'target' in selector ? { target: selector.target } : null
      // The count says which targets it touches: those still failing or paused are warned of.
      const counted = filter === null ? null : await opts.store.countDeadLetters(filter)
      const warnings = counted === null ? [] : await warningsOf(opts, counted.targets)
      const withWarnings = warnings.length > 0 ? { warnings } : {}
      if (dryRun && counted !== null) {
        return { replayed: 0, matched: counted.count, upTo: counted.upTo, ...withWarnings }
      }
      const now = opts.now()
      const result = await opts.store.replay(selector, now)
      await recordAudit(opts.store, request, now, {
        action: 'replay',
        subject: describeSelection(selector),
        count: result.replayed,
      })
      if (result.replayed > 0) opts.onReplay()
      request.log.info({ ...result, selector }, 'deliveries replayed')
      return { ...result, ...withWarnings }
    },
  )
}

/**
 * The targets of a bulk replay that are paused (what it replays waits) or that this replica sees
 * failing (what it replays may die again), said so that the operator fixes the target first.
 */
async function warningsOf(opts: AdminOptions, targets: string[]): Promise<string[]> {
  if (targets.length === 0) return []
  const paused = await opts.store.pausedTargets()
  const failing = new Set(opts.failingTargets())
  return targets.flatMap((name) => {
    if (paused.has(name)) return [`${name} is paused: what is replayed waits until it is resumed`]
    if (failing.has(name)) return [`${name} is still failing: what is replayed may die again`]
    return []
  })
}
