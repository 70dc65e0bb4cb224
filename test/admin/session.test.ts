// Signing in to the admin scope without a browser: every route and page is closed without the
// token or a session; the session cookie's attributes; sessions kept in the store, so that a
// sign-out, idle time, the lifetime, a changed token or the operator ends them (on every replica);
// the JSON demanded of a signed-in browser's changes.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { SESSION_COOKIE } from '../../src/admin/auth.ts'
import { buildApp } from '../../src/app.ts'
import { captureLogger } from '../support/fake-whatsgate.ts'
import { createManualClock } from '../support/manual-clock.ts'
import { freshSchema, postgresSkipReason } from '../support/postgres.ts'
import {
  buildTestApp,
  REPLICA_SIGNING_SECRET,
  TEST_TOKEN,
  tempDir,
  tempDirsOfFile,
} from '../support/relay.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const TARGETS = JSON.stringify([{ name: 'crm', url: 'http://127.0.0.1:9/', events: ['*'] }])
const HOUR = 3_600_000
const LIFETIME_MS = 12 * HOUR
const IDLE_MS = HOUR

type Relay = Awaited<ReturnType<typeof buildTestApp>>
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function relay(
  options: Parameters<typeof buildTestApp>[2] = {},
  env: Record<string, string> = {},
  dataDir?: string,
): Promise<Relay> {
  const built = await buildTestApp({ ADMIN_TOKEN, TARGETS, ...env }, dataDir, options)
  cleanups.push(() => built.close())
  return built
}

/** Every route the app registers, as Fastify hands them to onRoute hooks: nothing escapes the list. */
async function relayWithRoutes(
  env: Record<string, string>,
): Promise<{ relay: Relay; routes: RouteOptions[] }> {
  const routes: RouteOptions[] = []
  // Fastify announces each new instance on this channel before any plugin is registered.
  const onInit = (message: unknown) =>
    (message as { fastify: FastifyInstance }).fastify.addHook('onRoute', (route) => void routes.push(route))
  subscribe('fastify.initialization', onInit)
  try {
    return { relay: await relay({}, env), routes }
  } finally {
    unsubscribe('fastify.initialization', onInit)
  }
}

async function signIn(app: Pick<FastifyInstance, 'inject'>, token = ADMIN_TOKEN) {
  const response = await app.inject({ method: 'POST', url: '/admin/session', payload: { token } })
  const setCookie = String(response.headers['set-cookie'] ?? '')
  return { response, setCookie, cookie: setCookie.split(';')[0] ?? '' }
}

const withCookie = (cookie: string) => ({ cookie })
/** The text with its last character changed. */
const otherLast = (text: string) => `${text.slice(0, -1)}${text.endsWith('A') ? 'B' : 'A'}`

// A real request for each route pattern: parameters filled in with values of the right form.
const concrete = (url: string) =>
  url
    .replace(':id', '1')
    .replace(':name', 'crm')
    .replace(':token', TEST_TOKEN)
    .replace(/\*$/, url.startsWith('/admin/events') ? encodeURIComponent('s:message:1') : 'app.js')

// Open to anyone: the health probes, ingest (its own token), and in /admin only what must be
// reachable before signing in. Every other route the app has, now or later, must answer 401.
const OPEN = new Set(['GET /healthz', 'GET /readyz', 'POST /webhook/:token'])
const ADMIN_PUBLIC = new Map([
  ['GET /admin', 308],
  ['GET /admin/', 401],
  ['GET /admin/assets/*', 200],
  ['POST /admin/session', 401],
  ['GET /admin/session', 200],
  // A link that is no link: back to the sign-in form, saying so.
  ['GET /admin/sign-in/:link', 303],
  ['DELETE /admin/session', 200],
])

describe('admin sessions', () => {
  it('answers 401 on every admin route and page without the token or a session', async () => {
    // Every refusal here is a failure: the limits (auth-limits.test.ts) are off for this sweep.
    const { relay: r, routes } = await relayWithRoutes({
      ADMIN_AUTH_FAILURES_PER_MINUTE: '0',
      ADMIN_AUTH_FAILURES_OVERALL: '0',
    })
    // Each method of each route; a HEAD route answers as its GET does.
    const all = routes.flatMap((route) =>
      [route.method].flat().map((method) => ({
        method,
        url: route.url,
        name: `${method === 'HEAD' ? 'GET' : method} ${route.url}`,
        marked: route.config?.adminPublic === true,
      })),
    )
    const guarded = all.filter((route) => !OPEN.has(route.name))
    expect(guarded.length).toBeGreaterThan(20)
    // The routes left open in /admin are exactly those marked so.
    const marked = new Set(guarded.filter((route) => route.marked).map((route) => route.name))
    expect([...marked].toSorted()).toEqual([...ADMIN_PUBLIC.keys()].toSorted())

    const refusals = [
      {},
      { authorization: 'Bearer wrong-token-0123456789' },
      { cookie: `${SESSION_COOKIE}=AAAAAAAAAAAAAAAA.${'A'.repeat(43)}` },
    ]
    for (const { method, url, name } of guarded) {
      for (const headers of refusals) {
        const response = await r.app.inject({
          method: method as 'GET',
          url: concrete(url),
          headers,
          // A wrong token, where the route takes one in its body.
          ...(name === 'POST /admin/session' ? { payload: { token: 'wrong-token-0123456789' } } : {}),
        })
        const expected = ADMIN_PUBLIC.get(name) ?? 401
        expect(response.statusCode, `${method} ${url} with ${JSON.stringify(headers)}`).toBe(expected)
      }
    }
  })

  it('signs in for 12 hours with an HttpOnly, SameSite=Strict cookie on /admin, and the cookie opens the API', async () => {
    const r = await relay()
    const { response, setCookie, cookie } = await signIn(r.app)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ signedIn: true, role: 'admin', expiresAt: expect.any(Number) })
    const attributes = setCookie.split('; ').slice(1)
    expect(attributes.toSorted()).toEqual(['HttpOnly', 'Max-Age=43200', 'Path=/admin', 'SameSite=Strict'])
    // Not Secure over plain HTTP (the browser would drop it); the token itself is not in it.
    expect(setCookie).not.toContain(ADMIN_TOKEN)

    expect((await r.app.inject({ url: '/admin/status', headers: withCookie(cookie) })).statusCode).toBe(200)
    const page = await r.app.inject({ url: '/admin/', headers: withCookie(cookie) })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('aria-label="Main"')
    const signInPage = await r.app.inject({ url: '/admin/' })
    expect(signInPage.statusCode).toBe(401)
    expect(signInPage.body).toContain('<label for="token">Admin token</label>')
  })

  it('refuses a forged or tampered cookie, and ends a session after idle time and after its lifetime', async () => {
    const clock = createManualClock()
    const r = await relay({ clock })
    const { cookie } = await signIn(r.app)
    const value = cookie.slice(SESSION_COOKIE.length + 1)
    const [id = '', secret = ''] = value.split('.')
    const status = async (sessionValue: string) =>
      (await r.app.inject({ url: '/admin/status', headers: withCookie(`${SESSION_COOKIE}=${sessionValue}`) }))
        .statusCode
    expect(await status(value)).toBe(200)
    // Another secret for the same id, the secret alone, another id, extra parts.
    expect(await status(`${id}.${otherLast(secret)}`)).toBe(401)
    expect(await status(secret)).toBe(401)
    expect(await status(`${otherLast(id)}.${secret}`)).toBe(401)
    expect(await status(`${value}.more`)).toBe(401)
    expect(await status(value)).toBe(200)

    // Used just often enough, it lasts its whole lifetime and not a moment more.
    for (let used = 0; used + IDLE_MS - 1 < LIFETIME_MS; used += IDLE_MS - 1) {
      clock.advance(IDLE_MS - 1)
      expect(await status(value)).toBe(200)
    }
    clock.advance(LIFETIME_MS % (IDLE_MS - 1))
    expect(await status(value)).toBe(401)

    // Left alone for the idle time, it ends.
    const second = await signIn(r.app)
    clock.advance(IDLE_MS)
    expect(
      (await r.app.inject({ url: '/admin/status', headers: withCookie(second.cookie) })).statusCode,
    ).toBe(401)
  })

  it('ends every session when ADMIN_TOKEN changes, and keeps them across a restart when it does not', async () => {
    const dataDir = tempDir()
    const first = await buildTestApp({ ADMIN_TOKEN, TARGETS }, dataDir)
    const { cookie } = await signIn(first.app)
    await first.app.close()

    const same = await buildTestApp({ ADMIN_TOKEN, TARGETS }, dataDir)
    expect((await same.app.inject({ url: '/admin/status', headers: withCookie(cookie) })).statusCode).toBe(
      200,
    )
    await same.app.close()

    const changed = await relay({}, { ADMIN_TOKEN: 'a-new-admin-token-9876543210' }, dataDir)
    const refused = await changed.app.inject({ url: '/admin/status', headers: withCookie(cookie) })
    expect(refused.statusCode).toBe(401)
    const sessions = await changed.app.inject({
      url: '/admin/sessions',
      headers: { authorization: 'Bearer a-new-admin-token-9876543210' },
    })
    expect(sessions.json().sessions).toEqual([])
  })

  it('lists the sessions with when and from where, and ends one: its copied cookie stops working', async () => {
    const r = await relay()
    const a = await r.app.inject({
      method: 'POST',
      url: '/admin/session',
      payload: { token: ADMIN_TOKEN },
      headers: { 'user-agent': 'Browser A' },
      remoteAddress: '198.51.100.1',
    })
    const cookieA = String(a.headers['set-cookie']).split(';')[0] as string
    const { cookie: cookieB } = await signIn(r.app)
    const list = await r.app.inject({ url: '/admin/sessions', headers: withCookie(cookieB) })
    expect(list.statusCode).toBe(200)
    const rows = list.json().sessions
    expect(rows).toHaveLength(2)
    const rowA = rows.find((row: { address: string }) => row.address === '198.51.100.1')
    expect(rowA).toMatchObject({ role: 'admin', userAgent: 'Browser A', current: false })
    expect(rows.find((row: { current: boolean }) => row.current)).toMatchObject({ address: '127.0.0.1' })
    // Nothing of the cookie is listed.
    expect(list.body).not.toContain(cookieA.split('.')[1])

    const end = await r.app.inject({
      method: 'DELETE',
      url: `/admin/sessions/${rowA.id}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(end.statusCode).toBe(200)
    expect((await r.app.inject({ url: '/admin/status', headers: withCookie(cookieA) })).statusCode).toBe(401)
    expect((await r.app.inject({ url: '/admin/status', headers: withCookie(cookieB) })).statusCode).toBe(200)
    const again = await r.app.inject({
      method: 'DELETE',
      url: `/admin/sessions/${rowA.id}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(again.statusCode).toBe(404)
  })

  it('makes a sign-in link that works once, within ten minutes', async () => {
    const clock = createManualClock()
    const r = await relay({ clock })
    const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` }
    const make = async () =>
      (await r.app.inject({ method: 'POST', url: '/admin/sign-in-links', headers: bearer })).json()
    const open = (path: string) => r.app.inject({ url: path })

    const link = await make()
    expect(link.expiresAt).toBe(clock.now() + 10 * 60_000)
    const opened = await open(link.path)
    expect(opened.statusCode).toBe(303)
    const cookie = String(opened.headers['set-cookie']).split(';')[0] as string
    expect((await r.app.inject({ url: '/admin/status', headers: withCookie(cookie) })).statusCode).toBe(200)
    expect((await open(link.path)).headers.location).toBe('/admin/?link=expired')

    const late = await make()
    clock.advance(10 * 60_000)
    const tooLate = await open(late.path)
    expect(tooLate.headers.location).toBe('/admin/?link=expired')
    expect(tooLate.headers['set-cookie']).toBeUndefined()
  })

  it("refuses a signed-in browser's change unless it is sent as JSON, and changes nothing then", async () => {
    const r = await relay()
    const { cookie } = await signIn(r.app)
    const pause = (headers: Record<string, string>, payload?: string) =>
      r.app.inject({ method: 'POST', url: '/admin/targets/crm/pause', headers, payload })
    const state = async () =>
      (await r.app.inject({ url: '/admin/targets', headers: withCookie(cookie) })).json().targets[0].state

    for (const type of [
      undefined,
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
    ]) {
      const response = await pause(
        { cookie, ...(type ? { 'content-type': type } : {}) },
        type ? 'a=1' : undefined,
      )
      expect(response.statusCode, String(type)).toBe(415)
      expect(response.json().error).toContain('application/json')
    }
    expect(await state()).toBe('ok')
    expect((await pause({ cookie, 'content-type': 'application/json' }, '{}')).statusCode).toBe(200)
    expect(await state()).toBe('paused')
    // A script with the bearer token is not a browser: no CSRF to fear, no content type asked.
    const resume = await r.app.inject({
      method: 'POST',
      url: '/admin/targets/crm/resume',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(resume.statusCode).toBe(200)
  })

  it('signs out: the session ends in the store, so a copy of the cookie is refused too', async () => {
    const r = await relay()
    const { cookie } = await signIn(r.app)
    const out = await r.app.inject({ method: 'DELETE', url: '/admin/session', headers: withCookie(cookie) })
    expect(out.statusCode).toBe(200)
    expect(out.json()).toEqual({ signedIn: false, role: null, expiresAt: null })
    const cleared = String(out.headers['set-cookie'])
    expect(cleared).toMatch(new RegExp(`^${SESSION_COOKIE}=;`))
    expect(cleared).toContain('Max-Age=0')
    expect(cleared).toContain('Path=/admin')
    // The copied cookie: refused, and told to go.
    const copy = await r.app.inject({
      method: 'POST',
      url: '/admin/targets/crm/pause',
      headers: withCookie(cookie),
    })
    expect(copy.statusCode).toBe(401)
    expect(String(copy.headers['set-cookie'])).toContain('Max-Age=0')
  })

  it('refuses a wrong token with 401 and a warn line that does not hold it', async () => {
    const dir = tempDirsOfFile('relay-session-')()
    const { log, entries } = captureLogger('info')
    const app = await buildApp({ env: { DATA_DIR: dir, INGEST_TOKEN: TEST_TOKEN, ADMIN_TOKEN }, logger: log })
    cleanups.push(() => app.close())
    const wrong = 'wrong-token-4242424242'
    const { response, setCookie } = await signIn(app, wrong)
    expect(response.statusCode).toBe(401)
    expect(response.json()).toEqual({ error: 'wrong admin token' })
    expect(setCookie).toBe('')
    const warnings = entries().filter((entry) => entry.level === 40 && entry.msg.includes('authentication'))
    expect(warnings).toEqual([expect.objectContaining({ ip: '127.0.0.1', credential: 'sign-in', count: 1 })])
    expect(JSON.stringify(entries())).not.toContain(wrong)
    const empty = await app.inject({ method: 'POST', url: '/admin/session', payload: { token: '' } })
    expect(empty.statusCode).toBe(400)
  })

  it('documents signing in and out in the OpenAPI document, open to anyone', async () => {
    const r = await relay()
    const doc = (
      await r.app.inject({ url: '/admin/openapi.json', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).json()
    const session = doc.paths['/admin/session']
    expect(session.post).toMatchObject({ summary: expect.stringContaining('Sign in'), security: [] })
    expect(session.post.requestBody.content['application/json'].schema.required).toEqual(['token'])
    expect(session.delete).toMatchObject({ summary: expect.stringContaining('Sign out'), security: [] })
    expect(
      Object.keys(doc.paths).filter((path) => !path.startsWith('/admin') && path !== '/metrics'),
    ).toEqual([])
  })
})

describe.skipIf(postgresSkipReason !== null)(
  `admin sessions on PostgreSQL replicas${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    it('a session signed in on one replica works on the other, and a sign-out on one ends it on both', async () => {
      const schema = await freshSchema('admin_sessions')
      cleanups.push(() => schema.drop())
      const env = { DATABASE_URL: schema.url, FORWARD_SECRET: REPLICA_SIGNING_SECRET }
      const a = await relay({}, env)
      const b = await relay({}, env)
      const { cookie } = await signIn(a.app)
      expect((await b.app.inject({ url: '/admin/status', headers: withCookie(cookie) })).statusCode).toBe(200)
      await a.app.inject({ method: 'DELETE', url: '/admin/session', headers: withCookie(cookie) })
      expect((await b.app.inject({ url: '/admin/status', headers: withCookie(cookie) })).statusCode).toBe(401)
      expect((await a.app.inject({ url: '/admin/status', headers: withCookie(cookie) })).statusCode).toBe(401)
    })
  },
)
