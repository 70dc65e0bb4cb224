// Who may use /admin: a request carrying ADMIN_TOKEN (or ADMIN_VIEWER_TOKEN) as a bearer token
// (scripts, the CLI), or a browser holding a session cookie it got for one of them (the dashboard;
// sessions.ts). Routes marked `config: { adminPublic: true }` (the page, its assets, signing in and
// out) are open to anyone and decide for themselves with `request.admin`.
//
// A viewer reads and changes nothing: any method but GET, HEAD and OPTIONS is 403 for it. Every
// failed token or cookie counts against the client's address (auth-limits.ts); a locked-out
// address gets 429 with Retry-After and its token is not even compared.
import cookie from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AdminRole } from '../store/types.ts'
import type { AuthLimits } from './auth-limits.ts'
import type { ActiveSession, AdminSessions } from './sessions.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the admin token. */
    adminPublic?: boolean
  }
  interface FastifyRequest {
    /** Who the request proved to be, or null when it did not. */
    admin: AdminIdentity | null
  }
}

export interface AdminIdentity {
  via: 'token' | 'session'
  role: AdminRole
  /** The session, when signed in through the cookie. */
  session: ActiveSession | null
}

/** What was presented and refused: the sign-in form's token, a bearer token, or a cookie. */
export type AuthFailure = 'sign-in' | 'bearer' | 'cookie'

export interface AuthFailureOptions {
  limits: AuthLimits
  /** Told of each refused credential (metrics, the aggregated log). */
  onFailure: (address: string, failure: AuthFailure) => void
  /** Told of each request turned away by a lockout. */
  onLocked: (address: string) => void
}

/** The lockout and the failure count, shared by the check below and the sign-in route. */
export function createAuthFailures({ limits, onFailure, onLocked }: AuthFailureOptions) {
  return {
    /** Answers 429 when the client is locked out; true when it did. */
    async refusedAsLocked(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
      const seconds = await limits.lockedFor(request.ip)
      if (seconds === null) return false
      onLocked(request.ip)
      reply
        .code(429)
        .header('retry-after', String(seconds))
        .send({ error: `too many failed sign-ins from this address: try again in ${seconds} s` })
      return true
    },

    async failed(request: FastifyRequest, failure: AuthFailure): Promise<void> {
      onFailure(request.ip, failure)
      await limits.failed(request.ip)
    },
  }
}

export type AuthFailures = ReturnType<typeof createAuthFailures>

export const SESSION_COOKIE = 'relay_session'
const COOKIE_PATH = '/admin'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Adds the check to `app` itself (not a child scope): every route registered after it is guarded. */
export async function adminAuth(
  app: FastifyInstance,
  { sessions, failures }: { sessions: AdminSessions; failures: AuthFailures },
): Promise<void> {
  const { refusedAsLocked, failed } = failures
  // Cookies are parsed by the check below, not by the plugin's own hook: no hook order to get right.
  await app.register(cookie, { hook: false })

  app.decorateRequest('admin', null)
  app.addHook('onRequest', async (request, reply) => {
    const bearer = request.headers.authorization?.match(/^Bearer (.*)$/i)?.[1]
    const cookieValue = bearerOrCookie(app, request, bearer)
    if (bearer !== undefined) {
      if (await refusedAsLocked(request, reply)) return reply
      const role = sessions.roleOf(bearer)
      if (role !== null) request.admin = { via: 'token', role, session: null }
      else await failed(request, 'bearer')
    } else if (cookieValue !== undefined) {
      const session = await sessions.resolve(cookieValue)
      if (session !== null) request.admin = { via: 'session', role: session.role, session }
      else {
        // Ended (signed out, lapsed, the token changed) or forged: the browser stops sending it.
        clearSessionCookie(reply)
        if (await refusedAsLocked(request, reply)) return reply
        await failed(request, 'cookie')
      }
    }
    if (request.routeOptions.config.adminPublic) return
    if (request.admin === null) {
      // A request that presented nothing: a locked-out address is told how long to wait.
      if (bearer === undefined && cookieValue === undefined && (await refusedAsLocked(request, reply))) {
        return reply
      }
      return reply.code(401).send({ error: 'admin token or session required' })
    }
    if (SAFE_METHODS.has(request.method)) return
    if (request.admin.role === 'viewer') {
      return reply.code(403).send({ error: 'read-only: a viewer cannot change anything' })
    }
    // A cross-site form can send a cookie-carrying POST, but never as JSON without a CORS preflight
    // the relay does not answer: belt and braces beside SameSite=Strict.
    if (request.admin.via === 'session' && !isJson(request)) {
      const message = 'a change from a signed-in browser must be sent as application/json'
      return reply.code(415).send({ error: message, issues: [{ path: 'content-type', message }] })
    }
  })
}

/** The session cookie's value, unless a bearer token was presented (it decides alone). */
function bearerOrCookie(app: FastifyInstance, request: FastifyRequest, bearer: string | undefined) {
  if (bearer !== undefined || request.headers.cookie === undefined) return undefined
  return app.parseCookie(request.headers.cookie)[SESSION_COOKIE]
}

export function setSessionCookie(reply: FastifyReply, value: string, maxAgeMs: number): void {
  reply.setCookie(SESSION_COOKIE, value, { ...cookieOptions(reply), maxAge: Math.floor(maxAgeMs / 1000) })
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, cookieOptions(reply))
}

// Secure when the request came over HTTPS, as the client saw it: behind a proxy, that takes
// TRUST_PROXY, so that Fastify reads the protocol the proxy forwarded.
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
