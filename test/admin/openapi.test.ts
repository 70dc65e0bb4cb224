// The admin API's OpenAPI document: valid OpenAPI 3.1, and it lists exactly the routes the app has.
import { Validator } from '@seriousme/openapi-schema-validator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp } from '../support/relay.ts'
import { registeredRoutes } from '../support/routes.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

// Opened by a browser, not called: the dashboard's page and assets (HTML and files), and a sign-in
// link (POST /admin/sign-in-links makes it). The document leaves them out.
const PAGES = new Set(['GET /admin', 'GET /admin/', 'GET /admin/assets/*', 'GET /admin/sign-in/:link'])

describe('GET /admin/openapi.json', () => {
  let relay: Awaited<ReturnType<typeof buildTestApp>>
  let doc: { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string }[] }>> }

  beforeAll(async () => {
    relay = await buildTestApp({ ADMIN_TOKEN, FORWARD_URL: 'http://127.0.0.1:9/hook' })
    const res = await relay.app.inject({ url: '/admin/openapi.json', headers: auth })
    expect(res.statusCode).toBe(200)
    doc = res.json()
  })
  afterAll(() => relay.close())

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0')
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>)
    expect(result).toEqual({ valid: true })
  })

  it('lists exactly the admin routes the app registers', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map(
        (method) =>
          // {id} back to Fastify's :id; the event route's {key} is its wildcard.
          `${method.toUpperCase()} ${path.replace('{key}', '*').replace(/\{(\w+)\}/g, ':$1')}`,
      ),
    )
    const registered = registeredRoutes(relay.app)
      .filter((r) => r.url.startsWith('/admin') || r.url === '/metrics')
      .map((r) => `${r.method} ${r.url}`)
      .filter((route) => !PAGES.has(route))
    expect(documented.toSorted()).toEqual(registered.toSorted())
    for (const route of documented) {
      const [method = '', url = ''] = route.split(' ')
      expect(relay.app.hasRoute({ method: method as 'GET', url }), route).toBe(true)
    }
  })

  it('names the event route’s parameter key, as the key it is', () => {
    const get = doc.paths['/admin/events/{key}']?.get
    expect(get?.parameters?.map((p) => p.name)).toEqual(['key'])
  })

  it('is refused without the admin token', async () => {
    expect((await relay.app.inject({ url: '/admin/openapi.json' })).statusCode).toBe(401)
  })
})
