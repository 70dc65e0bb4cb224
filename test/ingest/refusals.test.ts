// Every refusal of the webhook route is visible: a metric by reason and, past the token, one warn
// line (without the token or the body) and the request kept for the operator in a bounded list the
// admin API shows. What anyone can send without the token (a wrong one, an unknown path) is only
// counted and logged in aggregate per address: a flood of it keeps nothing and writes a line or two.
import { readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildApp, loggerOptions } from '../../src/app.ts'
import { TEST_TOKEN, tempDir } from '../support/relay.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const KEEP = 5
const SECRET_TEXT = 'my bank PIN is 4321'

let app: Awaited<ReturnType<typeof buildApp>>
let dataDir: string
let lines: string[]

beforeEach(async () => {
  lines = []
  dataDir = tempDir('refusals-')
  const logger = pino({ ...loggerOptions, level: 'info' }, { write: (line: string) => void lines.push(line) })
  app = await buildApp({
    env: {
      DATA_DIR: dataDir,
      INGEST_TOKEN: TEST_TOKEN,
      ADMIN_TOKEN,
      BODY_LIMIT: '4096',
      REFUSED_REQUESTS_KEPT: String(KEEP),
    },
    logger,
  })
})
afterEach(async () => {
  await app.close()
  rmSync(dataDir, { recursive: true, force: true })
})

const post = (payload: string, { path = `/webhook/${TEST_TOKEN}`, method = 'POST' as const } = {}) =>
  app.inject({
    method,
    url: path,
    payload,
    headers: {
      'content-type': 'text/plain',
      'x-request-id': 'req-7',
      authorization: 'Bearer do-not-keep-me',
      'x-api-key': 'nor-me',
    },
  })

async function admin(path: string) {
  const response = await app.inject({ url: path, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(response.statusCode, path).toBe(200)
  return response
}

const logged = () => lines.map((line) => JSON.parse(line))
const refusalLines = () => logged().filter((entry) => entry.msg === 'webhook request refused')
const aggregateLines = () => logged().filter((entry) => entry.msg === 'webhook requests refused')

/** Bytes of every file of the store (the database, its write-ahead log and index). */
const storeSize = () =>
  readdirSync(dataDir)
    .filter((name) => name.startsWith('relay.sqlite'))
    .reduce((sum, name) => sum + statSync(join(dataDir, name)).size, 0)

describe('refusals', () => {
  const kinds: [reason: string, send: () => ReturnType<typeof post>, status: number, kept: boolean][] = [
    [
      'token',
      () => post(`{"note":"${SECRET_TEXT}"}`, { path: '/webhook/wrong-token-0123456789' }),
      401,
      false,
    ],
    [
      'not_found',
      () => post(`{"note":"${SECRET_TEXT}"}`, { path: `/webhook/${TEST_TOKEN}/more` }),
      404,
      false,
    ],
    ['too_large', () => post(`{"note":"${SECRET_TEXT}","pad":"${'x'.repeat(5000)}"}`), 413, true],
    ['not_json', () => post(`{"note":"${SECRET_TEXT}",`), 400, true],
    ['no_identity', () => post(`{"id":18,"note":"${SECRET_TEXT}"}`), 400, true],
  ]

  for (const [reason, send, status, kept] of kinds) {
    it(`${reason}: ${status}, ${kept ? 'one warn line' : 'an aggregate line'}, the metric, ${kept ? 'kept' : 'not kept'}`, async () => {
      const response = await send()
      expect(response.statusCode).toBe(status)
      expect(response.json().error).toEqual(expect.any(String))

      const warned = kept ? refusalLines() : aggregateLines()
      expect(warned).toEqual([
        kept
          ? expect.objectContaining({
              level: 40,
              reason,
              status,
              reqId: 'req-7',
              remoteAddress: '127.0.0.1',
              bodySize: expect.any(Number),
            })
          : expect.objectContaining({ level: 40, reason, status, remoteAddress: '127.0.0.1', count: 1 }),
      ])
      const logged = lines.join('')
      expect(logged).not.toContain(TEST_TOKEN)
      expect(logged).not.toContain(SECRET_TEXT)
      expect(logged).not.toContain('do-not-keep-me')

      const metrics = (await admin('/metrics')).body
      expect(metrics).toContain(`whatsgate_relay_webhook_refused_total{reason="${reason}"} 1`)

      const { refused } = (await admin('/admin/refused')).json()
      if (!kept) {
        expect(refused).toEqual([])
        return
      }
      expect(refused).toEqual([
        expect.objectContaining({
          reason,
          status,
          headers: expect.objectContaining({
            'content-type': 'text/plain',
            'x-request-id': 'req-7',
            authorization: '[redacted]',
            'x-api-key': '[redacted]',
          }),
        }),
      ])
      // A body refused for its size was never read; the others are kept as they came.
      if (reason === 'too_large')
        expect(refused[0]).toMatchObject({ body: null, bodySize: expect.any(Number) })
      else expect(refused[0].body).toContain(SECRET_TEXT)
    })
  }

  it('1,000 requests to unknown paths and 1,000 with a wrong token keep nothing, count each, and log a line per address', async () => {
    // What WhatsGate sent that the relay could not take, kept before the flood.
    expect((await post('not json: kept')).statusCode).toBe(400)
    const keptBefore = (await admin('/admin/refused')).json().refused
    const sizeBefore = storeSize()
    const addresses = ['198.51.100.7', '203.0.113.9']

    for (let i = 0; i < 1000; i++) {
      const remoteAddress = addresses[i % 2]
      const [unknown, wrongToken] = await Promise.all([
        app.inject({ method: 'POST', url: '/webhook/x/y', payload: `{"n":${i}}`, remoteAddress }),
        app.inject({
          method: 'POST',
          url: '/webhook/wrong-token-0123456789',
          payload: `{"n":${i}}`,
          remoteAddress,
        }),
      ])
      expect([unknown.statusCode, wrongToken.statusCode]).toEqual([404, 401])
    }

    expect((await admin('/admin/refused')).json().refused).toEqual(keptBefore)
    expect(storeSize()).toBe(sizeBefore)
    const metrics = (await admin('/metrics')).body
    expect(metrics).toContain('whatsgate_relay_webhook_refused_total{reason="not_found"} 1000')
    expect(metrics).toContain('whatsgate_relay_webhook_refused_total{reason="token"} 1000')

    // The first of each address and reason at once; the rest are summed when its minute is over,
    // or, as here, when the app closes.
    const lineOf = ({ reason, status, remoteAddress, count }: Record<string, unknown>) => ({
      reason,
      status,
      remoteAddress,
      count,
    })
    const inOrder = (entries: Record<string, unknown>[]) =>
      entries
        .map(lineOf)
        .sort((a, b) =>
          `${a.count} ${a.reason} ${a.remoteAddress}`.localeCompare(
            `${b.count} ${b.reason} ${b.remoteAddress}`,
          ),
        )
    const firsts = [
      ...addresses.map((remoteAddress) => ({ reason: 'not_found', status: 404, remoteAddress, count: 1 })),
      ...addresses.map((remoteAddress) => ({ reason: 'token', status: 401, remoteAddress, count: 1 })),
    ]
    expect(inOrder(aggregateLines())).toEqual(firsts)
    expect(refusalLines()).toHaveLength(1)

    await app.close()
    expect(inOrder(aggregateLines())).toEqual([
      ...firsts,
      ...firsts.map((first) => ({ ...first, count: 499 })),
    ])
    expect(lines.join('')).not.toContain(TEST_TOKEN)
  })

  it(`keeps only the ${KEEP} most recent, oldest dropped first`, async () => {
    for (let i = 0; i < KEEP * 10; i++) expect((await post(`not json ${i}`)).statusCode).toBe(400)
    const { refused } = (await admin('/admin/refused?limit=1000')).json()
    // Newest first.
    expect(refused.map((r: { body: string }) => r.body)).toEqual(
      Array.from({ length: KEEP }, (_, i) => `not json ${KEEP * 10 - 1 - i}`),
    )
    const db = new DatabaseSync(join(dataDir, 'relay.sqlite'), { readOnly: true })
    try {
      expect(db.prepare('SELECT count(*) AS n FROM refused_requests').get()?.n).toBe(KEEP)
      expect(db.prepare('SELECT count(*) AS n FROM events').get()?.n).toBe(0)
    } finally {
      db.close()
    }
    expect(refusalLines()).toHaveLength(KEEP * 10)
  })
})
