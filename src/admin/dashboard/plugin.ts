// The web dashboard: one page at GET /admin/ and its files under /admin/assets/, served by the relay
// itself (no build step, no CDN). The page is a client of the JSON admin API and adds nothing it
// cannot do; it signs in through POST /admin/session (routes/sessions.ts).
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import helmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

const here = new URL('.', import.meta.url)
const ASSETS_PREFIX = '/admin/assets/'

// Nothing inline, nothing from elsewhere: scripts, styles and API calls come from the relay only.
const CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
}

/** Encapsulated: helmet's headers go on the page and its assets, not on the JSON API. */
export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const [appPage, signInPage] = await Promise.all([
    readFile(new URL('app.html', here)),
    readFile(new URL('sign-in.html', here)),
  ])

  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP },
    xFrameOptions: { action: 'deny' },
    // HSTS belongs to whatever terminates TLS in front of the relay, for the whole host.
    strictTransportSecurity: false,
  })

  // @fastify/static takes no route config: mark its routes public here. They hold code and CSS,
  // never data.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith(ASSETS_PREFIX)) route.config = { ...route.config, adminPublic: true }
  })
  await app.register(fastifyStatic, {
    root: fileURLToPath(new URL('assets/', here)),
    prefix: ASSETS_PREFIX,
    decorateReply: false,
    index: false,
    schemaHide: true,
  })

  const page = { config: { adminPublic: true }, schema: { hide: true } }

  app.get('/admin', page, async (_request, reply) => reply.redirect('/admin/', 308))

  // Signed in: the dashboard. Otherwise 401, as every admin page without a session answers, with
  // the sign-in form as its body for a browser to show.
  app.get('/admin/', page, async (request, reply) => {
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
    if (request.admin === null) return reply.code(401).send(signInPage)
    return reply.send(appPage)
  })
}
