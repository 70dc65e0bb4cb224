// Failed admin authentications are limited: a burst of wrong tokens from one address gets 429 with
// Retry-After after the tenth, whatever it presents (sign-in form, bearer, cookie), is logged as
// one line per address and minute, and counted; lockouts back off on repeats; a guesser spread
// over many addresses meets the overall limit; the right token still works at once for others.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { clientKey, createAuthLimits } from '../../src/admin/auth-limits.ts'
import { buildApp } from '../../src/app.ts'
import { captureLogger } from '../support/fake-whatsgate.ts'
import { TEST_TOKEN, tempDirsOfFile } from '../support/relay.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const WRONG = 'wrong-token-0123456789'
const dataDir = tempDirsOfFile('relay-auth-limits-')

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  vi.useRealTimers()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function relay(env: Record<string, string> = {}) {
  const { log, entries } = captureLogger('info')
  const app = await buildApp({
    env: { DATA_DIR: dataDir(), INGEST_TOKEN: TEST_TOKEN, ADMIN_TOKEN, ...env },
    logger: log,
  })
  cleanups.push(() => app.close())
  return { app, entries }
}

const signIn = (app: Awaited<ReturnType<typeof relay>>['app'], token: string, remoteAddress = '192.0.2.10') =>
  app.inject({ method: 'POST', url: '/admin/session', payload: { token }, remoteAddress })

describe('sign-in limits', () => {
  it('answers 429 with Retry-After from the eleventh wrong token of an address, logs one line, counts each', async () => {
    const { app, entries } = await relay()
    const statuses: number[] = []
    for (let i = 0; i < 30; i++) statuses.push((await signIn(app, WRONG)).statusCode)
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(20).fill(429)])

    const locked = await signIn(app, WRONG)
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(50)
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(60)
    expect(locked.json().error).toMatch(/too many failed sign-ins/)
    // The right token from the locked address waits too; from anyone else it works at once.
    expect((await signIn(app, ADMIN_TOKEN)).statusCode).toBe(429)
    expect((await signIn(app, ADMIN_TOKEN, '192.0.2.11')).statusCode).toBe(200)

    // Locked out, a bearer or a cookie is not even looked at either.
    const bearer = await app.inject({
      url: '/admin/status',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      remoteAddress: '192.0.2.10',
    })
    expect(bearer.statusCode).toBe(429)

    // One line for the failures and one for the lockouts so far, each the first of its minute.
    const lines = entries().filter((entry) => entry.level === 40 && entry.msg.includes('authentication'))
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'admin authentication failed', ip: '192.0.2.10', count: 1 }),
      expect.objectContaining({
        msg: expect.stringContaining('too many failures'),
        ip: '192.0.2.10',
        count: 1,
      }),
    ])
    expect(JSON.stringify(entries())).not.toContain(WRONG)

    const metrics = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(metrics.body).toContain('whatsgate_relay_admin_auth_failures_total{credential="sign-in"} 10')
    expect(metrics.body).toContain('whatsgate_relay_admin_auth_locked_total 23')
  })

  it('counts wrong bearer tokens and unknown cookies against the address alike', async () => {
    const { app } = await relay()
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) {
      const bearer = await app.inject({
        url: '/admin/events',
        headers: { authorization: `Bearer ${WRONG}` },
        remoteAddress: '2001:db8:1:2::1',
      })
      statuses.push(bearer.statusCode)
      // Another address of the same /64: the same client.
      const cookie = await app.inject({
        url: '/admin/events',
        headers: { cookie: `relay_session=${'A'.repeat(16)}.${'B'.repeat(43)}` },
        remoteAddress: `2001:db8:1:2:ffff::${i + 2}`,
      })
      statuses.push(cookie.statusCode)
    }
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429])
    const metrics = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(metrics.body).toContain('whatsgate_relay_admin_auth_failures_total{credential="bearer"} 5')
    expect(metrics.body).toContain('whatsgate_relay_admin_auth_failures_total{credential="cookie"} 5')
  })

  it('locks every token check out once the failures of all addresses pass the overall limit; sessions go on', async () => {
    const { app } = await relay({ ADMIN_AUTH_FAILURES_OVERALL: '20' })
    const session = await signIn(app, ADMIN_TOKEN, '198.51.100.1')
    const cookie = String(session.headers['set-cookie']).split(';')[0] as string
    // Twenty guessers, one wrong token each: all checked. The next address is locked out at once.
    for (let i = 0; i < 20; i++) expect((await signIn(app, WRONG, `203.0.113.${i}`)).statusCode).toBe(401)
    expect((await signIn(app, WRONG, '203.0.113.200')).statusCode).toBe(429)
    expect((await signIn(app, ADMIN_TOKEN, '203.0.113.201')).statusCode).toBe(429)
    const signedIn = await app.inject({
      url: '/admin/status',
      headers: { cookie },
      remoteAddress: '198.51.100.1',
    })
    expect(signedIn.statusCode).toBe(200)
  })

  it('has no limit when set to 0', async () => {
    const { app } = await relay({ ADMIN_AUTH_FAILURES_PER_MINUTE: '0', ADMIN_AUTH_FAILURES_OVERALL: '0' })
    for (let i = 0; i < 50; i++) expect((await signIn(app, WRONG)).statusCode).toBe(401)
    expect((await signIn(app, ADMIN_TOKEN)).statusCode).toBe(200)
  })
})

describe('lockouts', () => {
  it('last a minute, then double on each repeat within a day, up to an hour', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 11, 7) })
    const limits = createAuthLimits({ perAddress: 10, overall: 0 })
    const lockouts: (number | null)[] = []
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 9; i++) expect(await limits.failed('192.0.2.1')).toBeNull()
      lockouts.push(await limits.failed('192.0.2.1'))
      const lockedFor = (await limits.lockedFor('192.0.2.1')) as number
      expect(lockedFor).toBe(lockouts.at(-1))
      vi.advanceTimersByTime(lockedFor * 1000 - 1)
      expect(await limits.lockedFor('192.0.2.1')).toBe(1)
      vi.advanceTimersByTime(1)
      expect(await limits.lockedFor('192.0.2.1')).toBeNull()
    }
    expect(lockouts).toEqual([60, 120, 240, 480, 960, 1920, 3600, 3600])
    // Another address is not touched by any of it.
    expect(await limits.lockedFor('192.0.2.2')).toBeNull()
  })

  it('count an IPv6 client by its /64, an IPv4 one by its address', () => {
    expect(clientKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64')
    expect(clientKey('2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64')
    expect(clientKey('::1')).toBe('0:0:0:0::/64')
    expect(clientKey('::ffff:192.0.2.1')).toBe('::ffff:192.0.2.1')
    expect(clientKey('192.0.2.1')).toBe('192.0.2.1')
  })
})
