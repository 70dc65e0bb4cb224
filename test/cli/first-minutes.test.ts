// What the operator needs in the first minutes, from the command line: the callback URL whole, the
// signing secret a receiver verifies with, and a one-time link into the dashboard, all read from
// what the relay keeps in DATA_DIR when no variable sets them.
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp, tempDirsOfFile } from '../support/relay.ts'
import { cli } from './admin-relay.ts'

const freshDir = tempDirsOfFile('relay-first-minutes-')
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A relay with nothing set but its DATA_DIR: every secret made by the relay. */
async function relayOnItsOwn() {
  const dataDir = freshDir()
  const relay = await buildTestApp({ INGEST_TOKEN: '' }, dataDir)
  cleanups.push(() => relay.app.close())
  await relay.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = relay.app.server.address() as AddressInfo
  return { dataDir, url: `http://127.0.0.1:${port}` }
}

describe('admin-url', () => {
  it('prints a link that signs a browser in once, with the admin token the relay keeps in DATA_DIR', async () => {
    const relay = await relayOnItsOwn()
    const run = await cli(['admin-url'], { env: { RELAY_URL: relay.url, DATA_DIR: relay.dataDir } })
    expect(run.err).toEqual([])
    expect(run.code).toBe(0)
    const [link = '', note] = run.out
    expect(link).toMatch(new RegExp(`^${relay.url}/admin/sign-in/[\\w-]+\\.[\\w-]+$`))
    expect(note).toMatch(/^\(one use, until \d{4}-\d\d-\d\dT/)

    const opened = await fetch(link, { redirect: 'manual' })
    expect(opened.status).toBe(303)
    expect(opened.headers.get('location')).toBe('/admin/')
    const cookie = String(opened.headers.get('set-cookie')).split(';')[0] as string
    expect((await fetch(`${relay.url}/admin/status`, { headers: { cookie } })).status).toBe(200)
    // The link's own value is not the session: it signs no one in a second time.
    expect(cookie).not.toContain(link.split('/').pop())
    const again = await fetch(link, { redirect: 'manual' })
    expect(again.status).toBe(303)
    expect(again.headers.get('location')).toBe('/admin/?link=expired')
    expect(again.headers.get('set-cookie')).toBeNull()
  })

  it('opens on PUBLIC_URL when it is set', async () => {
    const relay = await relayOnItsOwn()
    const run = await cli(['admin-url'], {
      env: { RELAY_URL: relay.url, DATA_DIR: relay.dataDir, PUBLIC_URL: 'https://relay.example.com/' },
    })
    expect(run.out[0]).toMatch(/^https:\/\/relay\.example\.com\/admin\/sign-in\//)
  })

  it('says what to do when there is no admin token to send', async () => {
    const run = await cli(['admin-url'], { env: { RELAY_URL: 'http://127.0.0.1:9', DATA_DIR: freshDir() } })
    expect(run.code).toBe(1)
    expect(run.err).toEqual([expect.stringMatching(/ADMIN_TOKEN is not set, nor kept in DATA_DIR/)])
  })
})

describe('callback-url and secret', () => {
  it('print the callback URL whole and the signing secret, as the relay keeps them', async () => {
    const relay = await relayOnItsOwn()
    const token = readFileSync(join(relay.dataDir, 'ingest-token'), 'utf8').trim()
    const env = { DATA_DIR: relay.dataDir, PUBLIC_URL: 'https://relay.example.com' }
    const url = await cli(['callback-url'], { env })
    expect(url.out).toEqual([`https://relay.example.com/webhook/${token}`])

    const secret = await cli(['secret'], { env })
    expect(secret.code).toBe(0)
    expect(secret.out).toEqual([readFileSync(join(relay.dataDir, 'signing-secret'), 'utf8').trim()])
  })

  it('secret: makes the secret before the first start, keeps it, and prints FORWARD_SECRET instead when set', async () => {
    const dataDir = freshDir()
    const first = await cli(['secret'], { env: { DATA_DIR: dataDir } })
    expect(first.out[0]).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect((await cli(['secret'], { env: { DATA_DIR: dataDir } })).out).toEqual(first.out)
    const set = `whsec_${Buffer.alloc(32, 1).toString('base64')}`
    expect((await cli(['secret'], { env: { DATA_DIR: dataDir, FORWARD_SECRET: set } })).out).toEqual([set])
    const bad = await cli(['secret'], { env: { DATA_DIR: dataDir, FORWARD_SECRET: 'not-a-secret' } })
    expect(bad.code).toBe(1)
    expect(bad.err).toEqual(['whatsgate-relay secret: FORWARD_SECRET: must start with "whsec_"'])
  })
})
