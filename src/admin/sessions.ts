// Dashboard sessions, kept in the store: the cookie is `<id>.<secret>`, random, and the store holds
// the secret's hash only. A sign-out deletes the row, so a copied cookie stops working at once on
// every replica; a session also ends after idle time, after its lifetime, and when the token that
// signed it in is no longer set (each row carries a tag of that token).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { createTokenCheck } from '../shared/token-check.ts'
import type { AdminRole, AdminSessionRow, AdminSessionStore } from '../store/types.ts'

export interface AdminSessionsOptions {
  store: AdminSessionStore
  /** The admin token, and the viewer's (read-only) if one is set. */
  tokens: { admin: string; viewer: string | null }
  now: () => number
  /** A session unused for this long ends. */
  idleMs: number
  /** A session ends this long after sign-in, used or not. */
  lifetimeMs: number
}

export interface ActiveSession {
  id: string
  role: AdminRole
  expiresAt: number
}

/** How often a session in use writes its last-seen time: often enough for the idle limit. */
const TOUCH_EVERY_MS = 60_000

/** A tag of the token that signed a session in: no token, nor anything to check one, in the store. */
export function tokenTag(token: string): string {
  return createHmac('sha256', token).update('whatsgate-relay admin session').digest('base64url').slice(0, 22)
}

export function createAdminSessions({ store, tokens, now, idleMs, lifetimeMs }: AdminSessionsOptions) {
  const roles = [
    { role: 'admin' as const, matches: createTokenCheck(tokens.admin), tag: tokenTag(tokens.admin) },
    ...(tokens.viewer === null
      ? []
      : [
          { role: 'viewer' as const, matches: createTokenCheck(tokens.viewer), tag: tokenTag(tokens.viewer) },
        ]),
  ]
  const roleOfTag = new Map(roles.map(({ role, tag }) => [tag, role]))

  return {
    /** The role a presented token grants, or null. Every token is compared, in constant time. */
    roleOf(token: string | undefined): AdminRole | null {
      let granted: AdminRole | null = null
      for (const { role, matches } of roles) if (matches(token)) granted ??= role
      return granted
    },

    /**
     * Starts a session; returns the cookie's value (shown to no one else) and the session. A
     * sign-in link is a session too, short-lived, that `claim` turns into a real one.
     */
    async start(
      role: AdminRole,
      client: { address: string; userAgent: string | undefined },
      lasts = lifetimeMs,
    ) {
      const id = randomBytes(12).toString('base64url')
      const secret = randomBytes(32).toString('base64url')
      const at = now()
      const tag = roles.find((entry) => entry.role === role)?.tag as string
      const row: AdminSessionRow = {
        id,
        secretHash: hashOf(secret),
        role,
        tokenTag: tag,
        createdAt: at,
        lastSeenAt: at,
        expiresAt: at + lasts,
        address: client.address,
        userAgent: client.userAgent?.slice(0, 300) ?? null,
      }
      await store.createAdminSession(row)
      return { cookie: `${id}.${secret}`, session: { id, role, expiresAt: row.expiresAt } }
    },

    /** The live session a cookie names, or null (unknown, tampered, idle, expired, old token). */
    async resolve(cookie: string): Promise<ActiveSession | null> {
      const [id, secret, extra] = cookie.split('.')
      if (!id || !secret || extra !== undefined || id.length > 32 || secret.length > 64) return null
      const row = await store.findAdminSession(id)
      if (row === null || !timingSafeEqual(hashOf(secret), row.secretHash)) return null
      const at = now()
      const role = roleOfTag.get(row.tokenTag)
      if (role !== row.role || at >= row.expiresAt || at - row.lastSeenAt >= idleMs) {
        await store.endAdminSession(id)
        return null
      }
      if (at - row.lastSeenAt >= TOUCH_EVERY_MS) await store.touchAdminSession(id, at)
      return { id, role, expiresAt: row.expiresAt }
    },

    /**
     * Uses up a sign-in link: its role when it was live and this call ended it (of two claims at
     * once, one wins), else null.
     */
    async claim(link: string): Promise<AdminRole | null> {
      const session = await this.resolve(link)
      if (session === null || !(await store.endAdminSession(session.id))) return null
      return session.role
    },

    end: (id: string) => store.endAdminSession(id),

    /** Every session kept (prune first to leave out those that ended). */
    async list() {
      return (await store.listAdminSessions()).map(({ secretHash: _hash, tokenTag: _tag, ...row }) => ({
        ...row,
        idleExpiresAt: Math.min(row.lastSeenAt + idleMs, row.expiresAt),
      }))
    },

    /** Removes what can no longer sign anyone in: lapsed sessions and those of a changed token. */
    prune() {
      const at = now()
      return store.pruneAdminSessions({ now: at, idleSince: at - idleMs, tokenTags: [...roleOfTag.keys()] })
    },
  }
}

export type AdminSessions = ReturnType<typeof createAdminSessions>

function hashOf(secret: string): Buffer {
  return createHash('sha256').update(secret).digest()
}
