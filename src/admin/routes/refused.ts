// The webhook requests the ingest route refused (after their token matched), newest kept and
// listed newest first.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { RefusedRow } from '../../store/types.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { asText, commonAnswers, refusedListAnswer, refusedListQuery } from '../schemas.ts'
import { pageOf } from './page-cursors.ts'

export const refusedRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/refused',
    {
      schema: {
        summary: 'Webhook requests refused (not JSON, no identity, too large, ...), newest first',
        querystring: refusedListQuery,
        response: { 200: refusedListAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { before, after, limit } = request.query
      const newestFirst = after === undefined
      const read = await opts.store.listRefused(
        newestFirst
          ? { newestFirst, beforeId: before, limit: limit + 1 }
          : { afterId: after, limit: limit + 1 },
      )
      const { rows, ...cursors } = pageOf(read, (row) => row.id, { newestFirst, before, after, limit })
      return { refused: rows.map(withTextBody), ...cursors }
    },
  )
}

function withTextBody({ body, ...row }: RefusedRow) {
  if (body === null) return { ...row, body: null, bodyEncoding: null }
  return { ...row, ...asText(body) }
}
