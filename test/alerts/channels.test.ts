// Alert channels: read from ALERT_WEBHOOK_URL and ALERTS (JSON or YAML), refused with the field
// named and no value quoted; each format sent to a real local server in the shape its service
// documents (Slack `text`, Discord `content`, Telegram sendMessage `chat_id` + `text`, the json
// channel signed and verified with the standardwebhooks package); secrets never in the API.
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChannelSender } from '../../src/alerts/channel-send.ts'
import { type AlertChannel, ChannelConfigError, loadChannels } from '../../src/alerts/channels.ts'
import type { AlertMessage } from '../../src/alerts/messages.ts'
import { isQuiet, parseQuietHours } from '../../src/alerts/quiet-hours.ts'
import { loadConfig } from '../../src/config/load.ts'
import { createHttpSender } from '../../src/delivery/http-sender.ts'
import { buildTestApp, tempDirsOfFile } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'
import { mailSubject, mailText, type SmtpSink, startSmtpSink } from './smtp-sink.ts'

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`
const BOT_TOKEN = '123456789:AAE-secret_token_value'
const SMTP_PASSWORD = 'smtp-password-not-to-show'
const T0 = Date.UTC(2026, 11, 7, 6, 0, 0)

const noSecret = () => null

function message(detail = 'reason "Logged out"'): AlertMessage {
  return {
    kind: 'alert',
    at: T0,
    opened: [
      {
        condition: 'session.disconnected',
        subject: 'shop-1',
        session: 'shop-1',
        detail,
        openedAt: T0,
        resolvedAt: null,
      },
    ],
    resolved: [],
    reminded: [],
  }
}

describe('alert channels from the environment', () => {
  it('reads ALERT_WEBHOOK_URL and ALERTS as JSON or YAML, with each field checked', () => {
    const yaml = `
- name: team
  format: slack
  url: https://hooks.slack.com/services/T0/B0/XYZ
  conditions: [session.disconnected]
- name: phone
  format: telegram
  botToken: "${BOT_TOKEN}"
  chatId: -100123
  sessions: [shop-1]
`
    const channels = loadChannels({
      webhookUrl: 'https://ops.example.org/alerts',
      alerts: yaml,
      signingSecret: () => SECRET,
    })
    expect(channels.map((c) => [c.name, c.format])).toEqual([
      ['webhook', 'json'],
      ['team', 'slack'],
      ['phone', 'telegram'],
    ])
    expect(channels[0]?.secrets).toEqual([SECRET])
    expect(channels[2]).toMatchObject({
      chatId: -100123,
      apiUrl: 'https://api.telegram.org',
      sessions: ['shop-1'],
    })
    const json = JSON.stringify([
      { name: 'mail', format: 'email', host: 'smtp.example.org', from: 'a@b.c', to: ['d@e.f'] },
    ])
    expect(loadChannels({ alerts: json, signingSecret: noSecret })[0]).toMatchObject({
      port: 587,
      secure: false,
    })
  })

  it('refuses a mistake naming the channel and field, never quoting a secret', () => {
    const refused = (alerts: string) => {
      try {
        loadChannels({ alerts, signingSecret: noSecret })
      } catch (error) {
        expect(error).toBeInstanceOf(ChannelConfigError)
        return (error as Error).message
      }
      throw new Error('not refused')
    }
    expect(refused(JSON.stringify([{ name: 'x', format: 'sms', url: 'https://a' }]))).toMatch(
      /^ALERTS\[0\]\.format: must be one of json, slack, discord, telegram, email/,
    )
    const badToken = refused(
      JSON.stringify([{ name: 'tg', format: 'telegram', botToken: 'not a token', chatId: 1 }]),
    )
    expect(badToken).toMatch(/^ALERTS\[0\]\.botToken: /)
    expect(badToken).not.toContain('not a token')
    expect(
      refused(
        JSON.stringify([
          { name: 'm', format: 'email', host: 'h', from: 'a@b.c', to: 'd@e.f', password: SMTP_PASSWORD },
        ]),
      ),
    ).toBe('ALERTS[0]: set both user and password, or neither')
    expect(
      refused(JSON.stringify([{ name: 's', format: 'slack', url: 'https://a', conditions: ['nope'] }])),
    ).toMatch(/^ALERTS\[0\]\.conditions\.0: /)
    expect(refused(`- name: a\n  url: [unclosed ${SMTP_PASSWORD}`)).not.toContain(SMTP_PASSWORD)
    expect(
      refused(
        JSON.stringify([
          { name: 'a', format: 'slack', url: 'https://a' },
          { name: 'a', format: 'discord', url: 'https://b' },
        ]),
      ),
    ).toMatch(/ALERTS\[1\]\.name: "a" is the name of an earlier/)
  })
})

describe('alert formats, each to a real local server', () => {
  let sink: Sink
  let smtp: SmtpSink
  const http = createHttpSender({ userAgent: 'test' })
  const sender = createChannelSender(http)
  beforeAll(async () => {
    sink = await startSink()
    smtp = await startSmtpSink({ user: 'relay', password: SMTP_PASSWORD })
  })
  afterAll(async () => {
    await sender.close()
    await http.close()
    await sink.close()
    await smtp.close()
  })

  function channel(input: Record<string, unknown>): AlertChannel {
    const [made] = loadChannels({ alerts: JSON.stringify([input]), signingSecret: () => SECRET })
    return made as AlertChannel
  }

  function lastBody(): Record<string, unknown> {
    return JSON.parse(sink.requests.at(-1)?.body.toString('utf8') ?? '{}')
  }

  it('json: the message itself, signed per Standard Webhooks', async () => {
    // Signed at the time of sending, which the verifier checks against its own clock.
    const result = await sender.send(
      channel({ name: 'j', format: 'json', url: `${sink.url}/alerts` }),
      7,
      message(),
      Date.now(),
    )
    expect(result).toEqual({ ok: true, error: null })
    const request = sink.requests.at(-1)
    const verified = new Webhook(SECRET).verify(request?.body.toString('utf8') ?? '', {
      'webhook-id': request?.headers['webhook-id'] as string,
      'webhook-timestamp': request?.headers['webhook-timestamp'] as string,
      'webhook-signature': request?.headers['webhook-signature'] as string,
    }) as Record<string, unknown>
    expect(request?.headers['webhook-id']).toBe('alert-7')
    expect(verified).toMatchObject({
      type: 'whatsgate-relay.alert',
      kind: 'alert',
      opened: [{ subject: 'shop-1' }],
    })
  })

  it('slack (and Mattermost): an incoming webhook with text, and blocks, < > & escaped', async () => {
    await sender.send(
      channel({ name: 's', format: 'slack', url: `${sink.url}/services/T/B/X` }),
      1,
      message('reason "<b>&"'),
      T0,
    )
    const body = lastBody() as {
      text: string
      blocks: { type: string; text: { type: string; text: string } }[]
    }
    expect(sink.requests.at(-1)?.headers['content-type']).toBe('application/json')
    expect(body.text).toContain('session.disconnected shop-1')
    expect(body.text).toContain('reason "&lt;b&gt;&amp;"')
    expect(body.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } })
  })

  it('discord: a webhook with content within 2000 characters, mentions off', async () => {
    await sender.send(
      channel({ name: 'd', format: 'discord', url: `${sink.url}/api/webhooks/1/x` }),
      1,
      message(`@everyone ${'x'.repeat(3000)}`),
      T0,
    )
    const body = lastBody() as { content: string; allowed_mentions: { parse: string[] } }
    expect(body.content.length).toBeLessThanOrEqual(2000)
    expect(body.content).toContain('session.disconnected shop-1')
    expect(body.allowed_mentions).toEqual({ parse: [] })
  })

  it('telegram: sendMessage with chat_id and text at bot<token>; the token never in an error', async () => {
    const tg = channel({
      name: 't',
      format: 'telegram',
      botToken: BOT_TOKEN,
      chatId: '-100123',
      apiUrl: sink.url,
    })
    await sender.send(tg, 1, message(), T0)
    expect(sink.requests.at(-1)?.path).toBe(`/bot${BOT_TOKEN}/sendMessage`)
    const body = lastBody() as { chat_id: string; text: string }
    expect(body.chat_id).toBe('-100123')
    expect(body.text).toContain('session.disconnected shop-1')
    sink.respondWith(() => ({ status: 401, body: `{"ok":false,"description":"Unauthorized ${BOT_TOKEN}"}` }))
    try {
      const failed = await sender.send(tg, 1, message(), T0)
      expect(failed.ok).toBe(false)
      expect(failed.error).toBe('HTTP 401')
    } finally {
      sink.respondWith(() => ({ status: 200 }))
    }
    const down = await sender.send({ ...tg, apiUrl: 'http://127.0.0.1:9' } as AlertChannel, 1, message(), T0)
    expect(down.ok).toBe(false)
    expect(down.error).not.toContain(BOT_TOKEN)
  })

  it('email: SMTP with sign-in, a subject naming the alert and the text as body; a refused password is not quoted', async () => {
    const mail = channel({
      name: 'm',
      format: 'email',
      host: '127.0.0.1',
      port: smtp.port,
      user: 'relay',
      password: SMTP_PASSWORD,
      from: 'relay@example.org',
      to: ['ops@example.org', 'oncall@example.org'],
    })
    expect(await sender.send(mail, 1, message(), T0)).toEqual({ ok: true, error: null })
    const received = smtp.mails.at(-1)
    expect(received).toMatchObject({
      user: 'relay',
      from: 'relay@example.org',
      to: ['ops@example.org', 'oncall@example.org'],
    })
    expect(mailSubject(received as never)).toContain('session.disconnected shop-1')
    expect(mailText(received as never)).toContain('reason "Logged out"')
    const wrong = await sender.send(
      { ...mail, name: 'm2', password: `${SMTP_PASSWORD}-wrong` } as AlertChannel,
      1,
      message(),
      T0,
    )
    expect(wrong.ok).toBe(false)
    expect(wrong.error).toMatch(/^smtp: /)
    expect(wrong.error).not.toContain(SMTP_PASSWORD)
  })
})

describe('alert channels in the admin API', () => {
  it('lists channels without their secrets; a viewer cannot send a test', async () => {
    const relay = await buildTestApp({
      ADMIN_TOKEN: 'admin-token-0123456789',
      ADMIN_VIEWER_TOKEN: 'viewer-token-0123456789',
      ALERTS: JSON.stringify([
        { name: 'team', format: 'slack', url: 'https://hooks.slack.com/services/T0/B0/SLACKSECRET' },
        { name: 'phone', format: 'telegram', botToken: BOT_TOKEN, chatId: 42 },
        {
          name: 'mail',
          format: 'email',
          host: 'smtp.example.org',
          user: 'relay',
          password: SMTP_PASSWORD,
          from: 'a@b.c',
          to: 'd@e.f',
        },
      ]),
    })
    try {
      await relay.app.ready()
      const answer = await relay.app.inject({
        method: 'GET',
        url: '/admin/alerts',
        headers: { authorization: 'Bearer viewer-token-0123456789' },
      })
      expect(answer.statusCode).toBe(200)
      const text = answer.body
      for (const secret of [BOT_TOKEN, SMTP_PASSWORD, 'SLACKSECRET']) expect(text).not.toContain(secret)
      expect(answer.json().channels.map((c: { destination: string }) => c.destination)).toEqual([
        'https://hooks.slack.com',
        'telegram chat 42',
        'smtp smtp.example.org:587 to d@e.f',
      ])
      const test = await relay.app.inject({
        method: 'POST',
        url: '/admin/alerts/test',
        headers: { authorization: 'Bearer viewer-token-0123456789' },
      })
      expect(test.statusCode).toBe(403)
    } finally {
      await relay.close()
    }
  })
})

describe('quiet hours', () => {
  it('hold within the span, in the channel time zone, across midnight too', () => {
    const at = (iso: string) => Date.parse(iso)
    const night = parseQuietHours('22:00-07:00', 'Europe/Berlin')
    // Berlin is UTC+1 in December.
    expect(isQuiet(night, at('2026-12-07T20:59:00Z'))).toBe(false)
    expect(isQuiet(night, at('2026-12-07T21:00:00Z'))).toBe(true)
    expect(isQuiet(night, at('2026-12-08T05:59:00Z'))).toBe(true)
    expect(isQuiet(night, at('2026-12-08T06:00:00Z'))).toBe(false)
    const lunch = parseQuietHours('12:00-13:00')
    expect(isQuiet(lunch, at('2026-12-07T12:30:00Z'))).toBe(true)
    expect(isQuiet(lunch, at('2026-12-07T13:00:00Z'))).toBe(false)
    expect(() =>
      loadChannels({
        alerts: JSON.stringify([{ name: 'a', format: 'slack', url: 'https://a', quietHours: '22-7' }]),
        signingSecret: noSecret,
      }),
    ).toThrow(/^ALERTS\[0\]\.quietHours: must be HH:MM-HH:MM/)
    expect(() =>
      loadChannels({
        alerts: JSON.stringify([
          {
            name: 'a',
            format: 'slack',
            url: 'https://a',
            quietHours: '22:00-07:00',
            timeZone: 'Mars/Olympus',
          },
        ]),
        signingSecret: noSecret,
      }),
    ).toThrow(/^ALERTS\[0\]\.timeZone: must be an IANA time zone/)
  })
})

describe('alert settings', () => {
  const freshDir = tempDirsOfFile('alerts-config-')
  const base = (extra: Record<string, string>) => ({
    DATA_DIR: freshDir(),
    INGEST_TOKEN: 'test-token-0123456789',
    TARGETS: JSON.stringify([
      { name: 'bot', url: 'https://bot.example.org', events: ['*'] },
      { name: 'crm', url: 'https://crm.example.org', events: ['*'] },
      { name: 'feed', type: 'stream', token: 'stream-token-0123456789', events: ['*'] },
    ]),
    ...extra,
  })

  it('ALERT_BREAKER: per target, * for every pushed one, a typo named', async () => {
    const { config } = await loadConfig(base({ ALERT_BREAKER: '*=30, crm=5' }), () => {})
    expect([...config.alerts.breaker.pauseAfterMs]).toEqual([
      ['crm', 300_000],
      ['bot', 1_800_000],
    ])
    expect(config.alerts.breaker.probeMs).toBe(120_000)
    await expect(loadConfig(base({ ALERT_BREAKER: 'bto=30' }), () => {})).rejects.toThrow(
      'ALERT_BREAKER: no pushed target is named "bto"',
    )
    await expect(loadConfig(base({ ALERT_BREAKER: 'feed=30' }), () => {})).rejects.toThrow(
      'ALERT_BREAKER: no pushed target is named "feed"',
    )
    await expect(loadConfig(base({ ALERT_BREAKER: 'bot' }), () => {})).rejects.toThrow(/is not name=minutes/)
  })

  it('ALERT_WEBHOOK_URL is signed with the key kept for the http targets; a bad ALERTS stops the start', async () => {
    const { config } = await loadConfig(
      base({ ALERT_WEBHOOK_URL: 'https://ops.example.org/alerts' }),
      () => {},
    )
    expect(config.alerts.channels[0]?.secrets).toEqual([config.signingSecret?.value])
    await expect(
      loadConfig(base({ ALERTS: JSON.stringify([{ name: 'x', format: 'telegram', chatId: 1 }]) }), () => {}),
    ).rejects.toThrow(/^ALERTS\[0\]\.botToken: /)
  })
})
