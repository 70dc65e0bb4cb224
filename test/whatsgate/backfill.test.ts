import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { subtractSeconds } from '../../src/events/dates.ts'
import { createAcceptor } from '../../src/ingest/acceptor.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'
import { createWhatsGateClient } from '../../src/whatsgate/api-client.ts'
import { type BackfillSink, createBackfill } from '../../src/whatsgate/backfill.ts'
import { captureLogger, type FakeWhatsGate, startFakeWhatsGate } from '../support/fake-whatsgate.ts'
import { readOutbox, tempDir } from '../support/relay.ts'

const API_KEY = 'backfill-key'
const silent = pino({ level: 'silent' })

let fake: FakeWhatsGate
const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  await fake?.close()
  for (const step of cleanup.splice(0).reverse()) await step()
})

/** Event `n` of a session, 20 s after event n-1. */
function event(whatsappId: string, n: number, body = `text ${n}`) {
  const date = new Date(Date.UTC(2024, 2, 31, 23, 58, 0) + n * 20_000)
    .toISOString()
    .slice(0, 19)
    .replace('T', ' ')
  return {
    id: n,
    whatsapp_id: whatsappId,
    event_action: 'message',
    event_date: date,
    status_code: null,
    event_data: { message: { id: `false_7999@c.us_${n}`, body, type: 'chat' } },
  }
}

/**
 * The relay's own accept path (validation, event key, deduplication) on a real SQLite file with
 * no targets, holding `preStored` already; `stored()` reads back what the file holds.
 */
async function relaySink(preStored: Record<string, unknown>[] = []) {
  const dir = tempDir('backfill-')
  const store = openSqliteStore({ path: join(dir, 'relay.sqlite') })
  cleanup.push(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const acceptor = createAcceptor({ store, targets: [], log: pino({ level: 'silent' }) })
  for (const e of preStored) await acceptor.accept(Buffer.from(JSON.stringify(e)))
  const sink: BackfillSink = {
    accept: async (body) => (await acceptor.accept(body)).status,
    newestEventDate: async (whatsappId) => (await store.newestEventDates()).get(whatsappId) ?? null,
  }
  const stored = () =>
    readOutbox(dir).events.map((e) => JSON.parse(e.body.toString()) as Record<string, unknown>)
  return { sink, stored }
}

function client() {
  return createWhatsGateClient({
    baseUrl: fake.url,
    apiKey: API_KEY,
    log: silent,
    retries: 1,
    backoff: () => 1,
  })
}

describe('backfill', () => {
  it('pages from the newest stored event minus the overlap and counts the overlap as duplicates', async () => {
    const a = Array.from({ length: 25 }, (_, i) => event('wa-a', i + 1))
    const b = Array.from({ length: 3 }, (_, i) => event('wa-b', i + 1))
    fake = await startFakeWhatsGate({ apiKey: API_KEY, events: [...b, ...a] })
    const { sink, stored } = await relaySink(a.slice(0, 10))

    const results = await createBackfill({
      client: client(),
      sink,
      log: silent,
      overlapSeconds: 60,
      pageSize: 5,
    }).run({
      whatsappIds: ['wa-a'],
    })

    // Newest stored: event 10 at 00:01:20 on April 1; minus 60 s = 00:00:20, the date of event 7.
    expect(a[9]?.event_date).toBe('2024-04-01 00:01:20')
    const from = '2024-04-01 00:00:20'
    expect(results).toEqual([
      { whatsappId: 'wa-a', from, fetched: 19, accepted: 15, duplicates: 4, invalid: 0 },
    ])
    expect(fake.callsOf('events-get').map((c) => c.body)).toEqual(
      [1, 2, 3, 4].map((page) => ({ WhatsappID: 'wa-a', page, page_cnt: 5, date: from })),
    )
    expect(stored().map((e) => e.id)).toEqual(a.map((e) => e.id))
    expect(stored().every((e) => e.whatsapp_id === 'wa-a')).toBe(true)
  })

  it('fetches everything when nothing is stored, and starts at `since` when given', async () => {
    const a = Array.from({ length: 12 }, (_, i) => event('wa-a', i + 1))
    fake = await startFakeWhatsGate({ apiKey: API_KEY, events: a })
    const backfill = createBackfill({
      client: client(),
      sink: (await relaySink()).sink,
      log: silent,
      pageSize: 10,
    })

    const all = await backfill.run({ whatsappIds: ['wa-a'] })
    expect(all[0]).toMatchObject({ from: null, fetched: 12, accepted: 12 })
    expect(fake.callsOf('events-get').map((c) => c.body)).toEqual([
      { WhatsappID: 'wa-a', page: 1, page_cnt: 10 },
      { WhatsappID: 'wa-a', page: 2, page_cnt: 10 },
    ])

    fake.calls.length = 0
    const since = a[9]?.event_date ?? ''
    const some = await createBackfill({ client: client(), sink: (await relaySink()).sink, log: silent }).run({
      whatsappIds: ['wa-a'],
      since,
    })
    expect(some[0]).toMatchObject({ from: since, fetched: 3, accepted: 3 })
    expect(fake.calls[0]?.body).toEqual({ WhatsappID: 'wa-a', page: 1, page_cnt: 100, date: since })
  })

  it('counts and logs invalid elements without their text, and goes on', async () => {
    const secret = 'my bank PIN is 4321'
    const broken = { ...event('wa-a', 3, secret), id: 3.5 }
    const { event_action: _dropped, ...noAction } = event('wa-a', 4, secret)
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      events: [event('wa-a', 1), broken, event('wa-a', 2), noAction, event('wa-a', 5)],
    })
    const capture = captureLogger()
    const { sink, stored } = await relaySink()
    const [result] = await createBackfill({ client: client(), sink, log: capture.log, pageSize: 2 }).run({
      whatsappIds: ['wa-a'],
    })

    expect(result).toMatchObject({ fetched: 5, accepted: 3, duplicates: 0, invalid: 2 })
    expect(stored().map((e) => e.id)).toEqual([1, 2, 5])
    const warnings = capture.entries().filter((e) => e.level === 40)
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toMatchObject({ whatsappId: 'wa-a', id: 3.5, event_action: 'message' })
    for (const line of capture.lines) expect(line).not.toContain('4321')
  })

  it('fills in the session when an element leaves it out', async () => {
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      events: [event('wa-a', 1), event('wa-b', 1)],
      eventsGetOmits: ['whatsapp_id'],
    })
    const { sink, stored } = await relaySink()
    const [result] = await createBackfill({ client: client(), sink, log: silent }).run({
      whatsappIds: ['wa-a'],
    })
    expect(result).toMatchObject({ fetched: 1, accepted: 1 })
    expect(stored()[0]?.whatsapp_id).toBe('wa-a')
    expect(fake.events[0]?.whatsapp_id).toBe('wa-a')
  })

  it('reports a backfill as incomplete when WhatsGate ignores the page asked for', async () => {
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      events: Array.from({ length: 12 }, (_, i) => event('wa-a', i + 1)),
      eventsGetIgnoresPage: true,
    })
    const { sink, stored } = await relaySink()
    const [result] = await createBackfill({ client: client(), sink, log: silent, pageSize: 5 }).run({
      whatsappIds: ['wa-a'],
    })
    expect(result).toMatchObject({ fetched: 5, accepted: 5, error: 'events-get answered page 1 for page 2' })
    expect(stored()).toHaveLength(5)
  })

  it('records an outage on one session and still backfills the next', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, events: [event('wa-a', 1), event('wa-b', 1)] })
    fake.failNext('events-get', 2, 'reset')
    const { sink, stored } = await relaySink()
    const results = await createBackfill({ client: client(), sink, log: silent }).run({
      whatsappIds: ['wa-a', 'wa-b'],
    })
    expect(results[0]?.error).toMatch(/^events-get failed: WhatsGate unavailable after 2 attempt/)
    expect(results[0]).toMatchObject({ fetched: 0 })
    expect(results[1]).toEqual({
      whatsappId: 'wa-b',
      from: null,
      fetched: 1,
      accepted: 1,
      duplicates: 0,
      invalid: 0,
    })
    expect(stored()).toHaveLength(1)
  })
})

describe('subtractSeconds', () => {
  it('treats the date as an opaque wall-clock time', () => {
    expect(subtractSeconds('2024-04-01 00:00:30', 60)).toBe('2024-03-31 23:59:30')
    expect(subtractSeconds('2024-01-01 00:00:00', 1)).toBe('2023-12-31 23:59:59')
    expect(subtractSeconds('2024-03-01 00:00:10', 20)).toBe('2024-02-29 23:59:50')
    // 02:30 does not exist in much of Europe on this night; as a wall clock it is still 02:29.
    expect(subtractSeconds('2024-03-31 02:30:00', 60)).toBe('2024-03-31 02:29:00')
    expect(subtractSeconds('2024-03-31 02:30:00', 0)).toBe('2024-03-31 02:30:00')
  })

  it('returns null for anything else', () => {
    expect(subtractSeconds('2024-03-31T02:30:00Z', 60)).toBeNull()
    expect(subtractSeconds('yesterday', 60)).toBeNull()
  })
})
