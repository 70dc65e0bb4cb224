import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { createManualClock } from '../support/manual-clock.ts'
import { buildTestApp, readOutbox } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

let sink: Sink
let relay: Awaited<ReturnType<typeof buildTestApp>>
afterEach(async () => {
  await relay?.close()
  await sink?.close()
})

async function relayWithDeadLetters(count: number) {
  sink = await startSink({ respondWith: () => ({ status: 410 }) })
  relay = await buildTestApp({
    ADMIN_TOKEN,
    TARGETS: JSON.stringify([{ name: 'crm', url: sink.url, events: ['*'] }]),
  })
  for (let id = 1; id <= count; id++) await relay.post(wgEvent({ id }))
  await waitUntil(
    () => readOutbox(relay.dataDir).deliveries.filter((d) => d.status === 'dead').length === count,
    'dead letters',
  )
}

describe('admin API', () => {
  it('is on by default with a token made in DATA_DIR, and off with ADMIN_TOKEN=off', async () => {
    relay = await buildTestApp()
    const made = readFileSync(join(relay.dataDir, 'admin-token'), 'utf8').trim()
    const headers = { authorization: `Bearer ${made}` }
    expect((await relay.app.inject({ url: '/admin/deliveries', headers })).statusCode).toBe(200)
    await relay.close()
    relay = await buildTestApp({ ADMIN_TOKEN: 'off' })
    expect((await relay.app.inject({ url: '/admin/deliveries', headers: auth })).statusCode).toBe(404)
    expect(existsSync(join(relay.dataDir, 'admin-token'))).toBe(false)
  })

  it('refuses a missing or wrong token', async () => {
    relay = await buildTestApp({ ADMIN_TOKEN })
    for (const url of ['/admin/deliveries', '/admin/events', '/admin/refused']) {
      expect((await relay.app.inject({ url })).statusCode, url).toBe(401)
    }
    const wrong = await relay.app.inject({
      url: '/admin/deliveries',
      headers: { authorization: 'Bearer nope' },
    })
    expect(wrong.statusCode).toBe(401)
  })

  it('shows the headers an event came with, credentials redacted', async () => {
    relay = await buildTestApp({ ADMIN_TOKEN })
    const sent = await relay.app.inject({
      method: 'POST',
      url: relay.webhookPath,
      payload: wgEvent({ id: 1 }),
      headers: {
        'content-type': 'text/plain',
        'user-agent': 'WhatsGate/1.0',
        authorization: 'Basic c2VjcmV0',
      },
    })
    expect(sent.statusCode).toBe(200)
    const detail = await relay.app.inject({
      url: `/admin/events/${encodeURIComponent('191b80a9238:message:1')}`,
      headers: auth,
    })
    expect(detail.json().headers).toMatchObject({
      'content-type': 'text/plain',
      'user-agent': 'WhatsGate/1.0',
      authorization: '[redacted]',
    })
    expect(detail.body).not.toContain('c2VjcmV0')
  })

  it('lists events newest first, conforming or not, page by page both ways, and names a bad filter', async () => {
    sink = await startSink()
    relay = await buildTestApp({ ADMIN_TOKEN })
    for (let id = 1; id <= 3; id++) await relay.post(wgEvent({ id }))
    const drifted = JSON.parse(wgEvent({ id: 4 }))
    await relay.post(JSON.stringify({ ...drifted, event_date: '2022-09-07T18:29:37Z' }))

    const ids = (events: { eventId: string }[]) => events.map((e) => e.eventId)
    const get = async (query: string) =>
      (await relay.app.inject({ url: `/admin/events${query}`, headers: auth })).json()
    const latest = await get('?limit=2')
    expect(ids(latest.events)).toEqual(['4', '3'])
    expect(latest.newer).toBeNull()
    expect(latest.events[1]).toMatchObject({
      action: 'message',
      eventDate: '2022-09-07 18:29:37',
      issues: null,
    })
    const older = await get(`?limit=2&before=${latest.older}`)
    expect(ids(older.events)).toEqual(['2', '1'])
    expect(older.older).toBeNull()
    // And back: the page newer than the oldest one, newest first still, then nothing newer.
    const newer = await get(`?limit=2&after=${older.newer}`)
    expect(ids(newer.events)).toEqual(['4', '3'])
    expect(newer.older).toBe(latest.older)
    expect(ids((await get(`?limit=2&before=${newer.older}`)).events)).toEqual(['2', '1'])
    expect(newer.newer).toBeNull()
    expect((await get(`?limit=2&after=${latest.events[0].seq}`)).events).toEqual([])
    const both = await relay.app.inject({ url: '/admin/events?before=3&after=1', headers: auth })
    expect(both.statusCode).toBe(400)

    const flagged = (await relay.app.inject({ url: '/admin/events?conforming=false', headers: auth })).json()
    expect(flagged.events).toEqual([
      expect.objectContaining({
        key: '191b80a9238:message:4',
        eventDate: '2022-09-07 18:29:37',
        issues: [{ path: 'event_date', message: expect.stringContaining('YYYY-MM-DD') }],
      }),
    ])
    const bad = await relay.app.inject({ url: '/admin/events?conforming=maybe', headers: auth })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().issues).toEqual([expect.objectContaining({ path: 'conforming' })])
  })

  it("stamps events with the relay's clock: the received time, and the date of one that has none", async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 2, 3, 4, 5))
    relay = await buildTestApp({ ADMIN_TOKEN }, undefined, { clock })
    await relay.post(wgEvent({ id: 1 }))
    clock.advance(5000)
    const { event_date: _date, ...undated } = JSON.parse(wgEvent({ id: 2 }))
    await relay.post(JSON.stringify(undated))
    const { events } = (await relay.app.inject({ url: '/admin/events', headers: auth })).json()
    expect(events).toEqual([
      expect.objectContaining({ eventId: '2', receivedAt: clock.now(), eventDate: '2026-01-02 03:04:10' }),
      expect.objectContaining({
        eventId: '1',
        receivedAt: clock.now() - 5000,
        eventDate: '2022-09-07 18:29:37',
      }),
    ])
  })

  it('lists dead letters with their last error, page by page', async () => {
    await relayWithDeadLetters(3)
    const page = await relay.app.inject({ url: '/admin/deliveries?status=dead&limit=2', headers: auth })
    expect(page.statusCode).toBe(200)
    const { deliveries, older } = page.json()
    expect(deliveries).toHaveLength(2)
    expect(deliveries[0]).toMatchObject({
      target: 'crm',
      status: 'dead',
      eventKey: '191b80a9238:message:3',
      attempts: 1,
      lastStatus: 410,
      lastError: expect.stringContaining('gone'),
    })
    const rest = await relay.app.inject({
      url: `/admin/deliveries?status=dead&before=${older}`,
      headers: auth,
    })
    expect(rest.json().deliveries.map((d: { eventKey: string }) => d.eventKey)).toEqual([
      '191b80a9238:message:1',
    ])
    expect(rest.json().older).toBeNull()
    const back = await relay.app.inject({
      url: `/admin/deliveries?status=dead&after=${rest.json().newer}`,
      headers: auth,
    })
    expect(back.json().deliveries.map((d: { eventKey: string }) => d.eventKey)).toEqual([
      '191b80a9238:message:3',
      '191b80a9238:message:2',
    ])
    const bad = await relay.app.inject({ url: '/admin/deliveries?status=lost', headers: auth })
    expect(bad.statusCode).toBe(400)
  })

  it('replays every delivery of one event, and says so of an event it does not know', async () => {
    await relayWithDeadLetters(2)
    sink.respondWith(() => ({ status: 200 }))
    const replay = (payload: object) =>
      relay.app.inject({ method: 'POST', url: '/admin/replay', headers: auth, payload })
    expect((await replay({ event: '191b80a9238:message:2' })).json()).toEqual({ replayed: 1 })
    await waitUntil(
      () => readOutbox(relay.dataDir).deliveries[1]?.status === 'delivered',
      'the event delivered again',
    )
    expect(readOutbox(relay.dataDir).deliveries.map((d) => d.status)).toEqual(['dead', 'delivered'])
    expect((await replay({ event: '191b80a9238:message:9' })).statusCode).toBe(404)
    const bad = await replay({ event: 'no-colons' })
    expect(bad.statusCode).toBe(400)
  })

  it('filters events by session, action and time, and names a bad time', async () => {
    relay = await buildTestApp({ ADMIN_TOKEN })
    await relay.post(wgEvent({ id: 1 }))
    await relay.post(wgEvent({ id: 2, whatsappId: 'other' }))
    await relay.post(wgEvent({ id: 3, action: 'ack' }))
    const list = async (query: string) =>
      (await relay.app.inject({ url: `/admin/events?${query}`, headers: auth }))
        .json()
        .events.map((e: { key: string }) => e.key)
    expect(await list('session=other')).toEqual(['other:message:2'])
    expect(await list('session=191b80a9238&action=ack')).toEqual(['191b80a9238:ack:3'])
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString()
    expect(await list(`from=${hourAgo}`)).toHaveLength(3)
    expect(await list(`to=${hourAgo}`)).toEqual([])
    const bad = await relay.app.inject({ url: '/admin/events?from=yesterday', headers: auth })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().issues).toEqual([expect.objectContaining({ path: 'from' })])
  })

  it('replays one dead delivery, then every dead one of a target, once the target is back', async () => {
    await relayWithDeadLetters(3)
    sink.respondWith(() => ({ status: 200 }))
    const [first] = readOutbox(relay.dataDir).deliveries
    const one = await relay.app.inject({
      method: 'POST',
      url: '/admin/replay',
      headers: auth,
      payload: { ids: [1] },
    })
    expect(one.json()).toEqual({ replayed: 1 })
    await waitUntil(
      () => readOutbox(relay.dataDir).deliveries[0]?.status === 'delivered',
      'replayed delivery',
    )
    expect(first?.key).toBe('191b80a9238:message:1')

    const all = await relay.app.inject({
      method: 'POST',
      url: '/admin/replay',
      headers: auth,
      payload: { target: 'crm', status: 'dead' },
    })
    expect(all.json()).toEqual({ replayed: 2 })
    await waitUntil(
      () => readOutbox(relay.dataDir).deliveries.every((d) => d.status === 'delivered'),
      'all replayed',
    )
    expect(sink.requests).toHaveLength(6)

    const unknown = await relay.app.inject({
      method: 'POST',
      url: '/admin/replay',
      headers: auth,
      payload: { target: 'nope', status: 'dead' },
    })
    expect(unknown.statusCode).toBe(404)
  })

  it('serves Prometheus metrics behind the same token', async () => {
    await relayWithDeadLetters(3)
    expect((await relay.app.inject({ url: '/metrics' })).statusCode).toBe(401)
    const response = await relay.app.inject({ url: '/metrics', headers: auth })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/plain/)
    const text = response.body
    expect(text).toContain('whatsgate_relay_events_received_total{outcome="accepted"} 3')
    expect(text).toContain('whatsgate_relay_delivery_attempts_total{target="crm",outcome="dead"} 3')
    expect(text).toContain('whatsgate_relay_deliveries{target="crm",status="dead"} 3')
    expect(text).toContain('process_resident_memory_bytes')
  })
})
