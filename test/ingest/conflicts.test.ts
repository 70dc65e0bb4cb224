// A webhook under a stored key with a different body, through the real app: answered OK with its
// own id (WhatsGate must not retry it), kept beside the event, listed, counted and logged by key
// only; an identical repeat stays a silent duplicate.
import { rmSync } from 'node:fs'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.ts'
import { CONFLICTS_KEPT_PER_KEY } from '../../src/store/conflicts.ts'
import { wgEvent } from '../support/events.ts'
import { TEST_TOKEN, tempDir } from '../support/relay.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const KEY = '191b80a9238:message:1'

let close: () => Promise<void> = async () => {}
afterEach(() => close())

/** The real app, its log lines kept as parsed JSON. */
async function relayWithLog() {
  const dataDir = tempDir()
  const lines: Record<string, unknown>[] = []
  const stream = { write: (line: string) => lines.push(JSON.parse(line)) }
  const app = await buildApp({
    env: { DATA_DIR: dataDir, INGEST_TOKEN: TEST_TOKEN, ADMIN_TOKEN, SHUTDOWN_TIMEOUT_MS: '1000' },
    logger: pino({ level: 'info' }, stream),
  })
  close = async () => {
    await app.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
  const post = (payload: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/webhook/${TEST_TOKEN}`, payload, headers })
  const get = async (url: string) => (await app.inject({ url, headers: auth })).json()
  return { app, lines, post, get }
}

const conflictLines = (lines: Record<string, unknown>[]) =>
  lines.filter((line) => String(line.msg).includes('different body'))

describe('a key stored again with a different body', () => {
  it('is answered OK with its own id, kept, listed, shown with its event, counted and logged by key', async () => {
    const { app, lines, post, get } = await relayWithLog()
    const first = wgEvent({ id: 1, text: 'first text' })
    const second = first.replace('"id":1,', '"id":"1",').replace('first text', 'changed <b>text</b>')

    const answers = [
      await post(first),
      await post(second, { 'user-agent': 'WhatsGate/1.0', 'x-api-key': 'k' }),
    ]
    expect(answers.map((a) => [a.statusCode, a.json()])).toEqual([
      [200, { result: 'OK', id: 1 }],
      [200, { result: 'OK', id: '1' }],
    ])

    const { conflicts, next } = await get('/admin/conflicts')
    expect(next).toBeNull()
    expect(conflicts).toEqual([
      {
        id: expect.any(Number),
        eventKey: KEY,
        receivedAt: expect.any(Number),
        headers: expect.objectContaining({ 'user-agent': 'WhatsGate/1.0', 'x-api-key': '[redacted]' }),
        body: second,
        bodyEncoding: 'utf8',
      },
    ])
    const detail = await get(`/admin/events/${encodeURIComponent(KEY)}`)
    expect(detail.body).toBe(first)
    expect(detail.conflicts).toEqual(conflicts)

    const metrics = (await app.inject({ url: '/metrics', headers: auth })).body
    expect(metrics).toContain('whatsgate_relay_events_conflicting_total{kept="true"} 1')

    const logged = conflictLines(lines)
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ level: 40, event: KEY, kept: true })
    const text = JSON.stringify(lines)
    expect(text).not.toContain('changed')
    expect(text).not.toContain('first text')
  })

  it(`keeps ${CONFLICTS_KEPT_PER_KEY} copies a key; further ones are only counted and logged`, async () => {
    const { app, lines, post, get } = await relayWithLog()
    const body = wgEvent({ id: 1 })
    await post(body)
    for (let n = 1; n <= CONFLICTS_KEPT_PER_KEY + 2; n++) {
      expect((await post(body.replace('"hi"', `"hi ${n}"`))).json()).toEqual({ result: 'OK', id: 1 })
    }
    expect((await get('/admin/conflicts?limit=100')).conflicts).toHaveLength(CONFLICTS_KEPT_PER_KEY)
    const metrics = (await app.inject({ url: '/metrics', headers: auth })).body
    expect(metrics).toContain(
      `whatsgate_relay_events_conflicting_total{kept="true"} ${CONFLICTS_KEPT_PER_KEY}`,
    )
    expect(metrics).toContain('whatsgate_relay_events_conflicting_total{kept="false"} 2')
    expect(conflictLines(lines).map((line) => line.kept)).toEqual([
      ...Array(CONFLICTS_KEPT_PER_KEY).fill(true),
      false,
      false,
    ])
  })

  it('leaves nothing for an identical repeat: no row, no line, no count', async () => {
    const { app, lines, post, get } = await relayWithLog()
    const body = wgEvent({ id: 1 })
    for (let i = 0; i < 3; i++) expect((await post(body)).json()).toEqual({ result: 'OK', id: 1 })
    expect(await get('/admin/conflicts')).toEqual({ conflicts: [], next: null })
    expect((await get(`/admin/events/${encodeURIComponent(KEY)}`)).conflicts).toEqual([])
    expect(conflictLines(lines)).toEqual([])
    const metrics = (await app.inject({ url: '/metrics', headers: auth })).body
    expect(metrics).not.toMatch(/whatsgate_relay_events_conflicting_total\{/)
  })
})
