// The operator CLI as an operator runs it: `node src/cli.ts ...` in a child process, configured by
// the environment, against the local fake WhatsGate and a real SQLite outbox.
import { execFile } from 'node:child_process'
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { envSchema } from '../../src/config/env.ts'
import { type FakeWhatsGate, startFakeWhatsGate } from '../support/fake-whatsgate.ts'
import { readOutbox, TEST_TOKEN, tempDir } from '../support/relay.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const API_KEY = 'cli-api-key-5f0e9b1c77d2'
const PUBLIC_URL = 'https://relay.example.test'
const CALLBACK = `${PUBLIC_URL}/webhook/${TEST_TOKEN}`

let fake: FakeWhatsGate | undefined
let dirs: string[] = []
afterEach(async () => {
  await fake?.close()
  fake = undefined
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  dirs = []
})

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI with only the given relay variables (none inherited from the shell). */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  // A developer's own .env in the project root stays out of the tests.
  const base: NodeJS.ProcessEnv = { ...process.env, ENV_FILE: '/dev/null' }
  for (const name of Object.keys(envSchema.shape)) delete base[name]
  for (const [name, value] of Object.entries(env)) if (value !== undefined) base[name] = value
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['src/cli.ts', ...args],
      { cwd: ROOT, env: base, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

function dataDir(): string {
  const dir = tempDir('relay-cli-')
  dirs.push(dir)
  return dir
}

function relayEnv(wg: FakeWhatsGate, overrides: Record<string, string | undefined> = {}) {
  return {
    DATA_DIR: dataDir(),
    INGEST_TOKEN: TEST_TOKEN,
    WHATSGATE_API_URL: wg.url,
    WHATSGATE_API_KEY: API_KEY,
    PUBLIC_URL,
    ...overrides,
  }
}

function event(whatsappId: string, n: number) {
  const date = new Date(Date.UTC(2024, 4, 1, 10, 0, 0) + n * 15_000).toISOString().slice(0, 19)
  return {
    id: n,
    whatsapp_id: whatsappId,
    event_action: 'message',
    event_date: date.replace('T', ' '),
    status_code: null,
    event_data: { message: { id: `false_79990000000@c.us_${n}`, body: `text ${n}`, type: 'chat' } },
  }
}

const noKey = (run: Run) => expect(run.stdout + run.stderr).not.toContain(API_KEY)

describe('whatsgate-relay CLI', () => {
  it('--help and help list the commands and the environment, exit 0', async () => {
    const cases = [['--help'], ['help'], ['backfill', '--help']]
    const runs = await Promise.all(cases.map((args) => cli(args)))
    for (const [i, run] of runs.entries()) {
      const args = cases[i] ?? []
      expect(run.code, args.join(' ')).toBe(0)
      for (const word of ['register', 'unregister', 'backfill', '--since', '--session']) {
        expect(run.stdout).toContain(word)
      }
      for (const name of ['WHATSGATE_API_KEY', 'WHATSGATE_API_URL', 'PUBLIC_URL', 'DATA_DIR']) {
        expect(run.stdout).toContain(name)
      }
      expect(run.stderr).toBe('')
    }
  })

  it('answers an unknown command, an unknown option and a bad --since with exit 2 and one line', async () => {
    const cases = [
      ['frobnicate'],
      [],
      ['register', '--bogus'],
      ['register', '--since', '2024-01-01 00:00:00'],
    ]
    cases.push(['backfill', '--since', '2024-13-01 00:00:00'], ['backfill', '--since', 'yesterday'])
    const runs = await Promise.all(cases.map((args) => cli(args)))
    for (const [i, run] of runs.entries()) {
      const args = cases[i] ?? []
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(run.stdout).toBe('')
    }
    expect(runs[0]?.stderr).toContain('unknown command "frobnicate"')
  })

  it('register sets exactly PUBLIC_URL/webhook/<token> on every discovered session', async () => {
    // One session still points at an old URL: register replaces it.
    const sessions = Array.from({ length: 12 }, (_, i) => ({
      unique_id: `wa-${i + 1}`,
      callback: i === 0 ? 'https://old.example/hook' : '',
    }))
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions })
    const run = await cli(['register'], relayEnv(fake))
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect([...fake.hooks.entries()].sort()).toEqual(
      sessions.map((s) => [s.unique_id, CALLBACK] as [string, string]).sort(),
    )
    // 12 sessions are two sessions-get pages of 10.
    expect(fake.callsOf('sessions-get').map((c) => (c.body as { page?: number }).page)).toEqual([1, 2])
    expect(run.stdout).toContain('registered 12')
    expect(run.stdout).not.toContain(TEST_TOKEN)
    noKey(run)
  })

  it('register with --session touches only the named sessions', async () => {
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      sessions: [{ unique_id: 'wa-a' }, { unique_id: 'wa-b' }, { unique_id: 'wa-c' }],
    })
    const run = await cli(['register', '--session', 'wa-a', '--session', 'wa-c'], relayEnv(fake))
    expect(run.code).toBe(0)
    expect(Object.fromEntries(fake.hooks)).toEqual({ 'wa-a': CALLBACK, 'wa-c': CALLBACK })
  })

  it('unregister clears the webhook that points here and leaves a foreign one alone', async () => {
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      sessions: [{ unique_id: 'wa-1' }, { unique_id: 'wa-2' }, { unique_id: 'wa-foreign' }],
    })
    const env = relayEnv(fake)
    expect((await cli(['register', '--session', 'wa-1', '--session', 'wa-2'], env)).code).toBe(0)
    const foreign = fake.sessions.find((s) => s.unique_id === 'wa-foreign')
    if (foreign) foreign.callback = 'https://crm.example/hook'
    expect(fake.hooks.get('wa-1')).toBe(CALLBACK)

    const run = await cli(['unregister'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(fake.hooks.get('wa-1')).toBe('')
    expect(fake.hooks.get('wa-2')).toBe('')
    expect(fake.sessions.find((s) => s.unique_id === 'wa-foreign')?.callback).toBe('https://crm.example/hook')
    const cleared = fake.callsOf('set-hook').filter((c) => (c.body as { callback: string }).callback === '')
    expect(cleared.map((c) => (c.body as { WhatsappID: string }).WhatsappID).sort()).toEqual(['wa-1', 'wa-2'])
    expect(run.stdout).toMatch(/wa-foreign\s+left alone/)
  })

  it('backfill --since stores every event through the accept path; a second run counts duplicates', async () => {
    const events = [
      ...Array.from({ length: 14 }, (_, i) => event('wa-1', i + 1)),
      ...Array.from({ length: 3 }, (_, i) => event('wa-2', i + 1)),
    ]
    fake = await startFakeWhatsGate({
      apiKey: API_KEY,
      sessions: [{ unique_id: 'wa-1' }, { unique_id: 'wa-2' }],
      events,
    })
    const env = relayEnv(fake, { FORWARD_URL: 'http://127.0.0.1:9/never-called' })
    const args = ['backfill', '--since', '2024-05-01 00:00:00']

    const first = await cli(args, env)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(
      /wa-1\s+from 2024-05-01 00:00:00: fetched 14, new 14, duplicates 0, invalid 0/,
    )
    expect(first.stdout).toMatch(/wa-2\s+from 2024-05-01 00:00:00: fetched 3, new 3, duplicates 0/)
    const outbox = readOutbox(env.DATA_DIR)
    expect(outbox.events.map((e) => e.key).sort()).toEqual(
      events.map((e) => `${e.whatsapp_id}:message:${e.id}`).sort(),
    )
    // Same accept path as the webhook: the body is the event as fetched, routed to the target.
    const stored = outbox.events.find((e) => e.key === 'wa-2:message:3')
    expect(JSON.parse(stored?.body.toString() ?? 'null')).toEqual(events.at(-1))
    expect(outbox.deliveries).toHaveLength(events.length)
    expect(new Set(outbox.deliveries.map((d) => d.status))).toEqual(new Set(['pending']))

    const second = await cli(args, env)
    expect(second.code).toBe(0)
    expect(second.stdout).toContain('total: fetched 17, new 0, duplicates 17, invalid 0')
    expect(readOutbox(env.DATA_DIR).events).toHaveLength(events.length)
    noKey(first)
    noKey(second)
  })

  it('fails with exit 1 naming WHATSGATE_API_KEY or PUBLIC_URL when missing, before calling WhatsGate', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, sessions: [{ unique_id: 'wa-1' }] })
    const commands = ['register', 'unregister', 'backfill']
    const runs = await Promise.all(
      commands.map((command) =>
        cli([command], relayEnv(fake as FakeWhatsGate, { WHATSGATE_API_KEY: undefined })),
      ),
    )
    for (const [i, run] of runs.entries()) {
      const command = commands[i]
      expect(run.code, command).toBe(1)
      expect(run.stderr.trim().split('\n')).toHaveLength(1)
      expect(run.stderr).toContain('WHATSGATE_API_KEY')
    }
    const run = await cli(['register'], relayEnv(fake, { PUBLIC_URL: undefined }))
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('PUBLIC_URL is not set')
    expect(run.stderr).not.toContain('WHATSGATE_API_KEY')
    expect(fake.calls).toHaveLength(0)
  })

  it('reports a rejected key in one line without printing it', async () => {
    fake = await startFakeWhatsGate({ apiKey: 'the-right-key-000000', sessions: [{ unique_id: 'wa-1' }] })
    for (const command of ['register', 'backfill']) {
      const run = await cli([command], relayEnv(fake))
      expect(run.code, command).toBe(1)
      expect(run.stderr.trim().split('\n')).toHaveLength(1)
      expect(run.stderr).toContain('Unauthorized')
      noKey(run)
    }
    // The key did reach WhatsGate, in the header and nowhere else.
    expect(fake.calls.every((c) => c.headers['x-api-key'] === API_KEY)).toBe(true)
  })

  it('stops with exit 1 and the variable when the environment is invalid', async () => {
    const run = await cli(['backfill'], { DATA_DIR: dataDir(), PORT: 'abc', WHATSGATE_API_KEY: API_KEY })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /^whatsgate-relay backfill: invalid configuration: PORT: must be an integer\n$/,
    )
  })
})
