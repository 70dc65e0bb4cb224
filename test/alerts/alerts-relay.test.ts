// Alerts end to end in one relay, on a clock the test moves: events posted to the real webhook
// endpoint, a Slack-shaped local HTTP sink and a local SMTP server as channels. Each round of the
// alerts loop is awaited (its next timer is set only once a round has finished), so "no second
// message" is checked after rounds that would have sent one, not after a sleep.
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { wgEvent } from '../support/events.ts'
import { createManualClock, type ManualClock, runRound } from '../support/manual-clock.ts'
import { buildTestApp } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'
import { mailSubject, mailText, type SmtpSink, startSmtpSink } from './smtp-sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
/** The alerts loop's interval here: no other timer of the relay waits this long. */
const CHECK_MS = 7_777

function disconnect(id: number, whatsappId: string, reason = 'Client disconnected') {
  return JSON.stringify({
    id,
    whatsapp_id: whatsappId,
    event_action: 'disconnect',
    event_date: '2026-12-07 06:00:00',
    status_code: null,
    event_data: { reason },
  })
}

function ready(id: number, whatsappId: string) {
  return JSON.stringify({
    id,
    whatsapp_id: whatsappId,
    event_action: 'ready',
    event_date: '2026-12-07 06:00:01',
    status_code: null,
    event_data: { pushname: 'Shop', number: '79990000000', id: '79990000000@c.us' },
  })
}

function slackText(sink: Sink, index: number): string {
  const body = JSON.parse(sink.requests[index]?.body.toString('utf8') ?? '{}') as { text?: string }
  return body.text ?? ''
}

describe('alerts in a relay', () => {
  let slack: Sink
  let smtp: SmtpSink
  let clock: ManualClock
  let relay: Awaited<ReturnType<typeof buildTestApp>>

  beforeEach(async () => {
    slack = await startSink()
    smtp = await startSmtpSink()
    clock = createManualClock()
  })
  afterEach(async () => {
    await relay?.close()
    await slack.close()
    await smtp.close()
  })

  async function start(env: Record<string, string> = {}) {
    relay = await buildTestApp(
      {
        ADMIN_TOKEN,
        ALERTS: JSON.stringify([
          { name: 'team', format: 'slack', url: `${slack.url}/services/T000/B000/XXXX` },
          {
            name: 'mail',
            format: 'email',
            host: '127.0.0.1',
            port: smtp.port,
            from: 'relay@example.org',
            to: 'ops@example.org',
          },
        ]),
        ...env,
      },
      undefined,
      { clock, delays: { alertCheckMs: CHECK_MS } },
    )
    await relay.app.ready()
  }

  /** Moves time on by one check and waits until that round of the alerts loop has finished. */
  const round = () => runRound(clock, CHECK_MS)

  async function post(body: string) {
    const answer = await relay.post(body)
    expect(answer.statusCode).toBe(200)
  }

  it('a disconnect opens one alert on Slack and by mail, quoting the reason; ready resolves it, once', async () => {
    await start()
    await post(disconnect(1, 'shop-1', 'Logged out from phone'))
    await round()
    // Open, but within the group window: not told yet.
    const during = await relay.app.inject({ method: 'GET', url: '/admin/alerts', headers: auth })
    expect(during.json().sessions).toMatchObject([{ whatsappId: 'shop-1', state: 'disconnected' }])
    expect(during.json().open).toMatchObject([
      {
        condition: 'session.disconnected',
        subject: 'shop-1',
        detail: 'reason "Logged out from phone"',
        told: false,
      },
    ])
    expect(slack.requests).toHaveLength(0)
    await round()
    expect(slack.requests).toHaveLength(1)
    expect(smtp.mails).toHaveLength(1)
    const text = slackText(slack, 0)
    expect(text).toContain('OPENED (1)')
    expect(text).toContain('session.disconnected shop-1')
    expect(text).toContain('reason "Logged out from phone"')
    expect(mailSubject(smtp.mails[0] as never)).toContain('session.disconnected shop-1')
    expect(mailText(smtp.mails[0] as never)).toContain('reason "Logged out from phone"')
    expect(smtp.mails[0]?.to).toEqual(['ops@example.org'])

    await round()
    await round()
    expect(slack.requests).toHaveLength(1)
    expect(smtp.mails).toHaveLength(1)

    await post(ready(2, 'shop-1'))
    await round()
    expect(slack.requests).toHaveLength(2)
    expect(smtp.mails).toHaveLength(2)
    expect(slackText(slack, 1)).toContain('RESOLVED (1)')
    expect(mailText(smtp.mails[1] as never)).toContain('RESOLVED (1)')
    await round()
    await round()
    expect(slack.requests).toHaveLength(2)
    expect(smtp.mails).toHaveLength(2)
    const after = (await relay.app.inject({ method: 'GET', url: '/admin/alerts', headers: auth })).json()
    expect(after.open).toEqual([])
    expect(after.sessions).toEqual([{ whatsappId: 'shop-1', state: 'ok', lastEventAt: expect.any(Number) }])
    expect(after.recent).toMatchObject([{ condition: 'session.disconnected', subject: 'shop-1', told: true }])
    expect(after.channels.map((c: { name: string; pending: number }) => [c.name, c.pending])).toEqual([
      ['team', 0],
      ['mail', 0],
    ])
  })

  it('ten sessions disconnecting within a second give one message listing ten', async () => {
    await start()
    for (let i = 0; i < 10; i++) {
      await post(disconnect(100 + i, `shop-${i}`))
      clock.advance(100)
    }
    await round()
    await round()
    await round()
    expect(slack.requests).toHaveLength(1)
    expect(smtp.mails).toHaveLength(1)
    const text = slackText(slack, 0)
    expect(text).toContain('OPENED (10)')
    for (let i = 0; i < 10; i++) expect(text).toContain(`session.disconnected shop-${i} `)
  })

  it('a target answering 500 for longer than the setting gives one alert, and one when it answers again', async () => {
    const target = await startSink({ respondWith: () => ({ status: 500 }) })
    try {
      await start({
        ALERT_TARGET_FAILING_MINUTES: '1',
        TARGETS: JSON.stringify([
          {
            name: 'bot',
            url: `${target.url}/hook`,
            events: ['*'],
            retry: { initialDelayMs: 1000, maxDelayMs: 1000, maxAttempts: 1000 },
          },
        ]),
      })
      await post(wgEvent({ id: 1 }))
      // Five failures make it failing (about one attempt a round here), then a minute of failing,
      // then the group window.
      for (let i = 0; i < 22; i++) await round()
      expect(target.requests.length).toBeGreaterThan(5)
      const failing = slack.requests
        .map((_, i) => slackText(slack, i))
        .filter((t) => t.includes('target.failing bot'))
      expect(failing).toHaveLength(1)
      expect(failing[0]).toContain('OPENED (1)')

      target.respondWith(() => ({ status: 200 }))
      for (let i = 0; i < 3; i++) await round()
      const texts = slack.requests.map((_, i) => slackText(slack, i))
      expect(texts.filter((t) => t.includes('target.failing bot'))).toHaveLength(2)
      expect(texts.at(-1)).toContain('RESOLVED (1)')
    } finally {
      await target.close()
    }
  })

  it('a channel that is down gets its alerts later, in order, and the other channels are told', async () => {
    slack.respondWith(() => ({ status: 503 }))
    await start()
    await post(disconnect(1, 'shop-a'))
    await round()
    await round()
    await post(disconnect(2, 'shop-b'))
    for (let i = 0; i < 6; i++) await round()
    expect(slack.requests.length).toBeGreaterThanOrEqual(3)
    // Only the oldest was tried: one at a time, in order.
    expect(slack.requests.every((_, i) => slackText(slack, i).includes('shop-a'))).toBe(true)
    const mails = smtp.mails.map(mailText)
    expect(mails.some((m) => m.includes('alert.channel_failing team'))).toBe(true)
    const failedSoFar = slack.requests.length

    slack.respondWith(() => ({ status: 200 }))
    for (let i = 0; i < 12; i++) await round()
    const delivered = slack.requests.slice(failedSoFar).map((_, i) => slackText(slack, failedSoFar + i))
    expect(delivered.length).toBe(2)
    expect(delivered[0]).toContain('shop-a')
    expect(delivered[1]).toContain('shop-b')
    // The channel itself is never told of its own failure; the mail channel hears it resolve.
    expect(delivered.join('\n')).not.toContain('alert.channel_failing')
    expect(
      smtp.mails
        .map(mailText)
        .some((m) => m.includes('RESOLVED') && m.includes('alert.channel_failing team')),
    ).toBe(true)
  })

  it('reminds while a condition stays open, at the interval and no more, and counts it in the metrics', async () => {
    await start({ ALERT_REMINDER_MINUTES: '1' })
    await post(disconnect(1, 'shop-r'))
    await round()
    await round()
    expect(slack.requests).toHaveLength(1)
    const metrics = await relay.app.inject({ method: 'GET', url: '/metrics', headers: auth })
    expect(metrics.body).toContain('whatsgate_relay_alerts_open{condition="session.disconnected"} 1')
    expect(metrics.body).toContain('whatsgate_relay_alerts_open{condition="target.failing"} 0')
    // 16 rounds of 7.8 s after it was told: a reminder after 8 rounds (past a minute), another after 16.
    for (let i = 0; i < 16; i++) await round()
    const texts = slack.requests.map((_, i) => slackText(slack, i))
    expect(texts.filter((t) => t.includes('STILL OPEN (1)'))).toHaveLength(2)
    expect(texts).toHaveLength(3)
    expect(smtp.mails).toHaveLength(3)
  })

  it('new dead letters open target.dead_letters; replayed and delivered, it resolves', async () => {
    const target = await startSink({ respondWith: () => ({ status: 410 }) })
    try {
      await start({ TARGETS: JSON.stringify([{ name: 'bot', url: `${target.url}/hook`, events: ['*'] }]) })
      // The first check counts the dead letters there are: none are new.
      await round()
      await post(wgEvent({ id: 1 }))
      await target.waitFor(1)
      for (let i = 0; i < 6; i++) await round()
      const opened = slack.requests.map((_, i) => slackText(slack, i))
      expect(opened).toHaveLength(1)
      expect(opened[0]).toContain('target.dead_letters bot')
      expect(opened[0]).toContain('1 new dead letter, 1 in all')

      target.respondWith(() => ({ status: 200 }))
      const replay = await relay.app.inject({
        method: 'POST',
        url: '/admin/replay',
        headers: auth,
        payload: { target: 'bot', status: 'dead' },
      })
      expect(replay.statusCode).toBe(200)
      await target.waitFor(2)
      for (let i = 0; i < 6; i++) await round()
      const texts = slack.requests.map((_, i) => slackText(slack, i))
      expect(texts).toHaveLength(2)
      expect(texts[1]).toContain('RESOLVED (1)')
      expect(texts[1]).toContain('target.dead_letters bot')
    } finally {
      await target.close()
    }
  })

  it('the store refusing writes is told at once from memory, and its resolution once it takes writes again', async () => {
    await start()
    await round()
    // Another connection holds the write lock: every write of the relay times out.
    const other = new DatabaseSync(join(relay.dataDir, 'relay.sqlite'))
    other.exec('BEGIN EXCLUSIVE')
    try {
      await round()
      expect(slack.requests).toHaveLength(1)
      expect(slackText(slack, 0)).toContain('OPENED (1)')
      expect(slackText(slack, 0)).toContain('relay.store (store refusing writes)')
      expect(smtp.mails).toHaveLength(1)
      await round()
      await round()
      expect(slack.requests).toHaveLength(1)
    } finally {
      other.exec('COMMIT')
      other.close()
    }
    await round()
    await round()
    expect(slack.requests).toHaveLength(2)
    expect(slackText(slack, 1)).toContain('RESOLVED (1)')
    expect(slackText(slack, 1)).not.toContain('OPENED')
    expect(smtp.mails).toHaveLength(2)
  })

  it('the circuit breaker pauses a target failing past its time, probes it, and resumes it when it answers, losing nothing', async () => {
    const target = await startSink({ respondWith: () => ({ status: 500 }) })
    try {
      await start({
        ALERT_TARGET_FAILING_MINUTES: '1',
        ALERT_BREAKER: 'bot=1',
        ALERT_BREAKER_PROBE_MINUTES: '1',
        TARGETS: JSON.stringify([
          {
            name: 'bot',
            url: `${target.url}/hook`,
            events: ['*'],
            retry: { initialDelayMs: 1000, maxDelayMs: 1000, maxAttempts: 1000 },
          },
        ]),
      })
      for (let id = 1; id <= 3; id++) await post(wgEvent({ id }))
      const stateOf = async () =>
        (await relay.app.inject({ method: 'GET', url: '/admin/targets', headers: auth })).json().targets[0]
          .state as string
      for (let i = 0; i < 40 && (await stateOf()) !== 'paused'; i++) await round()
      expect(await stateOf()).toBe('paused')
      // Told past the group window.
      await round()
      await round()
      const breaker = () =>
        slack.requests.map((_, i) => slackText(slack, i)).filter((t) => t.includes('target.breaker bot'))
      expect(breaker()).toHaveLength(1)
      expect(breaker()[0]).toContain('paused after failing for')
      // Paused: nothing is sent until the probe, a minute after the pause.
      const sent = target.requests.length
      for (let i = 0; i < 5; i++) await round()
      expect(target.requests.length).toBe(sent)
      // The probe: it fails and the target is paused again at that answer (a second request may
      // already be on its way), and the breaker is told no more.
      for (let i = 0; i < 4 && target.requests.length === sent; i++) await round()
      await target.waitFor(sent + 1)
      await round()
      expect(await stateOf()).toBe('paused')
      const probed = target.requests.length - sent
      expect(probed).toBeGreaterThanOrEqual(1)
      expect(probed).toBeLessThanOrEqual(2)
      await round()
      expect(target.requests.length).toBe(sent + probed)
      expect(breaker()).toHaveLength(1)

      target.respondWith(() => ({ status: 200 }))
      for (let i = 0; i < 12 && breaker().length < 2; i++) await round()
      expect(breaker()).toHaveLength(2)
      // Resolved together with target.failing, in one message.
      expect(breaker()[1]).toContain('RESOLVED (2)')
      expect(breaker()[1]).toContain('target.failing bot')
      expect(await stateOf()).not.toBe('paused')
      const delivered = async () =>
        (
          await relay.app.inject({
            method: 'GET',
            url: '/admin/deliveries?status=delivered&target=bot',
            headers: auth,
          })
        ).json().deliveries.length as number
      for (let i = 0; i < 10 && (await delivered()) < 3; i++) await round()
      expect(await delivered()).toBe(3)
    } finally {
      await target.close()
    }
  })

  it('POST /admin/alerts/test sends a test message to every channel', async () => {
    await start()
    const answer = await relay.app.inject({ method: 'POST', url: '/admin/alerts/test', headers: auth })
    expect(answer.json()).toEqual({ queued: 2 })
    await round()
    expect(slack.requests).toHaveLength(1)
    expect(slackText(slack, 0)).toContain('test alert')
    expect(smtp.mails).toHaveLength(1)
    expect(mailSubject(smtp.mails[0] as never)).toContain('test alert')
  })
})
