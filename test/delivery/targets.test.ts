import { describe, expect, it } from 'vitest'
import { targetWants } from '../../src/delivery/routing.ts'
import { createTarget, TargetConfigError } from '../../src/delivery/targets.ts'
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

  it('matches listed actions only', () => {
    const t = target({ events: ['message', 'ack'] })
    expect(targetWants(t, 'message', 's1')).toBe(true)
    expect(targetWants(t, 'ack', 's1')).toBe(true)
    expect(targetWants(t, 'ready', 's1')).toBe(false)
    expect(targetWants(t, 'media', 's1')).toBe(false)
  })

  it('matches every action, known or not, with *', () => {
    const t = target({ events: ['*'] })
    for (const action of [...KNOWN_ACTIONS, 'media']) expect(targetWants(t, action, 's1')).toBe(true)
  })

  it('filters by session when sessions are given', () => {
    const t = target({ events: ['*'], sessions: ['s1', 's2'] })
    expect(targetWants(t, 'message', 's2')).toBe(true)
    expect(targetWants(t, 'message', 's3')).toBe(false)
    expect(targetWants(target({ events: ['*'] }), 'message', 's3')).toBe(true)
  })
})
