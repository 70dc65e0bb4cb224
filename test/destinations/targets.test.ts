// Broker targets as an operator writes them: each kind's fields checked at start (URL scheme,
// templates, http-only fields refused), templates filled with values that cannot add structure,
// and the start-up summary without the credentials a broker URL carries.
import { describe, expect, it } from 'vitest'
import { configSummary } from '../../src/config/config.ts'
import { loadConfig } from '../../src/config/load.ts'
import { renderTemplate, safeValue } from '../../src/delivery/destinations/template.ts'
import { createTarget, TargetConfigError } from '../../src/delivery/targets.ts'
import { TEST_TOKEN, tempDirsOfFile } from '../support/relay.ts'
import { collectWarnings, loaderOf } from '../support/targets.ts'

const { warn } = collectWarnings()
const load = loaderOf(warn)
const freshDir = tempDirsOfFile('relay-destinations-')

const amqp = {
  type: 'amqp',
  name: 'rabbit',
  url: 'amqp://relay:s3cret@rabbit.internal:5672/prod',
  exchange: 'whatsgate',
  routingKey: 'whatsgate.{session}.{action}',
  events: ['*'],
}
const nats = {
  type: 'nats',
  name: 'js',
  url: 'nats://127.0.0.1:4222',
  subject: 'wg.{session}.{action}',
  events: ['*'],
}
const redis = {
  type: 'redis',
  name: 'rs',
  url: 'redis://:pw@127.0.0.1:6379/0',
  stream: 'wg:{session}',
  events: ['*'],
}
const mqtt = {
  type: 'mqtt',
  name: 'mq',
  url: 'mqtts://u:p@broker:8883',
  topic: 'wg/{session}/{action}',
  events: ['*'],
}

describe('broker targets', () => {
  it('reads each kind, with the shared fields and their defaults', () => {
    const [a, n, r, m] = load([
      amqp,
      nats,
      { ...redis, maxLen: 10_000 },
      { ...mqtt, ordering: 'chat', concurrency: 4 },
    ])
    expect(a).toMatchObject({
      type: 'amqp',
      exchange: 'whatsgate',
      routingKey: 'whatsgate.{session}.{action}',
      timeoutMs: 10_000,
      concurrency: 64,
      ordering: 'none',
      headers: {},
      secrets: [],
      media: 'none',
      format: 'webhook',
    })
    expect(n).toMatchObject({ type: 'nats', subject: 'wg.{session}.{action}' })
    expect(r).toMatchObject({ type: 'redis', stream: 'wg:{session}', maxLen: 10_000 })
    expect(m).toMatchObject({
      type: 'mqtt',
      topic: 'wg/{session}/{action}',
      ordering: 'chat',
      concurrency: 4,
    })
    // http stays the default kind.
    expect(createTarget({ name: 'h', url: 'http://a/', events: ['*'] }).type).toBe('http')
  })

  it.each([
    [
      /^TARGETS\[0\] \("rabbit"\)\.url: Invalid URL \(amqp:\/\/ or amqps:\/\/; value not shown\)$/,
      { ...amqp, url: 'http://x' },
    ],
    [/\.routingKey: unknown placeholder \{chat\}/, { ...amqp, routingKey: 'a.{chat}' }],
    [/\.routingKey: has an unmatched/, { ...amqp, routingKey: 'a.{session' }],
    [/\.exchange: an exchange name is/, { ...amqp, exchange: 'a b' }],
    [/\.headers: only http targets have headers/, { ...amqp, headers: { a: 'b' } }],
    [/\.secret: only http targets have secret/, { ...nats, secret: 'whsec_AAAA' }],
    [/\.media: only http targets have media/, { ...redis, media: 'inline' }],
    [/\.format: only http targets have format/, { ...mqtt, format: 'cloudevents' }],
    [/\.subject: a subject is tokens/, { ...nats, subject: 'wg.*.{action}' }],
    [/\.subject: a subject is tokens/, { ...nats, subject: 'wg..{action}' }],
    [/\.subject: a subject is tokens/, { ...nats, subject: 'wg.>' }],
    [/\.topic: a topic to publish to cannot hold/, { ...mqtt, topic: 'wg/+/{action}' }],
    [/\.topic: topics starting with "\$"/, { ...mqtt, topic: '$SYS/{action}' }],
    [/\.maxLen: /, { ...redis, maxLen: 0 }],
    [/\.stream: /, { ...redis, stream: '' }],
    [/\.url: Invalid URL \(redis/, { ...redis, url: 'amqp://x' }],
    [/^TARGETS\[0\] \("js"\): Unrecognized key: "exchange"/, { ...nats, exchange: 'x' }],
    [
      /^TARGETS\[0\] \("k"\)\.type: must be one of http, amqp, nats, redis, mqtt, stream$/,
      { name: 'k', type: 'kafka' },
    ],
    [/\.events: /, { ...amqp, events: [] }],
    [/\.retry\.maxAttempts: /, { ...amqp, retry: { maxAttempts: 0 } }],
  ])('reports %s', (expected, target) => {
    expect(() => load([target])).toThrow(TargetConfigError)
    expect(() => load([target])).toThrow(expected)
  })

  it('fills templates with values that cannot add a level, a token or a wildcard', () => {
    const values = { session: 'a.b/c+d#e*f>g h', action: 'message', target: 'crm.v2' }
    expect(renderTemplate('whatsgate.{session}.{action}', values)).toBe('whatsgate.a_b_c_d_e_f_g_h.message')
    expect(renderTemplate('{target}/{session}', values)).toBe('crm_v2/a_b_c_d_e_f_g_h')
    expect(safeValue('')).toBe('_')
    expect(safeValue('191b80a9238')).toBe('191b80a9238')
    expect(safeValue('сессия')).toBe('______')
  })

  it('names each target in the start-up summary without the credentials in its URL', async () => {
    const { config } = await loadConfig(
      {
        DATA_DIR: freshDir(),
        INGEST_TOKEN: TEST_TOKEN,
        TARGETS: JSON.stringify([
          amqp,
          nats,
          redis,
          mqtt,
          { name: 'h', url: 'https://user:pw@crm.example.com/in', events: ['message'] },
        ]),
      },
      () => {},
    )
    const { targets } = configSummary(config)
    expect(targets).toEqual([
      'rabbit→amqp://rabbit.internal:5672/prod exchange "whatsgate" key whatsgate.{session}.{action} [*]',
      'js→nats://127.0.0.1:4222 subject wg.{session}.{action} [*]',
      'rs→redis://127.0.0.1:6379/0 stream wg:{session} [*]',
      'mq→mqtts://broker:8883 topic wg/{session}/{action} [*]',
      'h→https://crm.example.com [message]',
    ])
    expect(JSON.stringify(configSummary(config))).not.toMatch(/s3cret|:pw@|u:p@/)
  })
})
