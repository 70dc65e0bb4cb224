import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildApp, loggerOptions } from '../../src/app.ts'
import { buildTestApp, readOutbox, TEST_TOKEN, tempDir } from '../support/relay.ts'

const fixtures = join(import.meta.dirname, '..', 'fixtures')
const seedEvents = readdirSync(fixtures)
  .filter((name) => name.startsWith('event-'))
  .map((name) => ({ name, body: readFileSync(join(fixtures, name)) }))

const message = JSON.parse(readFileSync(join(fixtures, 'event-message.json'), 'utf8'))
const NO_IDENTITY = 'not a WhatsGate event: it needs id, whatsapp_id and event_action'

describe('POST /webhook/<token>', () => {
  let relay: Awaited<ReturnType<typeof buildTestApp>>
  beforeEach(async () => {
    relay = await buildTestApp({ FORWARD_URL: 'http://127.0.0.1:9/never-called', BODY_LIMIT: '4096' })
  })
  afterEach(() => relay.close())

  const post = (body: string | Buffer, headers: Record<string, string> = {}, path = relay.webhookPath) =>
    relay.app.inject({
      method: 'POST',
      url: path,
      payload: body,
      headers: { 'content-type': 'application/json', ...headers },
    })

  it('accepts every documented example, answers its id and stores the bytes unchanged', async () => {
    expect(seedEvents.length).toBeGreaterThanOrEqual(8)
    for (const { name, body } of seedEvents) {
      const response = await post(body)
      expect(response.statusCode, name).toBe(200)
      expect(response.json(), name).toEqual({ result: 'OK', id: JSON.parse(body.toString()).id })
    }
    const { events, deliveries } = readOutbox(relay.dataDir)
    // Two of the page's examples are the same message event (spaced differently): one key, and
    // the bytes kept are those of the first to arrive.
    const distinct = new Map<string, Buffer>()
    for (const { body } of seedEvents) {
      const e = JSON.parse(body.toString())
      const key = `${e.whatsapp_id}:${e.event_action}:${e.id}`
      if (!distinct.has(key)) distinct.set(key, body)
    }
    expect(events.map((e) => e.key).sort()).toEqual([...distinct.keys()].sort())
    for (const event of events)
      expect(event.body.equals(distinct.get(event.key) as Buffer), event.key).toBe(true)
    expect(deliveries).toHaveLength(events.length)
  })

  it('answers a repeat with the same OK and stores nothing again', async () => {
    const body = JSON.stringify(message)
    const first = await post(body)
    const again = await post(body)
    expect(again.statusCode).toBe(200)
    expect(again.body).toBe(first.body)
    expect(readOutbox(relay.dataDir).events).toHaveLength(1)
    expect(readOutbox(relay.dataDir).deliveries).toHaveLength(1)
  })

  it("answers as the page's example answer does", async () => {
    const answer = JSON.parse(readFileSync(join(fixtures, 'answer.json'), 'utf8'))
    expect((await post(readFileSync(join(fixtures, 'event-message.json')))).json()).toEqual(answer)
  })

  it('takes a message that quotes another, and one whose quoted field has the wrong type', async () => {
    const quoting = JSON.parse(readFileSync(join(fixtures, 'message-object-quoted.json'), 'utf8'))
    const event = { ...message, event_data: { message: quoting } }
    expect((await post(JSON.stringify(event))).statusCode).toBe(200)
    const drifted = {
      ...event,
      id: 19,
      event_data: { message: { ...quoting, quoted: { ...quoting.quoted, body: 5 } } },
    }
    expect((await post(JSON.stringify(drifted))).statusCode).toBe(200)
    expect(readOutbox(relay.dataDir).events.map((e) => e.key)).toEqual([
      '191b80a9238:message:18',
      '191b80a9238:message:19',
    ])
  })

  it('keeps one id used by two actions as two events', async () => {
    await post(JSON.stringify(message))
    await post(JSON.stringify({ ...message, event_action: 'ack' }))
    expect(readOutbox(relay.dataDir).events.map((e) => e.key)).toEqual([
      '191b80a9238:message:18',
      '191b80a9238:ack:18',
    ])
  })

  it('takes an action it does not know and an id sent as a string, echoing the id as sent', async () => {
    const response = await post(
      JSON.stringify({ ...message, id: '77', event_action: 'media', event_data: { x: 1 } }),
    )
    expect(response.statusCode).toBe(200)
    expect(response.body).toBe('{"result":"OK","id":"77"}')
  })

  it('takes null for a field the page documents as optional', async () => {
    const nulls = { mediaKey: null, quoted: null, ack: null, hasMedia: null, body: null }
    const body = JSON.stringify({
      ...message,
      event_data: { message: { ...message.event_data.message, ...nulls } },
    })
    expect((await post(body)).statusCode).toBe(200)
    expect(readOutbox(relay.dataDir).events[0]?.body.toString()).toBe(body)
  })

  it('keeps fields it does not know', async () => {
    const body = JSON.stringify({ ...message, extra: { nested: [1, 2] } })
    expect((await post(body)).statusCode).toBe(200)
    expect(readOutbox(relay.dataDir).events[0]?.body.toString()).toBe(body)
  })

  describe('refuses bad input clearly and stores nothing', () => {
    const valid = JSON.stringify(message)
    const cases: [string, () => Promise<{ statusCode: number; json: () => unknown }>, number, unknown][] = [
      [
        'a wrong token',
        () => post(valid, {}, '/webhook/wrong-token-0123456789'),
        401,
        { error: 'unknown webhook token' },
      ],
      ['no token', () => post(valid, {}, '/webhook/'), 401, { error: 'unknown webhook token' }],
      [
        'a body over the limit',
        () => post(JSON.stringify({ ...message, pad: 'x'.repeat(5000) })),
        413,
        { error: expect.stringMatching(/too large/i) },
      ],
      [
        'a body that is not JSON',
        () => post('{"id": 18,'),
        400,
        { error: 'body is not valid JSON', issues: [] },
      ],
      ['an empty body', () => post(''), 400, { error: 'empty body', issues: [] }],
      [
        'JSON without an identity the relay can key',
        () =>
          post(
            JSON.stringify({
              id: 1.5,
              whatsapp_id: 5,
              event_date: 'yesterday',
              event_data: {},
            }),
          ),
        400,
        {
          error: NO_IDENTITY,
          issues: [
            expect.objectContaining({ path: 'id' }),
            expect.objectContaining({ path: 'whatsapp_id' }),
            expect.objectContaining({ path: 'event_action' }),
          ],
        },
      ],
      [
        'a session or action with a colon, which would make two events share a key',
        () => post(JSON.stringify({ ...message, whatsapp_id: '191b80a9238:message', id: '18:x' })),
        400,
        { error: NO_IDENTITY, issues: [{ path: 'whatsapp_id', message: 'must not contain ":"' }] },
      ],
      [
        'a JSON array',
        () => post('[1,2]'),
        400,
        { error: NO_IDENTITY, issues: [{ path: '(root)', message: expect.any(String) }] },
      ],
    ]
    for (const [name, send, status, body] of cases) {
      it(`${name}: ${status}`, async () => {
        const response = await send()
        expect(response.statusCode).toBe(status)
        expect(response.json()).toEqual(body)
        expect(readOutbox(relay.dataDir).events).toEqual([])
      })
    }
  })

  it('answers 503, never OK, while the store cannot write, and takes the event once it can', async () => {
    const blocker = new DatabaseSync(join(relay.dataDir, 'relay.sqlite'))
    blocker.exec('BEGIN EXCLUSIVE')
    try {
      const refused = await post(JSON.stringify(message))
      expect(refused.statusCode).toBe(503)
      expect(refused.json()).toEqual({ error: 'store unavailable, retry later' })
    } finally {
      blocker.exec('ROLLBACK')
      blocker.close()
    }
    expect(readOutbox(relay.dataDir).events).toEqual([])
    const retried = await post(JSON.stringify(message))
    expect(retried.statusCode).toBe(200)
    expect(readOutbox(relay.dataDir).events).toHaveLength(1)
  })
})

describe('logs', () => {
  async function logsOf(env: Record<string, string>) {
    const lines: string[] = []
    const logger = pino(
      { ...loggerOptions, level: 'info' },
      { write: (line: string) => void lines.push(line) },
    )
    const dataDir = tempDir()
    const app = await buildApp({ env: { DATA_DIR: dataDir, INGEST_TOKEN: TEST_TOKEN, ...env }, logger })
    try {
      const response = await app.inject({
        method: 'POST',
        url: `/webhook/${TEST_TOKEN}`,
        payload: JSON.stringify(message),
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-42' },
      })
      expect(response.statusCode).toBe(200)
    } finally {
      await app.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
    return lines.join('')
  }

  it('logs each accepted event with its key and request id, without its text or the token', async () => {
    const text = message.event_data.message.body as string
    const quiet = await logsOf({})
    expect(quiet).toContain('"event":"191b80a9238:message:18"')
    expect(quiet).toContain('"reqId":"req-42"')
    // As a JSON string: the text ("212") may well be part of a timestamp.
    expect(quiet).not.toContain(JSON.stringify(text))
    expect(quiet).not.toContain(TEST_TOKEN)
    expect(await logsOf({ LOG_MESSAGE_TEXT: 'true' })).toContain(`"text":${JSON.stringify(text)}`)
  })
})

describe('health', () => {
  it('/readyz is 503 while the store cannot take a write, and ready again once it can', async () => {
    const relay = await buildTestApp({ FORWARD_URL: 'http://127.0.0.1:9/never-called' })
    try {
      expect((await relay.app.inject('/healthz')).json()).toEqual({ status: 'ok' })
      expect((await relay.app.inject('/readyz')).json()).toEqual({ status: 'ready', store: 'ok' })
      const blocker = new DatabaseSync(join(relay.dataDir, 'relay.sqlite'))
      blocker.exec('BEGIN EXCLUSIVE')
      try {
        const locked = await relay.app.inject('/readyz')
        expect(locked.statusCode).toBe(503)
        expect(locked.json()).toEqual({
          status: 'unavailable',
          store: 'refusing writes',
          reason: 'SQLITE_BUSY: database is locked',
        })
        expect((await relay.app.inject('/healthz')).statusCode).toBe(200)
      } finally {
        blocker.exec('ROLLBACK')
        blocker.close()
      }
      expect((await relay.app.inject('/readyz')).statusCode).toBe(200)
    } finally {
      await relay.close()
    }
  })
})
