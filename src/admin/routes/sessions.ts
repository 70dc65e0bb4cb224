// Signing in and out of the dashboard, and the operator's view of who is signed in: each session
// listed with when and from where, and ended one by one (sessions.ts keeps them in the store).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { type AuthFailures, clearSessionCookie, setSessionCookie } from '../auth.ts'
import { badRequestAnswer, commonAnswers, errorAnswer } from '../schemas.ts'
import type { AdminSessions } from '../sessions.ts'

export interface SessionRouteOptions {
  sessions: AdminSessions
  failures: AuthFailures
  lifetimeMs: number
}

const role = z.enum(['admin', 'viewer']).describe('A viewer may read, never change')
const sessionBody = z.strictObject({
  token: z.string().min(1).max(1024).describe('ADMIN_TOKEN, or ADMIN_VIEWER_TOKEN for a read-only session'),
})
const sessionAnswer = z
  .object({
    signedIn: z.boolean(),
    role: role.nullable(),
    expiresAt: z
      .number()
      .int()
      .nullable()
      .describe('When the session ends at the latest, ms since the epoch'),
  })
  .meta({ id: 'Session' })
const sessionRow = z
  .object({
    id: z.string(),
    role,
    createdAt: z.number().int(),
    lastSeenAt: z.number().int(),
    expiresAt: z.number().int().describe('The end of its lifetime'),
    idleExpiresAt: z.number().int().describe('When it ends unless used before'),
    address: z.string().nullable(),
    userAgent: z.string().nullable(),
    current: z.boolean().describe('The session this request came with'),
  })
  .meta({ id: 'SessionRow' })
const sessionsAnswer = z.object({ sessions: z.array(sessionRow) })
const sessionParams = z.strictObject({ id: z.string().min(1).max(32) })
const signedOut = { signedIn: false, role: null, expiresAt: null }
const linkAnswer = z
  .object({
    path: z
      .string()
      .describe('Open it on the relay (PUBLIC_URL or its address) within the time: /admin/sign-in/<link>'),
    expiresAt: z.number().int().describe('When the link stops working, ms since the epoch'),
  })
  .meta({ id: 'SignInLink' })
const linkParams = z.strictObject({ link: z.string().min(1).max(128) })
/** How long a sign-in link works: enough to paste it into a browser. */
export const SIGN_IN_LINK_MS = 10 * 60_000
const limited = { 429: errorAnswer.describe('Too many failed sign-ins from this address: see Retry-After') }

export const sessionRoutes: FastifyPluginAsyncZod<SessionRouteOptions> = async (app, opts) => {
  const { sessions, failures } = opts

  app.post(
    '/admin/session',
    {
      config: { adminPublic: true },
      schema: {
        summary:
          'Sign in: exchange the admin or viewer token for a session cookie (HttpOnly, SameSite=Strict)',
        security: [],
        body: sessionBody,
        response: { 200: sessionAnswer, 400: badRequestAnswer, 401: errorAnswer, ...limited },
      },
    },
    async (request, reply) => {
      if (await failures.refusedAsLocked(request, reply)) return reply
      const role = sessions.roleOf(request.body.token)
      if (role === null) {
        await failures.failed(request, 'sign-in')
        return reply.code(401).send({ error: 'wrong admin token' })
      }
      await sessions.prune()
      const started = await sessions.start(role, {
        address: request.ip,
        userAgent: request.headers['user-agent'],
      })
      setSessionCookie(reply, started.cookie, opts.lifetimeMs)
      request.log.info({ ip: request.ip, session: started.session.id, role }, 'admin signed in')
      return { signedIn: true, role, expiresAt: started.session.expiresAt }
    },
  )

  app.post(
    '/admin/sign-in-links',
    {
      schema: {
        summary: 'A one-time sign-in link for the dashboard, working for 10 minutes (the CLI: admin-url)',
        response: { 200: linkAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const started = await sessions.start(
        'admin',
        { address: request.ip, userAgent: 'one-time sign-in link' },
        SIGN_IN_LINK_MS,
      )
      request.log.info({ ip: request.ip }, 'admin sign-in link made')
      return { path: `/admin/sign-in/${started.cookie}`, expiresAt: started.session.expiresAt }
    },
  )

  // A GET, as a link is opened: it ends the link and starts a session of its own, so the address
  // (in the browser's history, a proxy's log) signs no one in again.
  app.get(
    '/admin/sign-in/:link',
    { config: { adminPublic: true }, schema: { hide: true, params: linkParams } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store')
      if (await failures.refusedAsLocked(request, reply)) return reply
      const role = await sessions.claim(request.params.link)
      if (role === null) {
        await failures.failed(request, 'sign-in')
        return reply.redirect('/admin/?link=expired', 303)
      }
      const started = await sessions.start(role, {
        address: request.ip,
        userAgent: request.headers['user-agent'],
      })
      setSessionCookie(reply, started.cookie, opts.lifetimeMs)
      request.log.info({ ip: request.ip, session: started.session.id, role }, 'admin signed in with a link')
      return reply.redirect('/admin/', 303)
    },
  )

  app.get(
    '/admin/session',
    {
      config: { adminPublic: true },
      schema: { summary: 'Who this request is signed in as', security: [], response: { 200: sessionAnswer } },
    },
    async (request) => {
      const admin = request.admin
      if (admin === null) return signedOut
      return { signedIn: true, role: admin.role, expiresAt: admin.session?.expiresAt ?? null }
    },
  )

  app.delete(
    '/admin/session',
    {
      config: { adminPublic: true },
      schema: {
        summary: 'Sign out: end this session on every replica and clear its cookie',
        security: [],
        response: { 200: sessionAnswer },
      },
    },
    async (request, reply) => {
      const session = request.admin?.session
      if (session) {
        await sessions.end(session.id)
        request.log.info({ ip: request.ip, session: session.id }, 'admin signed out')
      }
      clearSessionCookie(reply)
      return signedOut
    },
  )

  app.get(
    '/admin/sessions',
    {
      schema: {
        summary: 'Dashboard sessions signed in now, newest first',
        response: { 200: sessionsAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      await sessions.prune()
      const current = request.admin?.session?.id
      const rows = await sessions.list()
      return { sessions: rows.map((row) => ({ ...row, current: row.id === current })) }
    },
  )

  app.delete(
    '/admin/sessions/:id',
    {
      schema: {
        summary: 'End one dashboard session (its cookie stops working on every replica)',
        params: sessionParams,
        response: { 200: z.object({ ended: z.literal(true) }), 404: errorAnswer, ...commonAnswers },
      },
    },
    async (request, reply) => {
      if (!(await sessions.end(request.params.id))) {
        return reply.code(404).send({ error: 'no such session' })
      }
      request.log.info({ ip: request.ip, session: request.params.id }, 'admin session ended')
      return { ended: true as const }
    },
  )
}
