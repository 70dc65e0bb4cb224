// GET /admin/status and the backlog gauge: what waits where, and for how long, on the relay's clock.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { createManualClock } from '../support/manual-clock.ts'
import { buildTestApp, readOutbox } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const version = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'),
).version

let cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

describe('GET /admin/status', () => {
  it('shows the store, each target with its backlog and its oldest wait, and the events of the last minute and hour', async () => {
    const up: Sink = await startSink()
    const down: Sink = await startSink({ respondWith: () => ({ status: 503 }) })
    cleanup.push(
      () => up.close(),
      () => down.close(),
    )
    const clock = createManualClock()
    const startedAt = clock.now()
    // Retries wait at least a tenth of initialDelayMs: 12 minutes here, well past the 90 s this test moves on.
    const slowRetry = { maxAttempts: 10, initialDelayMs: 7_200_000, maxDelayMs: 7_200_000 }
    const relay = await buildTestApp(
      {
        ADMIN_TOKEN,
        TARGETS: JSON.stringify([
          { name: 'up', url: up.url, events: ['*'] },
          { name: 'down', url: down.url, events: ['*'], retry: slowRetry },
        ]),
      },
      undefined,
      { clock },
    )
    cleanup.push(() => relay.close())
    await relay.app.ready()
    expect((await relay.app.inject({ url: '/admin/status' })).statusCode).toBe(401)

    for (let id = 1; id <= 3; id++) await relay.post(wgEvent({ id }))
    // Every attempt is recorded: 'up' has all three, 'down' failed each once and waits for its retry.
    await waitUntil(
      () => readOutbox(relay.dataDir).deliveries.every((d) => d.attempts === 1),
      'one attempt of every delivery',
    )
    clock.advance(90_000)

    const status = (await relay.app.inject({ url: '/admin/status', headers: auth })).json()
    expect(status).toEqual({
      version,
      uptimeSeconds: expect.any(Number),
      store: { kind: 'sqlite', healthy: true },
      targets: [
        {
          name: 'up',
          type: 'http',
          state: 'ok',
          stateText: 'ok',
          pending: 0,
          dead: 0,
          oldestPendingAgeSeconds: null,
        },
        {
          name: 'down',
          type: 'http',
          state: 'ok',
          stateText: 'ok',
          pending: 3,
          dead: 0,
          oldestPendingAgeSeconds: 90,
        },
      ],
      registration: null,
      eventsReceived: { lastMinute: 0, lastHour: 3 },
      // On SQLite, this process alone.
      replicas: [{ id: expect.any(String), startedAt, lastBeatAt: clock.now(), alive: true, current: true }],
    })

    const metrics = (await relay.app.inject({ url: '/metrics', headers: auth })).body
    expect(metrics).toContain('whatsgate_relay_backlog_oldest_age_seconds{target="up"} 0')
    expect(metrics).toContain('whatsgate_relay_backlog_oldest_age_seconds{target="down"} 90')
  })
})
