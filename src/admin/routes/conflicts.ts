// Conflicting copies: webhooks that came under a stored event's key with a different body,
// answered OK and kept beside the event (store/conflicts.ts), newest first.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { ConflictRow } from '../../store/types.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { asText, commonAnswers, conflictsAnswer, pageQuery } from '../schemas.ts'

export const conflictRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/conflicts',
    {
      schema: {
        summary: 'Copies of stored events that came with a different body under the same key, newest first',
        querystring: pageQuery,
        response: { 200: conflictsAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { after, limit } = request.query
      const conflicts = (await opts.store.listConflicts({ afterId: after, limit })).map(withTextBody)
      return { conflicts, next: conflicts.length === limit ? (conflicts.at(-1)?.id ?? null) : null }
    },
  )
}

export function withTextBody({ body, ...row }: ConflictRow) {
  return { ...row, ...asText(body) }
}
