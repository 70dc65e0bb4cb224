// Dead letters to triage: grouped by target and cause, listed newest first with filters, and
// discarded with a reason (kept, marked, left out of every replay but one by id). Replays go
// through POST /admin/replay (deliveries.ts), which takes the same filter as `dead`.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { AdminOptions } from '../admin-plugin.ts'
import {
  commonAnswers,
  deadLetterFilterOf,
  deadLetterGroupsAnswer,
  deadLetterGroupsQuery,
  deadLettersAnswer,
  deadLettersQuery,
  discardAnswer,
  discardBody,
  errorAnswer,
} from '../schemas.ts'
import { actorOf, describeSelection, recordAudit } from './audit.ts'

export const deadLetterRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/dead-letters/groups',
    {
      schema: {
        summary: 'Dead letters per target and cause (last HTTP status, error class), the newest death first',
        querystring: deadLetterGroupsQuery,
        response: { 200: deadLetterGroupsAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const groups = await opts.store.deadLetterGroups(deadLetterFilterOf(request.query))
      return {
        groups,
        total: groups.reduce((sum, group) => sum + group.count, 0),
        discarded: groups.reduce((sum, group) => sum + group.discarded, 0),
      }
    },
  )

  app.get(
    '/admin/dead-letters',
    {
      schema: {
        summary: 'Dead letters, newest first, with filters and cursor paging',
        querystring: deadLettersQuery,
        response: { 200: deadLettersAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { discarded, before, limit, ...filter } = request.query
      const deadLetters = await opts.store.listDeadLetters({
        ...deadLetterFilterOf(filter),
        discarded,
        beforeId: before,
        limit,
      })
      return { deadLetters, next: deadLetters.length === limit ? (deadLetters.at(-1)?.id ?? null) : null }
    },
  )

  app.post(
    '/admin/discard',
    {
      schema: {
        summary: 'Mark dead letters discarded, with a reason: kept and counted, left out of bulk replays',
        body: discardBody,
        response: { 200: discardAnswer, 404: errorAnswer, ...commonAnswers },
      },
    },
    async (request, reply) => {
      const { ids, dead, reason } = request.body
      const target = dead?.target
      if (target !== undefined && !opts.targets.some((t) => t.name === target)) {
        return reply.code(404).send({ error: `unknown target "${target}"` })
      }
      const at = opts.now()
      const selector = ids !== undefined ? { ids } : { dead: dead ?? {} }
      const result = await opts.store.discard(selector, { at, reason, by: actorOf(request) })
      await recordAudit(opts.store, request, at, {
        action: 'discard',
        subject: describeSelection(selector),
        count: result.discarded,
        reason,
      })
      request.log.info({ ...result }, 'dead letters discarded')
      return result
    },
  )
}
