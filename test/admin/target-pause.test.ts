// Pausing a target through the admin API: the pause is kept in the store, so it holds across a
// restart (SQLite) and for a second replica (PostgreSQL); a paused target's events wait, pending
// and unclaimed, and arrive in order once it is resumed.
import { rmSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { wgEvent } from '../support/events.ts'
import { freshSchema, postgresSkipReason } from '../support/postgres.ts'
import { buildTestApp, REPLICA_SIGNING_SECRET, readLeases, readOutbox, tempDir } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

type Relay = Awaited<ReturnType<typeof buildTestApp>>

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function startTarget(): Promise<Sink> {
  const sink = await startSink()
  cleanups.push(() => sink.close())
  return sink
}

/** A relay on `dataDir` whose app.close() leaves the folder, so another can start on it. */
async function relayOn(dataDir: string, env: Record<string, string>): Promise<Relay> {
  const relay = await buildTestApp({ ADMIN_TOKEN, ...env }, dataDir)
  cleanups.push(() => relay.app.close())
  return relay
}

const targetsEnv = (targets: object[]) => ({ TARGETS: JSON.stringify(targets) })

function post(relay: Relay, url: string) {
  return relay.app.inject({ method: 'POST', url, headers: auth })
}

async function targets(relay: Relay) {
  const response = await relay.app.inject({ url: '/admin/targets', headers: auth })
  expect(response.statusCode).toBe(200)
  return response.json().targets as {
    name: string
    state: string
    pending: number
    pausedAt: number | null
  }[]
}

/** The message ids of the events a target received, in arrival order. */
const idsReceived = (sink: Sink) => sink.requests.map((r) => JSON.parse(r.body.toString()).id as number)

describe('target pause and resume', () => {
  it('names a bad target name (400) and an unknown one (404), and needs the token', async () => {
    const dataDir = tempDir()
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const relay = await relayOn(
      dataDir,
      targetsEnv([{ name: 'crm', url: 'http://127.0.0.1:9/', events: ['*'] }]),
    )
    const bad = await post(relay, '/admin/targets/-nope/pause')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().issues).toEqual([expect.objectContaining({ path: 'name' })])
    const unknown = await post(relay, '/admin/targets/other/resume')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().error).toContain('"other"')
    for (const url of ['/admin/targets', '/admin/targets/crm/pause', '/admin/targets/crm/resume']) {
      const method = url.endsWith('targets') ? 'GET' : 'POST'
      expect((await relay.app.inject({ method, url })).statusCode, url).toBe(401)
    }
  })

  it('keeps a pause across a restart (SQLite), and shows it in /admin/targets and /metrics', async () => {
    const dataDir = tempDir()
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const env = targetsEnv([
      { name: 'crm', url: 'http://127.0.0.1:9/', events: ['*'] },
      { name: 'bot', url: 'http://127.0.0.1:9/', events: ['*'] },
    ])
    const first = await relayOn(dataDir, env)
    const paused = await post(first, '/admin/targets/crm/pause')
    expect(paused.statusCode).toBe(200)
    expect(paused.json()).toEqual({ name: 'crm', state: 'paused', pausedAt: expect.any(Number) })
    await first.app.close()

    const second = await relayOn(dataDir, env)
    expect(await targets(second)).toMatchObject([
      { name: 'crm', type: 'http', state: 'paused', pausedAt: paused.json().pausedAt, pending: 0 },
      { name: 'bot', type: 'http', state: 'ok', pausedAt: null, pending: 0 },
    ])
    const metrics = (await second.app.inject({ url: '/metrics', headers: auth })).body
    expect(metrics).toContain('whatsgate_relay_target_paused{target="crm"} 1')

    const resumed = await post(second, '/admin/targets/crm/resume')
    expect(resumed.json()).toEqual({ name: 'crm', state: 'ok', pausedAt: null })
    expect((await targets(second)).map((t) => t.state)).toEqual(['ok', 'ok'])
  })

  it('shows a target failing once its attempts keep failing, and paused above that', async () => {
    const crm = await startSink({ respondWith: () => ({ status: 500 }) })
    cleanups.push(() => crm.close())
    const dataDir = tempDir()
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const retry = { maxAttempts: 100, initialDelayMs: 60_000, maxDelayMs: 60_000 }
    const relay = await relayOn(dataDir, targetsEnv([{ name: 'crm', url: crm.url, events: ['*'], retry }]))
    await relay.app.ready()
    // Five failures in a row (the dispatcher's default) and it sends one request at a time.
    for (let id = 1; id <= 5; id++) await relay.post(wgEvent({ id, chat: `${id}@c.us` }))
    const deadline = Date.now() + 10_000
    while ((await targets(relay))[0]?.state !== 'failing') {
      if (Date.now() > deadline) throw new Error('timed out waiting for crm to be failing')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect((await targets(relay))[0]).toMatchObject({ state: 'failing', pending: 5 })
    await post(relay, '/admin/targets/crm/pause')
    expect((await targets(relay))[0]?.state).toBe('paused')
  })

  it("holds a paused target's events pending and unclaimed, then delivers them in chat order on resume", async () => {
    const crm = await startTarget()
    const witness = await startTarget()
    const dataDir = tempDir()
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const relay = await relayOn(
      dataDir,
      targetsEnv([
        { name: 'crm', url: crm.url, events: ['*'], ordering: 'chat' },
        { name: 'witness', url: witness.url, events: ['*'] },
      ]),
    )
    await relay.app.ready()
    expect((await post(relay, '/admin/targets/crm/pause')).statusCode).toBe(200)

    const chats = ['111@c.us', '222@c.us']
    for (let id = 1; id <= 10; id++) {
      expect((await relay.post(wgEvent({ id, chat: chats[id % 2] }))).statusCode).toBe(200)
    }
    // Each event wakes both targets at once, and SQLite's group commit writes both claims in one
    // transaction: once the witness has received the last event, crm's claim for it has run too.
    await witness.waitFor(10)
    const crmRows = readOutbox(relay.dataDir).deliveries.filter((d) => d.target === 'crm')
    expect(crmRows.map((d) => [d.status, d.attempts])).toEqual(Array(10).fill(['pending', 0]))
    const leases = readLeases(relay.dataDir)
    const deliveries = readOutbox(relay.dataDir).deliveries
    expect(leases.filter((_owner, i) => deliveries[i]?.target === 'crm')).toEqual(Array(10).fill(null))
    expect(crm.requests).toHaveLength(0)
    expect((await targets(relay)).find((t) => t.name === 'crm')).toMatchObject({
      state: 'paused',
      pending: 10,
    })

    expect((await post(relay, '/admin/targets/crm/resume')).json().state).toBe('ok')
    await crm.waitFor(10)
    const received = idsReceived(crm)
    for (const chat of chats) {
      const ofChat = received.filter((id) => chats[id % 2] === chat)
      expect(ofChat).toEqual([...ofChat].sort((x, y) => x - y))
      expect(ofChat).toHaveLength(5)
    }
  })
})

describe.skipIf(postgresSkipReason !== null)(
  `target pause on PostgreSQL${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    it('a pause taken through one replica holds on a second, and a resume on it delivers in order', async () => {
      const schema = await freshSchema('target_pause')
      cleanups.push(() => schema.drop())
      const crm = await startTarget()
      const env = {
        DATABASE_URL: schema.url,
        FORWARD_SECRET: REPLICA_SIGNING_SECRET,
        ...targetsEnv([{ name: 'crm', url: crm.url, events: ['*'], ordering: 'chat' }]),
      }
      const dirA = tempDir()
      const dirB = tempDir()
      cleanups.push(() => {
        rmSync(dirA, { recursive: true, force: true })
        rmSync(dirB, { recursive: true, force: true })
      })
      const a = await relayOn(dirA, env)
      const b = await relayOn(dirB, env)
      await Promise.all([a.app.ready(), b.app.ready()])

      expect((await post(a, '/admin/targets/crm/pause')).statusCode).toBe(200)
      expect((await targets(b)).map((t) => t.state)).toEqual(['paused'])
      const metrics = (await b.app.inject({ url: '/metrics', headers: auth })).body
      expect(metrics).toContain('whatsgate_relay_target_paused{target="crm"} 1')
      for (let id = 1; id <= 6; id++) expect((await b.post(wgEvent({ id }))).statusCode).toBe(200)
      expect((await targets(a))[0]).toMatchObject({ state: 'paused', pending: 6 })

      // Resumed through b: b is woken at once, a finds the rest at its next poll; one chat, in order.
      expect((await post(b, '/admin/targets/crm/resume')).json().state).toBe('ok')
      await crm.waitFor(6)
      expect(idsReceived(crm)).toEqual([1, 2, 3, 4, 5, 6])
      expect((await targets(a))[0]).toMatchObject({ state: 'ok', pending: expect.any(Number) })
    })
  },
)
