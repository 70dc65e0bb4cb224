// Behind a TLS proxy (TRUST_PROXY): the session cookie is Secure when the proxy says the request
// was HTTPS, and the client's address is the one the proxy forwarded, for the sign-in limits, the
// session list and the logs. Without the setting, forwarded headers are not believed.
import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp } from '../support/relay.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const PROXY = '127.0.0.1'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function relay(env: Record<string, string>) {
  const built = await buildTestApp({ ADMIN_TOKEN, ...env })
  cleanups.push(() => built.close())
  return built.app
}

const forwarded = (client: string) => ({ 'x-forwarded-for': client, 'x-forwarded-proto': 'https' })

async function signIn(app: Awaited<ReturnType<typeof relay>>, token: string, client: string) {
  return app.inject({
    method: 'POST',
    url: '/admin/session',
    payload: { token },
    headers: forwarded(client),
    remoteAddress: PROXY,
  })
}

describe('TRUST_PROXY', () => {
  for (const setting of ['1', 'true', '127.0.0.1/8,::1']) {
    it(`TRUST_PROXY=${setting}: Secure cookie over the proxy's HTTPS, limits and sessions by the forwarded address`, async () => {
      const app = await relay({ TRUST_PROXY: setting })
      const ok = await signIn(app, ADMIN_TOKEN, '203.0.113.5')
      expect(String(ok.headers['set-cookie']).split('; ')).toContain('Secure')
      const sessions = await app.inject({
        url: '/admin/sessions',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      })
      expect(sessions.json().sessions[0].address).toBe('203.0.113.5')

      // Ten failures lock out the forwarded client, not the proxy every client comes through.
      for (let i = 0; i < 10; i++)
        expect((await signIn(app, 'wrong-token-0123456789', '198.51.100.9')).statusCode).toBe(401)
      expect((await signIn(app, ADMIN_TOKEN, '198.51.100.9')).statusCode).toBe(429)
      expect((await signIn(app, ADMIN_TOKEN, '203.0.113.6')).statusCode).toBe(200)
    })
  }

  it('unset: forwarded headers are not believed (no Secure over plain HTTP, the proxy is the client)', async () => {
    const app = await relay({})
    const ok = await signIn(app, ADMIN_TOKEN, '203.0.113.5')
    expect(String(ok.headers['set-cookie'])).not.toContain('Secure')
    const sessions = await app.inject({
      url: '/admin/sessions',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(sessions.json().sessions[0].address).toBe(PROXY)
  })

  it('refuses a setting that is not a count, a boolean or addresses', async () => {
    await expect(relay({ TRUST_PROXY: 'nginx' })).rejects.toThrow(/TRUST_PROXY: "nginx" is not an address/)
    await expect(relay({ TRUST_PROXY: '10.0.0.0/33' })).rejects.toThrow(/TRUST_PROXY/)
  })
})
