// What the relay takes: any body that parses as a JSON object with an identity, whatever its
// content type and however its other fields drift from WhatsGate's page. Over real HTTP, to a real
// target: each is answered OK, stored once, forwarded byte for byte, and flagged where it departs
// from the documentation; what has no identity is refused and writes no event.
import { readdirSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import fc from 'fast-check'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../support/events.ts'
import { buildTestApp, readOutbox } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const fixtures = join(import.meta.dirname, '..', 'fixtures')
const documented = readdirSync(fixtures)
  .filter((name) => name.startsWith('event-'))
  .map((name) => readFileSync(join(fixtures, name)))
const message = JSON.parse(readFileSync(join(fixtures, 'event-message.json'), 'utf8'))

let relay: Awaited<ReturnType<typeof buildTestApp>>
let target: Sink
let base: string

beforeAll(async () => {
  target = await startSink()
  relay = await buildTestApp({ FORWARD_URL: target.url, ADMIN_TOKEN, BODY_LIMIT: '65536' })
  await relay.app.listen({ port: 0, host: '127.0.0.1' })
  base = `http://127.0.0.1:${(relay.app.server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await relay.close()
  await target.close()
})

/** WhatsGate posting over real HTTP; `contentType` undefined sends no such header at all. */
async function send(body: Buffer | string, contentType?: string) {
  const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType }
  const response = await request(`${base}${relay.webhookPath}`, { method: 'POST', body, headers })
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> }
}

async function admin(path: string) {
  const response = await relay.app.inject({ url: path, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(response.statusCode, path).toBe(200)
  return response
}

interface EventRow {
  key: string
  issues: { path: string; message: string }[] | null
}

async function listEvents(conforming: boolean): Promise<EventRow[]> {
  return (await admin(`/admin/events?conforming=${conforming}&limit=1000`)).json().events
}

const idOf = (body: Buffer) => JSON.parse(body.toString('utf8').replace(/^\uFEFF/, '')).id

const withMessage = (id: number, changes: Record<string, unknown>) =>
  JSON.stringify({
    ...message,
    id,
    event_data: { message: { ...message.event_data.message, ...changes } },
  })

describe('documented examples', () => {
  it('are conforming', async () => {
    for (const body of documented) expect((await send(body, 'application/json')).status).toBe(200)
    const keys = documented.map((body) => {
      const e = JSON.parse(body.toString())
      return `${e.whatsapp_id}:${e.event_action}:${e.id}`
    })
    expect((await listEvents(true)).map((e) => e.key).sort()).toEqual([...new Set(keys)].sort())
    expect(await listEvents(false)).toEqual([])
  })
})

describe('drifted events', () => {
  // [name, body, content type, paths flagged]
  const variants: [string, Buffer, string | undefined, string[]][] = [
    ['no content type', Buffer.from(withMessage(101, {})), undefined, []],
    ['text/plain', Buffer.from(withMessage(102, {})), 'text/plain', []],
    ['JSON with a charset', Buffer.from(withMessage(103, {})), 'application/json; charset=utf-8', []],
    ['form-encoded', Buffer.from(withMessage(104, {})), 'application/x-www-form-urlencoded', []],
    ['a malformed content type', Buffer.from(withMessage(105, {})), 'json please', []],
    [
      'an ISO event_date',
      Buffer.from(JSON.stringify({ ...message, id: 106, event_date: '2022-09-07T18:29:37Z' })),
      'application/json',
      ['event_date'],
    ],
    [
      'event_date null',
      Buffer.from(JSON.stringify({ ...message, id: 107, event_date: null })),
      'application/json',
      ['event_date'],
    ],
    [
      'ack as a string',
      Buffer.from(withMessage(108, { ack: '2' })),
      'application/json',
      ['event_data.message.ack'],
    ],
    [
      'a message without id',
      Buffer.from(withMessage(109, { id: undefined })),
      'application/json',
      ['event_data.message.id'],
    ],
    [
      'a UTF-8 byte-order mark',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(withMessage(110, {}))]),
      'application/json',
      ['(body)'],
    ],
    [
      'an id sent as a string',
      Buffer.from(JSON.stringify({ ...message, id: '111' })),
      'application/json',
      ['id'],
    ],
    [
      'no event_data at all',
      Buffer.from(JSON.stringify({ ...message, id: 112, event_data: undefined })),
      'application/json',
      ['event_data'],
    ],
    [
      "a known action's data with wrong types",
      Buffer.from(withMessage(113, { ack: 'read', hasMedia: 'no' })),
      'application/json',
      ['event_data.message.ack', 'event_data.message.hasMedia'],
    ],
  ]

  it('are each answered OK with their id, forwarded byte for byte, and flagged where they drift', async () => {
    for (const [name, body, contentType] of variants) {
      const answer = await send(body, contentType)
      expect(answer, name).toEqual({ status: 200, body: { result: 'OK', id: idOf(body) } })
    }
    // By key: deliveries of the test before may still be arriving.
    const keys = variants.map(([, body]) => `191b80a9238:message:${idOf(body)}`)
    const forwarded = () => new Map(target.requests.map((r) => [String(r.headers['webhook-id']), r.body]))
    await waitUntil(() => keys.every((key) => forwarded().has(key)), 'every variant forwarded')
    const flagged = new Map((await listEvents(false)).map((e) => [e.key, e.issues?.map((i) => i.path)]))
    for (const [name, body, , paths] of variants) {
      const key = `191b80a9238:message:${idOf(body)}`
      expect(forwarded().get(key)?.equals(body), `${name}: forwarded unchanged`).toBe(true)
      expect(flagged.get(key), name).toEqual(paths.length === 0 ? undefined : paths)
    }

    const metrics = (await admin('/metrics')).body
    const drifted = variants.filter(([, , , paths]) => paths.length > 0).length
    expect(metrics).toContain(`whatsgate_relay_events_nonconforming_total{action="message"} ${drifted}`)
  })

  it('take the session lane when chat ordering has no message id to read', async () => {
    const ordered = await startSink()
    const chatRelay = await buildTestApp({
      TARGETS: JSON.stringify([{ name: 'bot', url: ordered.url, events: ['*'], ordering: 'chat' }]),
    })
    try {
      const noId = withMessage(1, { id: undefined })
      const noData = JSON.stringify({ id: 2, whatsapp_id: 's-1', event_action: 'message', event_data: 7 })
      for (const body of [noId, noData]) expect((await chatRelay.post(body)).statusCode).toBe(200)
      await ordered.waitFor(2)
      const db = new DatabaseSync(join(chatRelay.dataDir, 'relay.sqlite'), { readOnly: true })
      try {
        const lanes = db.prepare('SELECT ordering_key FROM deliveries ORDER BY id').all()
        expect(lanes.map((row) => row.ordering_key)).toEqual(['191b80a9238', 's-1'])
      } finally {
        db.close()
      }
    } finally {
      await chatRelay.close()
      await ordered.close()
    }
  })
})

describe('property: identity is all that is required', () => {
  // Any characters: a key that a header cannot carry as is (a line break, Cyrillic, a trailing
  // space) still travels, percent-encoded, in webhook-id. All but NUL, which no store can key by.
  const text = (max: number) =>
    fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: max })
      // maxLength counts graphemes; the relay's limits count UTF-16 units, as JavaScript does.
      .filter((s) => s.length <= max && !s.includes('\0'))
  const noColon = (max: number) => text(max).filter((s) => !s.includes(':'))
  const identity = fc.record({
    id: fc.oneof(fc.integer(), text(128)),
    whatsapp_id: noColon(128),
    event_action: noColon(64),
  })
  const rest = fc.dictionary(
    fc.string().filter((k) => !['id', 'whatsapp_id', 'event_action', '__proto__'].includes(k)),
    fc.jsonValue(),
    { maxKeys: 6 },
  )

  it('any object with an identity: 200 with its own id, stored once, forwarded byte for byte', async () => {
    const before = target.requests.length
    const firstBody = new Map<string, string>()
    await fc.assert(
      fc.asyncProperty(identity, rest, async (id, other) => {
        const body = JSON.stringify({ ...other, ...id })
        const answer = await relay.post(body)
        expect(answer.statusCode).toBe(200)
        expect(answer.json()).toEqual({ result: 'OK', id: id.id })
        const key = `${id.whatsapp_id}:${id.event_action}:${id.id}`
        if (!firstBody.has(key)) firstBody.set(key, body)
      }),
      { numRuns: 300 },
    )
    await target.waitFor(before + firstBody.size)
    const forwarded = target.requests.slice(before)
    expect(forwarded).toHaveLength(firstBody.size)
    for (const r of forwarded) {
      const key = decodeURIComponent(String(r.headers['webhook-id']))
      expect(r.body.toString()).toBe(firstBody.get(key))
    }
    const stored = new Map(readOutbox(relay.dataDir).events.map((e) => [e.key, e.body.toString()]))
    for (const [key, body] of firstBody) expect(stored.get(key)).toBe(body)
  })

  it('anything without one: 400 naming the fields, and no event row written', async () => {
    const broken = fc.oneof(
      // One identity field missing or of a type that cannot key an event.
      fc
        .tuple(
          identity,
          rest,
          fc.constantFrom('id', 'whatsapp_id', 'event_action'),
          fc.constantFrom(undefined, null, '', 1.5, true, {}, [], 'a:b', 'a\0b'),
        )
        .filter(([, , field, bad]) => !(field === 'id' && bad === 'a:b'))
        .map(([id, other, field, bad]) => JSON.stringify({ ...other, ...id, [field]: bad })),
      // Not an object at all.
      fc
        .oneof(fc.array(fc.jsonValue()), fc.string(), fc.integer(), fc.constant(null))
        .map((v) => JSON.stringify(v)),
    )
    const rows = readOutbox(relay.dataDir).events.length
    await fc.assert(
      fc.asyncProperty(broken, async (body) => {
        const answer = await relay.post(body)
        expect(answer.statusCode).toBe(400)
        expect(answer.json().issues.length).toBeGreaterThan(0)
      }),
      { numRuns: 300 },
    )
    expect(readOutbox(relay.dataDir).events).toHaveLength(rows)
  })
})
