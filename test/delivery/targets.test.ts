import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createTarget,
  loadTargets,
  type Target,
  TargetConfigError,
  targetWants,
} from '../../src/config/targets.ts'
import { KNOWN_ACTIONS } from '../../src/events/schemas.ts'

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`
const dir = mkdtempSync(join(tmpdir(), 'targets-test-'))
let warnings: string[] = []
const warn = (msg: string) => warnings.push(msg)
afterEach(() => {
  warnings = []
})

function load(targets: unknown): Target[] {
  return loadTargets({ targets: JSON.stringify(targets) }, warn)
}

function loadError(source: Parameters<typeof loadTargets>[0]): TargetConfigError {
  try {
    loadTargets(source, warn)
  } catch (error) {
    expect(error).toBeInstanceOf(TargetConfigError)
    return error as TargetConfigError
  }
  throw new Error('expected loadTargets to throw')
}

const crm = { name: 'crm', url: 'https://crm.example.com/hooks?x=1', events: ['message', 'ack'] }

describe('loadTargets sources', () => {
  it('returns no targets when no source is set, empty strings included', () => {
    expect(loadTargets({}, warn)).toEqual([])
    expect(loadTargets({ forwardUrl: '', targets: ' ', targetsFile: '' }, warn)).toEqual([])
  })

  it('makes FORWARD_URL one catch-all target named default, with every default', () => {
    expect(loadTargets({ forwardUrl: 'http://localhost:3000/in' }, warn)).toEqual([
      {
        name: 'default',
        url: 'http://localhost:3000/in',
        events: ['*'],
        sessions: null,
        headers: {},
        secrets: [],
        timeoutMs: 10_000,
        retry: { maxAttempts: 15, maxAgeMs: null, initialDelayMs: 60_000, maxDelayMs: 21_600_000 },
        concurrency: 8,
        ordering: 'none',
        media: 'none',
      },
    ])
  })

  it('rejects a bad FORWARD_URL naming the variable', () => {
    expect(loadError({ forwardUrl: 'ftp://x' }).message).toMatch(/^FORWARD_URL\.url: Invalid URL/)
  })

  it('refuses more than one source', () => {
    expect(loadError({ forwardUrl: 'http://a', targets: '[]' }).message).toBe(
      'set only one of FORWARD_URL, TARGETS or TARGETS_FILE (got FORWARD_URL, TARGETS)',
    )
  })

  it('reads TARGETS as a JSON array, normalising every field', () => {
    const [target] = load([
      {
        ...crm,
        sessions: ['79990001122'],
        headers: { Authorization: 'Bearer t' },
        secret: [SECRET, SECRET.replace('Bw', 'CA')],
        timeoutMs: 2500,
        retry: { maxAttempts: 3, maxAgeMs: 3_600_000 },
        concurrency: 2,
        ordering: 'chat',
        media: 'inline',
      },
    ])
    expect(target).toEqual({
      name: 'crm',
      url: 'https://crm.example.com/hooks?x=1',
      events: ['message', 'ack'],
      sessions: ['79990001122'],
      headers: { authorization: 'Bearer t' },
      secrets: [SECRET, SECRET.replace('Bw', 'CA')],
      timeoutMs: 2500,
      retry: { maxAttempts: 3, maxAgeMs: 3_600_000, initialDelayMs: 60_000, maxDelayMs: 21_600_000 },
      concurrency: 2,
      ordering: 'chat',
      media: 'inline',
    })
    expect(warnings).toEqual([])
  })

  it('freezes the result deeply', () => {
    const [target] = load([{ ...crm, secret: SECRET }])
    expect(Object.isFrozen(target)).toBe(true)
    expect(Object.isFrozen(target?.events)).toBe(true)
    expect(Object.isFrozen(target?.headers)).toBe(true)
    expect(Object.isFrozen(target?.retry)).toBe(true)
    expect(Object.isFrozen(target?.secrets)).toBe(true)
    expect(target?.secrets).toEqual([SECRET])
  })

  it('reports invalid JSON and a non-array clearly', () => {
    expect(loadError({ targets: '[{' }).message).toMatch(/^TARGETS is not valid JSON: /)
    expect(loadError({ targets: '{"name":"a"}' }).message).toBe('TARGETS must be an array of targets')
  })

  it('reads TARGETS_FILE as JSON or YAML', () => {
    const json = join(dir, 'targets.json')
    writeFileSync(json, JSON.stringify([crm]))
    const yaml = join(dir, 'targets.yaml')
    writeFileSync(
      yaml,
      [
        '- name: crm',
        '  url: https://crm.example.com/hooks?x=1',
        '  events: [message, ack]',
        '  concurrency: 4',
      ].join('\n'),
    )
    expect(loadTargets({ targetsFile: json }, warn)[0]?.events).toEqual(['message', 'ack'])
    const [fromYaml] = loadTargets({ targetsFile: yaml }, warn)
    expect(fromYaml?.url).toBe('https://crm.example.com/hooks?x=1')
    expect(fromYaml?.concurrency).toBe(4)
  })

  it('reports an unreadable file, a bad extension, bad YAML and bad JSON', () => {
    expect(loadError({ targetsFile: join(dir, 'missing.yml') }).message).toMatch(
      /^TARGETS_FILE cannot be read: .*ENOENT/,
    )
    expect(loadError({ targetsFile: join(dir, 'targets.txt') }).message).toMatch(
      /must end in \.json, \.yaml or \.yml/,
    )
    const badYaml = join(dir, 'bad.yml')
    writeFileSync(badYaml, '- name: a\n  url: [unclosed\n')
    expect(loadError({ targetsFile: badYaml }).message).toMatch(/bad\.yml is not valid YAML/)
    const badJson = join(dir, 'bad.json')
    writeFileSync(badJson, '[')
    expect(loadError({ targetsFile: badJson }).message).toMatch(/bad\.json is not valid JSON/)
  })

  it('names the target and field in YAML errors too', () => {
    const file = join(dir, 'wrong.yaml')
    writeFileSync(file, '- name: crm\n  url: not-a-url\n  events: ["*"]\n')
    expect(loadError({ targetsFile: file }).message).toMatch(/^TARGETS_FILE\[0\] \("crm"\)\.url: Invalid URL/)
  })
})

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
