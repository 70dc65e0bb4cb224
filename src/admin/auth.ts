// Who may use /admin: a request carrying ADMIN_TOKEN as a bearer token (scripts, the CLI), or a
// browser holding a session cookie it got for that token (the dashboard). Routes marked
// `config: { adminPublic: true }` (the page, its assets, signing in and out) are open to anyone and
// decide for themselves with `request.adminVia`.
//
// Sessions are stateless: the cookie holds its expiry, signed with a key derived from ADMIN_TOKEN.
// Every replica accepts it without a shared table, and changing the token signs everyone out.
import { createHmac } from 'node:crypto'
import cookie from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { createTokenCheck } from '../shared/token-check.ts'
import { badRequestAnswer, errorAnswer } from './schemas.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the admin token. */
    adminPublic?: boolean
  }
  interface FastifyRequest {
    /** How the request proved it is the admin's, or null when it did not. */
    adminVia: 'token' | 'session' | null
  }
}

export interface AdminAuthOptions {
  token: string
  now: () => number
}

export const SESSION_COOKIE = 'relay_session'
export const SESSION_TTL_MS = 12 * 3_600_000
const COOKIE_PATH = '/admin'
// The cookie's format, so a later change of it refuses old cookies instead of misreading them.
const FORMAT = 's1'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

const sessionBody = z.strictObject({ token: z.string().min(1).max(1024).describe('ADMIN_TOKEN') })
const sessionAnswer = z
  .object({
    signedIn: z.boolean(),
    expiresAt: z.number().int().nullable().describe('When the session ends, ms since the epoch'),
  })
  .meta({ id: 'Session' })

/** The signing key of session cookies: ADMIN_TOKEN's, and only for this use. */
export function sessionSecret(token: string): Buffer {
  return createHmac('sha256', token).update('whatsgate-relay admin session').digest()
}

/**
 * Adds the check to `app` itself (not a child scope): every route registered after it is guarded.
 * Also registers the session routes, POST and DELETE /admin/session.
 */
export async function adminAuth(app: FastifyInstance, opts: AdminAuthOptions): Promise<void> {
  const tokenMatches = createTokenCheck(opts.token)
  // Cookies are parsed by the check below, not by the plugin's own hook: no hook order to get right.
  await app.register(cookie, { secret: sessionSecret(opts.token), hook: false })

  const sessionValid = (request: FastifyRequest): boolean => {
    const header = request.headers.cookie
    if (header === undefined) return false
    const signed = app.parseCookie(header)[SESSION_COOKIE]
    if (signed === undefined) return false
    const { valid, value } = app.unsignCookie(signed)
    if (!valid || value === null) return false
    const [format, expiresAt] = value.split('.')
    return format === FORMAT && Number(expiresAt) > opts.now()
  }

  app.decorateRequest('adminVia', null)
  app.addHook('onRequest', async (request, reply) => {
    const bearer = request.headers.authorization?.replace(/^Bearer /i, '')
    request.adminVia = tokenMatches(bearer) ? 'token' : sessionValid(request) ? 'session' : null
    if (request.routeOptions.config.adminPublic) return
    if (request.adminVia === null) return reply.code(401).send({ error: 'admin token or session required' })
    // A cross-site form can send a cookie-carrying POST, but never as JSON without a CORS preflight
    // the relay does not answer: belt and braces beside SameSite=Strict.
    if (request.adminVia === 'session' && !SAFE_METHODS.has(request.method) && !isJson(request)) {
      return reply
        .code(415)
        .send({ error: 'a change from a signed-in browser must be sent as application/json' })
    }
  })

  const api = app.withTypeProvider<ZodTypeProvider>()
  api.post(
    '/admin/session',
    {
      config: { adminPublic: true },
      schema: {
        summary: 'Sign in: exchange ADMIN_TOKEN for a session cookie (HttpOnly, SameSite=Strict, 12 h)',
        security: [],
        body: sessionBody,
        response: { 200: sessionAnswer, 400: badRequestAnswer, 401: errorAnswer },
      },
    },
    async (request, reply) => {
      if (!tokenMatches(request.body.token)) {
        request.log.warn({ ip: request.ip }, 'admin sign-in refused: wrong token')
        return reply.code(401).send({ error: 'wrong admin token' })
      }
      const expiresAt = opts.now() + SESSION_TTL_MS
      reply.setCookie(SESSION_COOKIE, `${FORMAT}.${expiresAt}`, {
        ...cookieOptions(reply),
        signed: true,
        maxAge: SESSION_TTL_MS / 1000,
      })
      request.log.info({ ip: request.ip }, 'admin signed in')
      return { signedIn: true, expiresAt }
    },
  )

  api.delete(
    '/admin/session',
    {
      config: { adminPublic: true },
      schema: {
        summary: 'Sign out: clear the session cookie',
        security: [],
        response: { 200: sessionAnswer },
      },
    },
    async (_request, reply) => {
      reply.clearCookie(SESSION_COOKIE, cookieOptions(reply))
      return { signedIn: false, expiresAt: null }
    },
  )
}

function cookieOptions(reply: FastifyReply) {
  return {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: reply.request.protocol === 'https',
  }
}

function isJson(request: FastifyRequest): boolean {
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
  return type === 'application/json'
}
