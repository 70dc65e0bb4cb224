// The conditions beyond disconnects, each end to end in one relay on a clock the test moves (a
// check a minute here), told to a Slack-shaped local sink: session.error, session.silent with the
// quiet it learned, target.backlog (a paused target left alone), relay.refusals, stream.no_consumer.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sessionEvent, wgEvent } from '../support/events.ts'
import { startFakeWhatsGate } from '../support/fake-whatsgate.ts'
import { createManualClock, type ManualClock, runRound } from '../support/manual-clock.ts'
import { buildTestApp } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'
import { readStream } from '../support/stream-consumer.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
/** The alerts loop's interval here: a little over a minute, which no other timer of the relay waits. */
const CHECK_MS = 61_111
const STREAM_TOKEN = 'stream-token-0123456789'

async function waitUntilAsync(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('alert conditions in a relay', () => {
  let slack: Sink
  let clock: ManualClock
  let relay: Awaited<ReturnType<typeof buildTestApp>>

  beforeEach(async () => {
    slack = await startSink()
    clock = createManualClock()
  })
  afterEach(async () => {
    await relay?.close()
    await slack.close()
  })

  async function start(env: Record<string, string> = {}, whatsgateRetryMs = 1000) {
    relay = await buildTestApp(
      {
        ADMIN_TOKEN,
        ALERTS: JSON.stringify([{ name: 'team', format: 'slack', url: `${slack.url}/services/T/B/X` }]),
        ...env,
      },
      undefined,
      {
        clock,
        delays: { alertCheckMs: CHECK_MS, whatsgateRetry: () => whatsgateRetryMs, whatsgateBackoff: () => 1 },
      },
    )
    await relay.app.ready()
  }

  /** Moves time on by one check and waits until that round of the alerts loop has finished. */
  const round = () => runRound(clock, CHECK_MS)

  async function rounds(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await round()
  }

  const texts = () =>
    slack.requests.map((request) => (JSON.parse(request.body.toString('utf8')) as { text: string }).text)
  const about = (what: string) => texts().filter((text) => text.includes(what))

  async function post(body: string, status = 200) {
    expect((await relay.post(body)).statusCode).toBe(status)
  }

  it('session.error: five errors within ten minutes open it, the last quoted; ten quiet minutes resolve it', async () => {
    await start()
    for (let i = 0; i < 4; i++) await post(sessionEvent(10 + i, 'error', 'shop-e', { error: `failure ${i}` }))
    await rounds(2)
    expect(about('session.error')).toHaveLength(0)
    await post(sessionEvent(20, 'error', 'shop-e', { error: { code: 7, text: 'not in contacts' } }))
    await rounds(2)
    expect(about('session.error shop-e')).toHaveLength(1)
    expect(texts()[0]).toContain('5 errors in 10 minutes, the last "{"code":7,"text":"not in contacts"}"')
    await rounds(11)
    const told = about('session.error shop-e')
    expect(told).toHaveLength(2)
    expect(told[1]).toContain('RESOLVED (1)')
  })

  it('session.silent: past the floor while it has learned nothing; later, only past twice the longest gap it taught', async () => {
    await start({ ALERT_SILENT_MIN_MINUTES: '30' })
    // A session that never spoke is never silent; one that spoke once is not active yet.
    await post(sessionEvent(1, 'ready', 'shop-once'))
    for (let i = 0; i < 10; i++) {
      await post(wgEvent({ id: 100 + i, whatsappId: 'shop-s' }))
      await round()
    }
    await rounds(29)
    expect(about('session.silent')).toHaveLength(0)
    await rounds(2)
    const opened = about('session.silent shop-s')
    expect(opened).toHaveLength(1)
    expect(opened[0]).toContain('its usual quiet is up to 30 min')
    // Forty minutes quiet in all, then it speaks: resolved, and it has taught a 40-minute gap.
    await rounds(8)
    await post(wgEvent({ id: 200, whatsappId: 'shop-s' }))
    await round()
    expect(about('session.silent shop-s').at(-1)).toContain('RESOLVED (1)')
    // Now its usual quiet is twice that: an hour of silence is not news, 80 minutes are.
    await rounds(60)
    expect(about('session.silent shop-s')).toHaveLength(2)
    await rounds(22)
    expect(about('session.silent shop-s')).toHaveLength(3)
    expect(about('session.silent shop-s').at(-1)).toContain('OPENED (1)')
    expect(about('shop-once')).toHaveLength(0)
  })

  it('target.backlog: events waiting past the setting open it; pausing the target on purpose resolves it', async () => {
    const target = await startSink({ respondWith: () => ({ status: 503 }) })
    try {
      await start({
        ALERT_BACKLOG_MINUTES: '5',
        TARGETS: JSON.stringify([
          {
            name: 'bot',
            url: target.url,
            events: ['*'],
            retry: { initialDelayMs: 3_600_000, maxDelayMs: 3_600_000 },
          },
        ]),
      })
      await post(wgEvent({ id: 1 }))
      await target.waitFor(1)
      await rounds(5)
      expect(about('target.backlog')).toHaveLength(0)
      await rounds(2)
      expect(about('target.backlog bot')).toHaveLength(1)
      expect(about('target.backlog bot')[0]).toMatch(/1 waiting, the oldest for \d+ min/)
      const pause = await relay.app.inject({ method: 'POST', url: '/admin/targets/bot/pause', headers: auth })
      expect(pause.statusCode).toBe(200)
      await round()
      expect(about('target.backlog bot')).toHaveLength(2)
      expect(about('target.backlog bot')[1]).toContain('RESOLVED (1)')
    } finally {
      await target.close()
    }
  })

  it('relay.refusals: a burst of refused webhooks opens it, unknown paths do not count; five quiet minutes resolve it', async () => {
    await start({ ALERT_REFUSALS: '3' })
    for (let i = 0; i < 5; i++) {
      const stray = await relay.app.inject({ method: 'POST', url: '/wp-login.php', payload: 'x' })
      expect(stray.statusCode).toBeGreaterThanOrEqual(400)
    }
    await post('not json', 400)
    await post('{"no":"identity"}', 400)
    await rounds(2)
    expect(about('relay.refusals')).toHaveLength(0)
    const wrong = await relay.app.inject({
      method: 'POST',
      url: '/webhook/wrong-token-0123456789',
      payload: wgEvent({ id: 1 }),
      headers: { 'content-type': 'application/json' },
    })
    expect(wrong.statusCode).toBeGreaterThanOrEqual(400)
    await rounds(2)
    const opened = about('relay.refusals')
    expect(opened).toHaveLength(1)
    expect(opened[0]).toMatch(
      /3 webhook requests refused in 5 minutes \(not_json: 1, no_identity: 1, token: 1\)/,
    )
    await rounds(6)
    expect(about('relay.refusals').at(-1)).toContain('RESOLVED (1)')
    expect(about('relay.refusals')).toHaveLength(2)
  })

  it('session.unregistered: set-hook failing for a session opens it, the error quoted; a later success resolves it', async () => {
    const whatsgate = await startFakeWhatsGate({ apiKey: 'wg-key', sessions: [{ unique_id: 'shop-u' }] })
    try {
      whatsgate.failNext('set-hook', 1, { name: 'Error', message: 'session is not active', code: 3 })
      await start(
        {
          WHATSGATE_API_KEY: 'wg-key',
          WHATSGATE_API_URL: whatsgate.url,
          WHATSGATE_WHATSAPP_IDS: 'shop-u',
          PUBLIC_URL: 'https://relay.example.org',
          BACKFILL_ON_START: 'false',
        },
        // The registrar tries again after four checks.
        4 * CHECK_MS - 1,
      )
      const outcome = async () =>
        (await relay.app.inject({ method: 'GET', url: '/admin/status', headers: auth })).json().registration
          .sessions[0]?.outcome
      await waitUntilAsync(async () => (await outcome()) === 'failed')
      // Opened at the next check, told at the one after (past the group window).
      await rounds(2)
      const opened = about('session.unregistered shop-u')
      expect(opened).toHaveLength(1)
      expect(opened[0]).toContain('set-hook failing: ')
      expect(opened[0]).toContain('session is not active')
      await rounds(4)
      await waitUntilAsync(async () => (await outcome()) === 'registered')
      await round()
      expect(whatsgate.hooks.get('shop-u')).toMatch(/^https:\/\/relay\.example\.org\/webhook\//)
      const told = about('session.unregistered shop-u')
      expect(told).toHaveLength(2)
      expect(told[1]).toContain('RESOLVED (1)')
    } finally {
      await whatsgate.close()
    }
  })

  it('quiet hours: a channel holds its messages while they last, then sends them in order', async () => {
    const hhmm = (at: number) => new Date(at).toISOString().slice(11, 16)
    const now = clock.now()
    await start({
      ALERTS: JSON.stringify([
        {
          name: 'team',
          format: 'slack',
          url: `${slack.url}/services/T/B/X`,
          // From the minute it is now to ten minutes on, in UTC.
          quietHours: `${hhmm(now)}-${hhmm(now + 10 * 60_000)}`,
        },
      ]),
    })
    await post(sessionEvent(1, 'disconnect', 'shop-q', { reason: 'Logged out' }))
    await rounds(3)
    await post(sessionEvent(2, 'ready', 'shop-q'))
    await rounds(2)
    expect(slack.requests).toHaveLength(0)
    const held = (await relay.app.inject({ method: 'GET', url: '/admin/alerts', headers: auth })).json()
    expect(held.channels[0]).toMatchObject({ name: 'team', pending: 2 })
    await rounds(6)
    expect(texts()).toHaveLength(2)
    expect(texts()[0]).toContain('OPENED (1)')
    expect(texts()[1]).toContain('RESOLVED (1)')
  })

  it('stream.no_consumer: events waiting over a minute with no consumer open it; a consumer connecting resolves it', async () => {
    await start({
      TARGETS: JSON.stringify([{ name: 'feed', type: 'stream', token: STREAM_TOKEN, events: ['*'] }]),
    })
    const base = await relay.app.listen({ host: '127.0.0.1', port: 0 })
    await post(wgEvent({ id: 1 }))
    await rounds(3)
    expect(about('stream.no_consumer feed')).toHaveLength(1)
    const consumer = await readStream(`${base}/stream/feed`, { token: STREAM_TOKEN })
    try {
      expect(consumer.status).toBe(200)
      await consumer.waitFor(1)
      await round()
      expect(about('stream.no_consumer feed')).toHaveLength(2)
      expect(about('stream.no_consumer feed')[1]).toContain('RESOLVED (1)')
    } finally {
      consumer.close()
    }
  })
})
