import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Clock } from '../../src/shared/clock.ts'
import { createWhatsGateClient } from '../../src/whatsgate/api-client.ts'
import { createRegistrar, type Registrar } from '../../src/whatsgate/registrar.ts'
import { waitUntil } from '../support/events.ts'
import { captureLogger, type FakeWhatsGate, startFakeWhatsGate } from '../support/fake-whatsgate.ts'
import { createManualClock } from '../support/manual-clock.ts'

const API_KEY = 'registrar-key-7d1e44c0a9'
const CALLBACK = 'https://relay.example.com/webhook/ingest-token-123'
const silent = pino({ level: 'silent' })

let fake: FakeWhatsGate
let registrar: Registrar | undefined
afterEach(async () => {
  await registrar?.stop()
  registrar = undefined
  await fake?.close()
})

function setup(options: {
  whatsappIds?: string[]
  apiKey?: string
  log?: typeof silent
  unauthorizedDelayMs?: number
  clock?: Clock
}) {
  const log = options.log ?? silent
  const client = createWhatsGateClient({
    baseUrl: fake.url,
    apiKey: options.apiKey ?? API_KEY,
    log,
    retries: 0,
    backoff: () => 1,
  })
  registrar = createRegistrar({
    client,
    callbackUrl: CALLBACK,
    whatsappIds: options.whatsappIds ?? [],
    log,
    retryDelay: () => 5,
    ...(options.unauthorizedDelayMs ? { unauthorizedDelayMs: options.unauthorizedDelayMs } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  })
  registrar.start()
  return registrar
}

const done = (r: Registrar) => vi.waitFor(() => expect(r.status().state).toBe('done'), { timeout: 3000 })

describe('registrar', () => {
  it('registers the configured sessions, skipping one whose callback is already ours', async () => {
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      sessions: [
        { unique_id: 'wa-new', callback: 'https://old.example/hook' },
        { unique_id: 'wa-ours', callback: CALLBACK },
        { unique_id: 'wa-other' },
      ],
    })
    const r = setup({ whatsappIds: ['wa-new', 'wa-ours'] })
    await done(r)

    const setHooks = fake.callsOf('set-hook')
    expect(setHooks.map((c) => c.body)).toEqual([{ WhatsappID: 'wa-new', callback: CALLBACK }])
    for (const call of fake.calls) {
      expect(call.headers['x-api-key']).toBe(API_KEY)
      expect(call.headers['content-type']).toBe('application/json')
      expect(call.outcome).toBe('ok')
    }
    expect(fake.hooks.get('wa-new')).toBe(CALLBACK)
    expect(fake.hooks.has('wa-other')).toBe(false)
    expect(r.status()).toEqual({
      state: 'done',
      discovery: 'explicit',
      unauthorized: false,
      sessions: [
        { whatsappId: 'wa-new', outcome: 'registered', attempts: 1 },
        { whatsappId: 'wa-ours', outcome: 'already', attempts: 1 },
      ],
    })
  })

  it('discovers every session across several sessions-get pages', async () => {
    const sessions = Array.from({ length: 24 }, (_, i) => ({
      unique_id: `wa${String(i).padStart(2, '0')}`,
      callback: i % 6 === 0 ? CALLBACK : '',
    }))
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions })
    const r = setup({})
    await done(r)

    expect(fake.callsOf('sessions-get').map((c) => c.body)).toEqual([{ page: 1 }, { page: 2 }, { page: 3 }])
    const expected = sessions.filter((s) => s.callback !== CALLBACK).map((s) => s.unique_id)
    expect(fake.callsOf('set-hook').map((c) => (c.body as { WhatsappID: string }).WhatsappID)).toEqual(
      expected,
    )
    expect(fake.sessions.every((s) => s.callback === CALLBACK)).toBe(true)
    const status = r.status()
    expect(status.discovery).toBe('done')
    expect(status.sessions).toHaveLength(24)
    expect(status.sessions.filter((s) => s.outcome === 'already')).toHaveLength(4)
    expect(status.sessions.filter((s) => s.outcome === 'registered')).toHaveLength(20)
  })

  it('reports a rejected API key clearly and does not hammer WhatsGate', async () => {
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      sessions: [{ unique_id: 'wa1' }, { unique_id: 'wa2' }],
    })
    const capture = captureLogger()
    const clock = createManualClock()
    const r = setup({ whatsappIds: ['wa1', 'wa2'], apiKey: 'wrong-key-5511', log: capture.log, clock })

    await vi.waitFor(() => expect(r.status().unauthorized).toBe(true))
    // Time stands still: the registrar's one wait is all it will do until the clock moves. A loop
    // that ignored the Unauthorized class would wait retryDelay's 5 ms, or go on calling.
    await waitUntil(() => clock.pending().length > 0, 'the registrar waiting to retry')
    expect(clock.pending()).toEqual([15 * 60_000])
    expect(fake.calls).toHaveLength(1)

    const status = r.status()
    expect(status.state).toBe('running')
    expect(status.sessions[0]).toMatchObject({ whatsappId: 'wa1', outcome: 'failed' })
    expect(status.sessions[0]?.error).toContain('Unauthorized')
    const errors = capture.entries().filter((e) => e.level >= 50)
    expect(errors).toHaveLength(1)
    expect(errors[0]?.msg).toContain('WHATSGATE_API_KEY')
    for (const line of capture.lines) expect(line).not.toContain('wrong-key-5511')

    const stopping = Date.now()
    await r.stop()
    expect(Date.now() - stopping).toBeLessThan(500)
    expect(r.status().state).toBe('stopped')
  })

  it('retries a rejected key slowly and recovers once WhatsGate accepts it', async () => {
    fake = await startFakeWhatsGate({ apiKey: 'other', sessions: [{ unique_id: 'wa1' }] })
    const r = setup({ whatsappIds: ['wa1'], unauthorizedDelayMs: 150 })
    await vi.waitFor(() => expect(r.status().unauthorized).toBe(true))
    fake.setApiKey(API_KEY)
    await done(r)
    expect(r.status().unauthorized).toBe(false)
    expect(fake.hooks.get('wa1')).toBe(CALLBACK)
    expect(fake.calls.length).toBeLessThanOrEqual(4)
  })

  it('keeps trying while WhatsGate is down and completes when it is back, logging once', async () => {
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      sessions: [{ unique_id: 'wa1' }, { unique_id: 'wa2' }],
    })
    fake.setDown(true)
    const capture = captureLogger('info')
    const r = setup({ log: capture.log })

    await vi.waitFor(() => expect(fake.calls.length).toBeGreaterThanOrEqual(5))
    expect(r.status()).toMatchObject({ state: 'running', discovery: 'failed' })
    expect(r.status().error).toContain('WhatsGate unavailable')
    expect(capture.entries().filter((e) => e.level === 40)).toHaveLength(1)

    fake.setDown(false)
    await done(r)
    expect(fake.hooks.get('wa1')).toBe(CALLBACK)
    expect(fake.hooks.get('wa2')).toBe(CALLBACK)
    expect(r.status().sessions.map((s) => s.outcome)).toEqual(['registered', 'registered'])
    for (const line of capture.lines) expect(line).not.toContain('ingest-token-123')
  })

  it('ends a round at the first session WhatsGate is down for, instead of trying every session', async () => {
    const ids = ['wa1', 'wa2', 'wa3', 'wa4']
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions: ids.map((unique_id) => ({ unique_id })) })
    fake.setDown(true)
    const r = setup({ whatsappIds: ids })
    await vi.waitFor(() => expect(fake.calls.length).toBeGreaterThanOrEqual(4))
    expect(new Set(fake.calls.map((c) => (c.body as { WhatsappID?: string }).WhatsappID))).toEqual(
      new Set(['wa1']),
    )
    fake.setDown(false)
    await done(r)
    expect([...fake.hooks.keys()].sort()).toEqual(ids)
  })

  it('retries one failing session without re-registering the others', async () => {
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      sessions: [{ unique_id: 'wa1' }, { unique_id: 'wa2' }],
    })
    // The first set-hook call (wa1) hits an outage, which ends the round; the next one finishes
    // wa1 and then registers wa2.
    fake.failNext('set-hook', 1, '503')
    const capture = captureLogger('info')
    const r = setup({ log: capture.log })
    await done(r)

    const order = fake
      .callsOf('set-hook')
      .map((c) => `${(c.body as { WhatsappID: string }).WhatsappID}:${c.outcome}`)
    expect(order).toEqual(['wa1:503', 'wa1:ok', 'wa2:ok'])
    expect(fake.callsOf('sessions-get')).toHaveLength(1)
    expect(r.status().sessions).toEqual([
      { whatsappId: 'wa1', outcome: 'registered', attempts: 2 },
      { whatsappId: 'wa2', outcome: 'registered', attempts: 1 },
    ])
    const warnings = capture.entries().filter((e) => e.level === 40)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ whatsappId: 'wa1' })
  })

  it('stops promptly while waiting to retry', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions: [{ unique_id: 'wa1' }] })
    fake.setDown(true)
    const client = createWhatsGateClient({ baseUrl: fake.url, apiKey: API_KEY, log: silent, retries: 0 })
    registrar = createRegistrar({
      client,
      callbackUrl: CALLBACK,
      whatsappIds: ['wa1'],
      log: silent,
      retryDelay: () => 60_000,
    })
    registrar.start()
    await vi.waitFor(() => expect(registrar?.status().sessions[0]?.outcome).toBe('failed'))
    const stopping = Date.now()
    await registrar.stop()
    expect(Date.now() - stopping).toBeLessThan(500)
    expect(registrar.status().state).toBe('stopped')
  })
})
