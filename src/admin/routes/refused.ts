// The webhook requests the ingest route refused (after their token matched), newest kept.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { RefusedRow } from '../../store/types.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { asText, commonAnswers, pageQuery, refusedAnswer } from '../schemas.ts'

export const refusedRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/refused',
    {
      schema: {
        summary: 'Webhook requests refused (not JSON, no identity, too large, ...), oldest first',
        querystring: pageQuery,
        response: { 200: refusedAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { after, limit } = request.query
      const refused = (await opts.store.listRefused({ afterId: after, limit })).map(withTextBody)
      return { refused, next: refused.length === limit ? (refused.at(-1)?.id ?? null) : null }
    },
  )
}

function withTextBody({ body, ...row }: RefusedRow) {
  if (body === null) return { ...row, body: null, bodyEncoding: null }
  return { ...row, ...asText(body) }
}
