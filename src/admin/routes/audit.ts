// Who did what: every replay, discard, pause and resume is recorded with when, how (the dashboard,
// the CLI, another API client) and who (the dashboard session, or the kind of token), and listed
// newest first.
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { AuditAction, AuditStore, AuditVia } from '../../store/types.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { auditAnswer, auditQuery, commonAnswers } from '../schemas.ts'

/** The header a client names itself with; the CLI sends `cli`. */
export const CLIENT_HEADER = 'x-relay-client'

/** How the request came: a signed-in browser is the dashboard; a token, the CLI when it says so. */
function viaOf(request: FastifyRequest): AuditVia {
  if (request.admin?.via === 'session') return 'dashboard'
  return request.headers[CLIENT_HEADER] === 'cli' ? 'cli' : 'api'
}

/** Who asked, as a discard mark names them: `session <id>` or `<role> token`. */
export function actorOf(request: FastifyRequest): string {
  const session = request.admin?.session
  return session ? `session ${session.id}` : `${request.admin?.role ?? 'admin'} token`
}

/** Records a change the request made. */
export function recordAudit(
  store: AuditStore,
  request: FastifyRequest,
  at: number,
  change: { action: AuditAction; subject: string; count: number | null; reason?: string | null },
): Promise<void> {
  return store.recordAudit({
    at,
    action: change.action,
    via: viaOf(request),
    role: request.admin?.role ?? 'admin',
    session: request.admin?.session?.id ?? null,
    subject: change.subject,
    count: change.count,
    reason: change.reason ?? null,
  })
}

export const auditRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/audit',
    {
      schema: {
        summary: 'Every replay, discard, pause and resume: when, how and who, newest first',
        querystring: auditQuery,
        response: { 200: auditAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { before, limit } = request.query
      const entries = await opts.store.listAudit({ beforeId: before, limit })
      return { entries, next: entries.length === limit ? (entries.at(-1)?.id ?? null) : null }
    },
  )
}
