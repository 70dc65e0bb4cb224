import { describe, expect, it } from 'vitest'
import { targetWants } from '../../src/delivery/routing.ts'
import { createTarget, TargetConfigError } from '../../src/delivery/targets.ts'
import type { IncomingEvent } from '../../src/events/index.ts'
import { KNOWN_ACTIONS } from '../../src/events/schemas.ts'
import { collectWarnings, loaderOf, SECRET } from '../support/targets.ts'

const { warnings, warn } = collectWarnings()
const load = loaderOf(warn)

const crm = { name: 'crm', url: 'https://crm.example.com/hooks?x=1', events: ['message', 'ack'] }

describe('target validation', () => {
  const message = (targets: unknown) => {
    try {
      load(targets)
    } catch (error) {
      expect(error).toBeInstanceOf(TargetConfigError)
      return (error as Error).message
    }
    throw new Error('expected an error')
  }

  it.each([
    [/^TARGETS\[1\] \("b"\)\.url: Invalid URL/, [crm, { ...crm, name: 'b', url: 'nope' }]],
    [/^TARGETS\[0\] \("crm"\)\.url: Invalid URL/, [{ ...crm, url: 'file:///etc/passwd' }]],
    [/^TARGETS\[0\]\.name: /, [{ url: 'http://a', events: ['*'] }]],
    [/^TARGETS\[0\] \(""\)\.name: /, [{ ...crm, name: '' }]],
    [/\.name: must be 1-64 characters/, [{ ...crm, name: 'a b' }]],
    [/^TARGETS\[0\] \("crm"\)\.events: /, [{ ...crm, events: [] }]],
    [/^TARGETS\[0\] \("crm"\)\.events: /, [{ name: 'crm', url: 'http://a' }]],
    [/\.sessions\.0: /, [{ ...crm, sessions: [1] }]],
    [/\.headers\.x-a: /, [{ ...crm, headers: { 'x-a': 1 } }]],
    [/\.headers\.Content-Type: is set by the relay/, [{ ...crm, headers: { 'Content-Type': 'text/plain' } }]],
    [/\.headers\.x-a: value must be printable ASCII/, [{ ...crm, headers: { 'x-a': 'b\r\nx-evil: 1' } }]],
    [/\.headers\.bad header: not a valid header name/, [{ ...crm, headers: { 'bad header': 'x' } }]],
    [/\.secret: webhook secret must start with "whsec_"/, [{ ...crm, secret: 'plain-secret' }]],
    [/\.secret: /, [{ ...crm, secret: [] }]],
    [/\.secret\.1: webhook secret must be "whsec_" followed by/, [{ ...crm, secret: [SECRET, 'whsec_***'] }]],
    [/\.timeoutMs: /, [{ ...crm, timeoutMs: 0 }]],
    [/\.concurrency: /, [{ ...crm, concurrency: 257 }]],
    [/\.concurrency: /, [{ ...crm, concurrency: 1.5 }]],
    [/\.ordering: /, [{ ...crm, ordering: 'session' }]],
    [/\.media: /, [{ ...crm, media: 'url' }]],
    [/\.retry\.maxAttempts: /, [{ ...crm, retry: { maxAttempts: 0 } }]],
    [/\.retry: Unrecognized key: "tries"/, [{ ...crm, retry: { tries: 3 } }]],
    [
      /\.retry\.maxDelayMs: must be at least/,
      [{ ...crm, retry: { initialDelayMs: 10_000, maxDelayMs: 1000 } }],
    ],
    [/^TARGETS\[0\] \("crm"\): Unrecognized key: "secrets"/, [{ ...crm, secrets: [SECRET] }]],
    [/^TARGETS\[0\]: /, ['http://a']],
    [
      /^TARGETS\[1\] \("crm"\)\.name: "crm" is the name of an earlier target$/,
      [crm, { ...crm, url: 'http://b' }],
    ],
    [/\.sessions: list at least one session/, [{ ...crm, sessions: [] }]],
  ])('reports %s', (expected, targets) => {
    expect(message(targets)).toMatch(expected)
  })

  it('limits the retries by age alone when only maxAgeMs is given', () => {
    const [byAge, byBoth] = load([
      { ...crm, retry: { maxAgeMs: 86_400_000 } },
      { ...crm, name: 'both', retry: { maxAgeMs: 86_400_000, maxAttempts: 5 } },
    ])
    expect(byAge?.retry).toMatchObject({ maxAgeMs: 86_400_000, maxAttempts: 1000 })
    expect(byBoth?.retry).toMatchObject({ maxAgeMs: 86_400_000, maxAttempts: 5 })
  })

  it('warns about, but keeps, an event name WhatsGate does not document', () => {
    const [target] = load([{ ...crm, events: ['message', 'media', '*'] }])
    expect(target?.events).toEqual(['message', 'media', '*'])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(
      /^TARGETS\[0\] \("crm"\)\.events: "media" is not a documented WhatsGate action/,
    )
  })

  it('knows the documented actions', () => {
    load([{ ...crm, events: [...KNOWN_ACTIONS] }])
    expect(warnings).toEqual([])
  })

  it('warns about a secret shorter than the spec asks for', () => {
    load([{ ...crm, secret: 'whsec_AAECAw==' }])
    expect(warnings).toEqual([
      'TARGETS[0] ("crm").secret: shorter than the 24 bytes Standard Webhooks asks for',
    ])
  })
})

describe('targetWants', () => {
  const target = (input: object) => createTarget({ ...crm, ...input })
  const event = (action: string, whatsappId: string, from = '79991112233@c.us'): IncomingEvent => ({
    id: 1,
    whatsapp_id: whatsappId,
    event_action: action,
    event_data: { message: { id: `false_${from}_3EB0`, from } },
  })

  it('matches listed actions only', () => {
    const t = target({ events: ['message', 'ack'] })
    expect(targetWants(t, event('message', 's1'))).toBe(true)
    expect(targetWants(t, event('ack', 's1'))).toBe(true)
    expect(targetWants(t, event('ready', 's1'))).toBe(false)
    expect(targetWants(t, event('media', 's1'))).toBe(false)
  })

  it('matches every action, known or not, with *', () => {
    const t = target({ events: ['*'] })
    for (const action of [...KNOWN_ACTIONS, 'media']) expect(targetWants(t, event(action, 's1'))).toBe(true)
  })

  it('filters by session when sessions are given', () => {
    const t = target({ events: ['*'], sessions: ['s1', 's2'] })
    expect(targetWants(t, event('message', 's2'))).toBe(true)
    expect(targetWants(t, event('message', 's3'))).toBe(false)
    expect(targetWants(target({ events: ['*'] }), event('message', 's3'))).toBe(true)
  })

  it('applies the content filter after events and sessions', () => {
    const t = target({
      events: ['message'],
      sessions: ['s1'],
      filter: { 'event_data.message.from': { $endsWith: '@g.us' } },
    })
    expect(targetWants(t, event('message', 's1', '120363025246125888@g.us'))).toBe(true)
    expect(targetWants(t, event('message', 's1'))).toBe(false)
    // Events and sessions still decide first: a passing filter does not widen them.
    expect(targetWants(t, event('ack', 's1', '120363025246125888@g.us'))).toBe(false)
    expect(targetWants(t, event('message', 's2', '120363025246125888@g.us'))).toBe(false)
  })

  it('never runs a filter for an event the target does not take', () => {
    let runs = 0
    const miss = () => (++runs > 0 ? null : 'never')
    const t = { ...target({ events: ['message'] }), filter: Object.assign(() => miss() === null, { miss }) }
    expect(targetWants(t, event('ready', 's1'))).toBe(false)
    expect(runs).toBe(0)
    expect(targetWants(t, event('message', 's1'))).toBe(true)
    expect(runs).toBe(1)
  })
})

describe('content filters on targets', () => {
  const filtered = (filter: unknown) => ({ ...crm, name: 'bot', filter })

  it.each([
    [
      'TARGETS[0] ("bot").filter.event_data.message.body.$regex: unknown operator',
      { 'event_data.message.body': { $regex: '^hi' } },
    ],
    [
      'TARGETS[0] ("bot").filter.event_data.message.timestamp.$gt: unknown operator',
      {
        'event_data.message.timestamp': { $gt: 1 },
      },
    ],
    ['TARGETS[0] ("bot").filter.$nor: unknown operator', { $nor: [{ a: 1 }] }],
    [
      'TARGETS[0] ("bot").filter.event_data.message.from.$in.1: expected a string, number, boolean or null',
      { 'event_data.message.from': { $in: ['a', { b: 1 }] } },
    ],
    [
      'TARGETS[0] ("bot").filter.$or.1.event_data.message.type.$not.$exists: expected true or false',
      { $or: [{ whatsapp_id: 's1' }, { 'event_data.message.type': { $not: { $exists: 'yes' } } }] },
    ],
    ['TARGETS[0] ("bot").filter: expected an object of dotted paths', ['event_data.message.from']],
  ])('stops start-up with %s', (expected, filter) => {
    expect(() => load([filtered(filter)])).toThrow(new TargetConfigError(expected))
  })

  it('takes a filter on every kind of target', () => {
    const filter = { 'event_data.message.fromMe': false }
    const targets = load([
      filtered(filter),
      { name: 'q', type: 'amqp', url: 'amqp://mq', exchange: 'wg', routingKey: 'k', events: ['*'], filter },
      { name: 'n', type: 'nats', url: 'nats://nats:4222', subject: 'wg', events: ['*'], filter },
      { name: 'r', type: 'redis', url: 'redis://redis:6379', stream: 'wg', events: ['*'], filter },
      { name: 'm', type: 'mqtt', url: 'mqtt://broker', topic: 'wg', events: ['*'], filter },
    ])
    const mine = {
      id: 1,
      whatsapp_id: 's',
      event_action: 'message',
      event_data: { message: { fromMe: true } },
    }
    const theirs = { ...mine, event_data: { message: { fromMe: false } } }
    for (const target of targets) {
      expect(target.filter?.(theirs), target.name).toBe(true)
      expect(target.filter?.(mine), target.name).toBe(false)
    }
    expect(warnings).toEqual([])
  })

  it('leaves a target without a filter unfiltered', () => {
    const [target] = load([crm])
    expect(target?.filter).toBeUndefined()
  })
})
