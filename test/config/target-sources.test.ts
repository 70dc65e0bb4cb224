import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadTargets } from '../../src/config/target-sources.ts'
import { TargetConfigError } from '../../src/delivery/targets.ts'
import { collectWarnings, loaderOf, SECRET } from '../support/targets.ts'

const dir = mkdtempSync(join(tmpdir(), 'target-sources-test-'))
const { warnings, warn } = collectWarnings()
const load = loaderOf(warn)

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
        type: 'http',
        name: 'default',
        url: 'http://localhost:3000/in',
        events: ['*'],
        sessions: null,
        headers: {},
        secrets: [],
        timeoutMs: 10_000,
        retry: { maxAttempts: 15, maxAgeMs: null, initialDelayMs: 60_000, maxDelayMs: 21_600_000 },
        concurrency: 64,
        ordering: 'none',
        media: 'none',
        format: 'webhook',
      },
    ])
  })

  it('rejects a bad FORWARD_URL naming the variable', () => {
    expect(loadError({ forwardUrl: 'ftp://x' }).message).toMatch(/^FORWARD_URL\.url: Invalid URL/)
  })

  it('takes FORWARD_URL beside TARGETS or TARGETS_FILE as one more target, named default', () => {
    const both = loadTargets(
      { forwardUrl: 'http://a.example/hook', targets: JSON.stringify([crm]) },
      () => {},
    )
    expect(both.map((target) => [target.name, target.type === 'http' ? target.url : null])).toEqual([
      ['default', 'http://a.example/hook'],
      ['crm', crm.url],
    ])
    const clash = loadError({
      forwardUrl: 'http://a',
      targets: JSON.stringify([{ ...crm, name: 'default' }]),
    })
    expect(clash.message).toMatch(
      /^FORWARD_URL makes a target named "default", and TARGETS has one by that name too/,
    )
  })

  it('refuses TARGETS and TARGETS_FILE together', () => {
    expect(loadError({ targets: '[]', targetsFile: 'targets.yaml' }).message).toBe(
      'set only one of TARGETS or TARGETS_FILE (FORWARD_URL may go with either)',
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
        format: 'cloudevents',
      },
    ])
    expect(target).toEqual({
      type: 'http',
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
      format: 'cloudevents',
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
