// Who did what: every replay, discard, pause and resume is recorded with when, how (the dashboard,
// the CLI, another API client) and who (the dashboard session, or the kind of token), and listed
// newest first.
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type {
  AuditAction,
  AuditStore,
  AuditVia,
  DeadLetterFilter,
  ReplaySelector,
} from '../../store/types.ts'
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

const SHOWN_IDS = 20

/** What a replay or a discard selected, as the audit log says it. */
export function describeSelection(
  selection: ReplaySelector | { ids: number[] } | { dead: DeadLetterFilter },
): string {
  if ('ids' in selection) {
    const shown = selection.ids.slice(0, SHOWN_IDS).join(', ')
    const more = selection.ids.length > SHOWN_IDS ? ` and ${selection.ids.length - SHOWN_IDS} more` : ''
    return `${selection.ids.length === 1 ? 'delivery' : 'deliveries'} ${shown}${more}`
  }
  if ('eventKey' in selection) {
    return `${selection.status === 'dead' ? 'the dead deliveries' : 'every finished delivery'} of event ${selection.eventKey}`
  }
  if ('target' in selection) return `every dead letter of ${selection.target}`
  const f = selection.dead
  const iso = (ms: number) => new Date(ms).toISOString()
  const parts = [
    f.target !== undefined ? `of ${f.target}` : 'of every target',
    f.whatsappId !== undefined ? `session ${f.whatsappId}` : null,
    f.chat !== undefined ? `chat ${f.chat}` : null,
    f.receivedFrom !== undefined ? `received from ${iso(f.receivedFrom)}` : null,
    f.receivedBefore !== undefined ? `received before ${iso(f.receivedBefore)}` : null,
    f.lastStatus === undefined ? null : f.lastStatus === null ? 'no answer' : `HTTP ${f.lastStatus}`,
    f.errorClass === undefined ? null : `error class ${f.errorClass ?? 'unknown'}`,
    f.upTo !== undefined ? `ids up to ${f.upTo}` : null,
  ]
  return `dead letters ${parts.filter((part) => part !== null).join(', ')}`
}
