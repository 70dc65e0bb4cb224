// ADMIN_VIEWER_TOKEN: a colleague who only needs to look signs in (or sends it as a bearer token)
// and may read everything the admin API serves, and change nothing: every route but GET is 403,
// except signing in and out.
import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp } from '../support/relay.ts'
import { registeredRoutes } from '../support/routes.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const VIEWER_TOKEN = 'viewer-token-0123456789'
const TARGETS = JSON.stringify([{ name: 'crm', url: 'http://127.0.0.1:9/', events: ['*'] }])
// Routes a viewer may call whatever their method: its own session's.
const OWN_SESSION = new Set(['POST /admin/session', 'DELETE /admin/session'])

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function relay() {
  const built = await buildTestApp({ ADMIN_TOKEN, ADMIN_VIEWER_TOKEN: VIEWER_TOKEN, TARGETS })
  cleanups.push(() => built.close())
  return built
}

describe('viewer', () => {
  it('signs in as a viewer, reads, and is refused every change with 403 while the admin is not', async () => {
    const { app } = await relay()
    const signIn = await app.inject({
      method: 'POST',
      url: '/admin/session',
      payload: { token: VIEWER_TOKEN },
    })
    expect(signIn.json()).toMatchObject({ signedIn: true, role: 'viewer' })
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string
    const viewers = [
      { cookie, 'content-type': 'application/json' },
      { authorization: `Bearer ${VIEWER_TOKEN}`, 'content-type': 'application/json' },
    ]
    expect((await app.inject({ url: '/admin/session', headers: { cookie } })).json()).toMatchObject({
      role: 'viewer',
    })

    await app.ready()
    const changes = registeredRoutes(app).filter(
      (route) =>
        route.url.startsWith('/admin') &&
        route.method !== 'GET' &&
        !OWN_SESSION.has(`${route.method} ${route.url}`),
    )
    expect(changes.map((route) => `${route.method} ${route.url}`)).toEqual(
      expect.arrayContaining([
        'POST /admin/replay',
        'POST /admin/targets/:name/pause',
        'DELETE /admin/sessions/:id',
      ]),
    )
    for (const route of changes) {
      const url = route.url.replace(':name', 'crm').replace(':id', '1')
      for (const headers of viewers) {
        const response = await app.inject({ method: route.method as 'POST', url, headers, payload: '{}' })
        expect(response.statusCode, `${route.method} ${url}`).toBe(403)
        expect(response.json().error).toMatch(/viewer/)
      }
    }
    // Nothing changed; the reads work; the admin's change goes through.
    for (const headers of viewers) {
      const targets = await app.inject({ url: '/admin/targets', headers })
      expect(targets.statusCode).toBe(200)
      expect(targets.json().targets[0].state).toBe('ok')
      expect((await app.inject({ url: '/admin/events', headers })).statusCode).toBe(200)
    }
    const pause = await app.inject({
      method: 'POST',
      url: '/admin/targets/crm/pause',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(pause.statusCode).toBe(200)

    // The viewer signs out like anyone.
    const out = await app.inject({ method: 'DELETE', url: '/admin/session', headers: { cookie } })
    expect(out.json()).toMatchObject({ signedIn: false })
    expect((await app.inject({ url: '/admin/events', headers: { cookie } })).statusCode).toBe(401)
  })

  it('needs the console on and must differ from ADMIN_TOKEN', async () => {
    await expect(buildTestApp({ ADMIN_TOKEN: 'off', ADMIN_VIEWER_TOKEN: VIEWER_TOKEN })).rejects.toThrow(
      /ADMIN_VIEWER_TOKEN: the console is off/,
    )
    await expect(buildTestApp({ ADMIN_TOKEN, ADMIN_VIEWER_TOKEN: ADMIN_TOKEN })).rejects.toThrow(
      /ADMIN_VIEWER_TOKEN: must differ/,
    )
  })
})
