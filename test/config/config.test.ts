// A wrong setting stops the relay at start with a message naming it, both through buildApp and as
// the operator sees it (one line on stderr); an unset INGEST_TOKEN is made once and kept.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.ts'
import { ConfigError, configSummary } from '../../src/config/config.ts'
import { envSchema } from '../../src/config/env.ts'
import { loadConfig } from '../../src/config/load.ts'
import { freePort } from '../support/free-port.ts'
import { TEST_TOKEN, tempDirsOfFile } from '../support/relay.ts'
import {
  logRecords,
  PROJECT_ROOT,
  spawnRelay,
  startRelayProcess,
  stopAllRelayProcesses,
} from '../support/relay-process.ts'

const freshDir = tempDirsOfFile('relay-config-')

describe('buildApp with a bad variable', () => {
  const silent = pino({ level: 'silent' })
  const validEnv = () => ({ DATA_DIR: freshDir(), INGEST_TOKEN: TEST_TOKEN, LOG_LEVEL: 'warn' })

  it('builds with the valid base environment (so each case below fails for its own variable)', async () => {
    const app = await buildApp({ env: validEnv(), logger: silent })
    await app.close()
  })

  it('reads numbers and booleans from their text', async () => {
    const env = { ...validEnv(), BODY_LIMIT: '2048', LOG_MESSAGE_TEXT: 'Yes', REGISTER_ON_START: 'off' }
    const app = await buildApp({ env, logger: silent })
    try {
      expect(app.relayConfig.bodyLimit).toBe(2048)
      expect(app.relayConfig.logMessageText).toBe(true)
      expect(app.relayConfig.whatsgate.registerOnStart).toBe(false)
    } finally {
      await app.close()
    }
  })

  it('reads an empty variable (KEY= in a .env file) as unset', async () => {
    const env = { ...validEnv(), INGEST_TOKEN: '', WHATSGATE_API_KEY: '', FORWARD_URL: '', PORT: '' }
    const app = await buildApp({ env, logger: silent })
    try {
      expect(app.relayConfig.ingestTokenGenerated).toBe(true)
      expect(app.relayConfig.whatsgate.apiKey).toBeNull()
      expect(app.relayConfig.targets).toEqual([])
      expect(app.relayConfig.port).toBe(3000)
    } finally {
      await app.close()
    }
  })

  const cases: [string, Record<string, string>, RegExp][] = [
    ['PORT not a number', { PORT: 'abc' }, /^PORT\b.*integer/],
    ['PORT out of range', { PORT: '70000' }, /^PORT\b/],
    ['LOG_LEVEL unknown', { LOG_LEVEL: 'loud' }, /^LOG_LEVEL\b.*info/],
    [
      'LOG_MESSAGE_TEXT not a boolean',
      { LOG_MESSAGE_TEXT: 'maybe' },
      /^LOG_MESSAGE_TEXT: must be true or false/,
    ],
    [
      'two bad variables',
      { PORT: '1.5', RETENTION_DAYS: '-1' },
      /^PORT: must be an integer; RETENTION_DAYS\b/,
    ],
    ['TARGETS entry without url and events', { TARGETS: '[{"name":"a"}]' }, /^TARGETS\[0\].*url/],
    ['TARGETS not JSON', { TARGETS: '[{' }, /^TARGETS\b.*JSON/],
    ['INGEST_TOKEN too short', { INGEST_TOKEN: 'short' }, /^INGEST_TOKEN\b.*16/],
    // Fastify answers 414 to a route parameter over 100 characters: every webhook would fail.
    [
      'INGEST_TOKEN too long for a route parameter',
      { INGEST_TOKEN: 'a'.repeat(101) },
      /^INGEST_TOKEN: must be at most 100 characters/,
    ],
    [
      'INGEST_TOKEN with characters a URL would mangle',
      { INGEST_TOKEN: 'abc/def?ghi#jkl-0123' },
      /^INGEST_TOKEN: must be letters, digits, - and _ only$/,
    ],
    ['FORWARD_URL not a URL', { FORWARD_URL: 'not a url' }, /^FORWARD_URL\b/],
    ['DATABASE_URL not a PostgreSQL URL', { DATABASE_URL: 'mysql://127.0.0.1/x' }, /^DATABASE_URL\b/],
    [
      'DATABASE_URL without INGEST_TOKEN (replicas would each make their own)',
      { DATABASE_URL: 'postgres://127.0.0.1/x', INGEST_TOKEN: '' },
      /^INGEST_TOKEN\b.*DATABASE_URL/,
    ],
    [
      'FORWARD_SECRET not a Standard Webhooks secret',
      { FORWARD_SECRET: 'secret123' },
      /^FORWARD_SECRET: must start with "whsec_"/,
    ],
    [
      'DATABASE_URL with an unsigned HTTP target and no FORWARD_SECRET (replicas would each make their own)',
      { DATABASE_URL: 'postgres://127.0.0.1/x', FORWARD_URL: 'https://a.example/hook' },
      /^FORWARD_SECRET: required with DATABASE_URL/,
    ],
    [
      'ADMIN_VIEWER_TOKEN with the console off',
      { ADMIN_TOKEN: 'off', ADMIN_VIEWER_TOKEN: 'viewer-token-0123456789' },
      /^ADMIN_VIEWER_TOKEN: the console is off/,
    ],
  ]
  for (const [name, bad, message] of cases) {
    it(`${name}: rejects with a ConfigError naming it`, async () => {
      const error = await buildApp({ env: { ...validEnv(), ...bad }, logger: silent }).then(
        async (app) => {
          await app.close()
          return null
        },
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).message).toMatch(message)
    })
  }
})

describe('INGEST_TOKEN of the longest length allowed', () => {
  it('is the path part of a webhook that is accepted', async () => {
    const token = `${'a1_-'.repeat(25)}`
    expect(token).toHaveLength(100)
    const app = await buildApp({
      env: { DATA_DIR: freshDir(), INGEST_TOKEN: token },
      logger: pino({ level: 'silent' }),
    })
    try {
      const event = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'event-ready.json'))
      const headers = { 'content-type': 'application/json' }
      const response = await app.inject({ method: 'POST', url: `/webhook/${token}`, headers, payload: event })
      expect(response.statusCode, response.body).toBe(200)
    } finally {
      await app.close()
    }
  })
})

describe('DATABASE_URL', () => {
  it('selects the PostgreSQL store, and the start-up summary shows it without the password', async () => {
    const url = 'postgres://relay:s3cret-pw@db.internal:5432/relay?options=-c%20search_path%3Drelay'
    const { config } = await loadConfig(
      { DATA_DIR: freshDir(), INGEST_TOKEN: TEST_TOKEN, DATABASE_URL: url },
      () => {},
    )
    expect(config.databaseUrl).toBe(url)
    const summary = configSummary(config)
    expect(summary.store).toMatch(/^postgres:\/\/relay:\*\*\*@db\.internal:5432\/relay\b/)
    expect(JSON.stringify(summary)).not.toContain('s3cret-pw')
  })

  it('is unset by default: the SQLite file in DATA_DIR', async () => {
    const dataDir = freshDir()
    const { config } = await loadConfig({ DATA_DIR: dataDir, INGEST_TOKEN: TEST_TOKEN }, () => {})
    expect(config.databaseUrl).toBeNull()
    expect(configSummary(config).store).toBe(`sqlite:${join(dataDir, 'relay.sqlite')}`)
  })
})

describe('.env.example', () => {
  const lines = readFileSync(join(PROJECT_ROOT, '.env.example'), 'utf8').split('\n')
  const entries = lines.flatMap((line) => {
    const match = line.match(/^(# )?([A-Z][A-Z0-9_]*)=(.*)$/)
    return match ? [{ active: !match[1], name: match[2] as string, value: match[3] as string }] : []
  })
  const schema = envSchema.shape as Record<string, { safeParse(value: unknown): { data?: unknown } }>

  it('lists every variable of the schema once, each active line holding its default', () => {
    expect(entries.map((e) => e.name).sort()).toEqual(Object.keys(schema).sort())
    for (const { active, name, value } of entries) {
      const fallback = schema[name]?.safeParse(undefined).data
      if (active) expect(value, name).toBe(String(fallback))
      // A default other than "unset" is written out, so the file shows it.
      else
        expect(fallback === undefined || fallback === '', `${name} has a default: make it active`).toBe(true)
      // Unset variables stay commented out, so the copy shows what is optional.
      if (active) expect(value, name).not.toBe('')
    }
  })

  it('copied as it is to .env, and with its TARGETS example enabled, starts the relay', async () => {
    const active = Object.fromEntries(entries.filter((e) => e.active).map((e) => [e.name, e.value]))
    const targets = entries.find((e) => e.name === 'TARGETS')?.value as string
    for (const env of [active, { ...active, TARGETS: targets }]) {
      // Local DATA_DIR and API URL: the test writes nothing outside tmp and calls nobody.
      const local = { DATA_DIR: freshDir(), WHATSGATE_API_URL: 'http://127.0.0.1:9/api/v1' }
      const app = await buildApp({ env: { ...env, ...local }, logger: pino({ level: 'silent' }) })
      await app.close()
    }
  })
})

describe('the process with a bad variable', () => {
  afterEach(() => stopAllRelayProcesses())

  it('PORT=abc: exits non-zero with exactly one line on stderr naming PORT, no stack trace', async () => {
    const relay = spawnRelay({ dataDir: freshDir(), env: { PORT: 'abc' } })
    const exit = await relay.exited
    expect(exit.code).not.toBe(0)
    expect(exit.code).not.toBeNull()
    expect(relay.stderrLines).toHaveLength(1)
    expect(relay.stderrLines[0]).toMatch(/PORT/)
    expect(relay.stderrLines[0]).not.toMatch(/\bat .*:\d+:\d+|Error:/)
    expect(relay.stdoutLines.join('\n')).not.toMatch(/\n\s+at /)
  })
})

describe('the ingest token when INGEST_TOKEN is unset', () => {
  afterEach(() => stopAllRelayProcesses())

  const generatedLine = /generated an ingest token/

  it('is generated into DATA_DIR, its callback URL logged once, and reused silently after a restart', async () => {
    const dataDir = freshDir()
    const port = await freePort()
    const first = await startRelayProcess({ dataDir, env: { INGEST_TOKEN: undefined, PORT: String(port) } })
    const token = readFileSync(join(dataDir, 'ingest-token'), 'utf8').trim()
    expect(token).toMatch(/^[A-Za-z0-9_-]{32,}$/)
    expect(first.token).toBe(token)
    const line = await first.waitForLine(generatedLine)
    expect(JSON.parse(line).msg).toMatch(new RegExp(`https?://\\S+:${port}/webhook/${token}$`))

    const event = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'event-ready.json'))
    const post = (url: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: event })
    expect((await post(first.webhookUrl)).status).toBe(200)
    expect((await post(`${first.url}/webhook/${'x'.repeat(32)}`)).status).toBe(401)
    expect(await first.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    expect(first.stdoutLines.filter((l) => generatedLine.test(l))).toHaveLength(1)
    // The token is a secret: the one line that announces it is the only one that shows it.
    expect(first.stdoutLines.filter((l) => l.includes(token))).toHaveLength(1)

    const second = await startRelayProcess({ dataDir, env: { INGEST_TOKEN: undefined } })
    expect(readFileSync(join(dataDir, 'ingest-token'), 'utf8').trim()).toBe(token)
    expect(second.token).toBe(token)
    expect((await post(second.webhookUrl)).status).toBe(200)
    expect(await second.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    // Output is complete once exited: a restart announces nothing and never shows the token.
    expect(logRecords(second.stdoutLines).map((r) => r.msg)).toContain(`Server listening at ${second.url}`)
    expect(second.stdoutLines.filter((l) => generatedLine.test(l) || l.includes(token))).toEqual([])
  })
})
