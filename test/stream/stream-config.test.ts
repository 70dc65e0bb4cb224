// Stream targets as an operator writes them: a token of their own, the routing fields and no
// push settings; the start-up summary names where consumers read, never the token; and the
// dispatcher has nothing to push to them.
import { describe, expect, it } from 'vitest'
import { configSummary } from '../../src/config/config.ts'
import { loadConfig } from '../../src/config/load.ts'
import { TargetConfigError } from '../../src/delivery/targets.ts'
import { buildTestApp, TEST_TOKEN, tempDirsOfFile } from '../support/relay.ts'
import { collectWarnings, loaderOf } from '../support/targets.ts'

const { warn } = collectWarnings()
const load = loaderOf(warn)
const freshDir = tempDirsOfFile('relay-stream-config-')
const stream = { type: 'stream', name: 'bot', token: 'stream-token-0123456789', events: ['message'] }

describe('stream targets in the configuration', () => {
  it('reads one with its token, its routing, and the path its consumers read', () => {
    const [target] = load([{ ...stream, sessions: ['s1'], filter: { 'event_data.message.type': 'chat' } }])
    expect(target).toMatchObject({
      type: 'stream',
      name: 'bot',
      url: '/stream/bot',
      token: 'stream-token-0123456789',
      events: ['message'],
      sessions: ['s1'],
    })
    expect(target?.filter).toBeTypeOf('function')
  })

  it.each([
    [/^TARGETS\[0\] \("bot"\)\.token: must be at least 16 characters$/, { ...stream, token: 'short' }],
    [
      /\.token: must be visible ASCII characters, no spaces$/,
      { ...stream, token: 'a token with spaces 123' },
    ],
    [/\.token: /, { type: 'stream', name: 'bot', events: ['*'] }],
    [
      /\.concurrency: a stream target has no concurrency \(its consumers pull\)$/,
      { ...stream, concurrency: 4 },
    ],
    [/\.retry: a stream target has no retry/, { ...stream, retry: { maxAttempts: 3 } }],
    [/\.ordering: a stream target has no ordering/, { ...stream, ordering: 'chat' }],
    [/\.secret: only http targets have secret/, { ...stream, secret: 'whsec_AAAA' }],
    [/Unrecognized key: "url"/, { ...stream, url: 'http://example.com/' }],
  ])('reports %s', (expected, target) => {
    expect(() => load([target])).toThrow(TargetConfigError)
    expect(() => load([target])).toThrow(expected)
  })

  it('names where its consumers read in the start-up summary, without the token', async () => {
    const env = { DATA_DIR: freshDir(), INGEST_TOKEN: TEST_TOKEN, TARGETS: JSON.stringify([stream]) }
    const { config } = await loadConfig(env, () => {})
    const summary = configSummary(config)
    expect(summary.targets).toEqual(['bot→consumers at GET /stream/bot [message]'])
    expect(JSON.stringify(summary)).not.toContain(stream.token)
  })

  it('gives the dispatcher no lane for a stream, and the app its route only when one exists', async () => {
    const adminToken = 'admin-token-0123456789'
    const withStream = await buildTestApp({
      ADMIN_TOKEN: adminToken,
      TARGETS: JSON.stringify([stream, { name: 'h', url: 'http://127.0.0.1:9/in', events: ['*'] }]),
    })
    const without = await buildTestApp({})
    try {
      await withStream.app.ready()
      const unauthorized = await withStream.app.inject({ url: '/stream/bot' })
      expect(unauthorized.statusCode).toBe(401)
      expect((await without.app.inject({ url: '/stream/bot' })).statusCode).toBe(404)
      const metrics = await withStream.app.inject({
        url: '/metrics',
        headers: { authorization: `Bearer ${adminToken}` },
      })
      const limits = metrics.body
        .split('\n')
        .filter((line) => line.startsWith('whatsgate_relay_target_concurrency_limit{'))
      expect(limits.map((line) => line.split('"')[1])).toEqual(['h'])
    } finally {
      await withStream.close()
      await without.close()
    }
  })
})
