// With INGEST_TOKEN unset, the token file in DATA_DIR is the callback URL's only secret. A file
// that is empty or damaged must stop the relay with one line naming it, never open the webhook to
// any token; and a write that fails half-way must leave no such file behind.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.ts'
import { loadConfig } from '../../src/config/load.ts'
import { TEST_TOKEN, tempDirsOfFile } from '../support/relay.ts'
import {
  PROJECT_ROOT,
  spawnRelay,
  startRelayProcess,
  stopAllRelayProcesses,
} from '../support/relay-process.ts'

const freshDir = tempDirsOfFile('relay-token-')
afterEach(() => stopAllRelayProcesses())

const event = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'event-ready.json'))
const post = (url: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: event })

async function configError(env: Record<string, string>): Promise<ConfigError> {
  const error = await loadConfig(env, () => {}).then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ConfigError)
  return error as ConfigError
}

describe('a token file that holds no valid token', () => {
  const cases: [string, string | Buffer, string][] = [
    ['empty (a crash between creating and writing it)', '', 'is empty'],
    ['only a line break', '\n', 'is empty'],
    ['too short', 'abc123def\n', '16'],
    ['characters a URL would mangle', 'abc/def?ghi#jkl-0123\n', 'letters, digits'],
    ['longer than a route parameter may be', `${'a'.repeat(101)}\n`, '100'],
    [
      'not text',
      Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x01]), Buffer.alloc(20, 0x41)]),
      'letters, digits',
    ],
  ]
  for (const [name, content, reason] of cases) {
    it(`${name}: stops start-up with one line naming the file and the way out`, async () => {
      const dataDir = freshDir()
      const file = join(dataDir, 'ingest-token')
      writeFileSync(file, content)
      const error = await configError({ DATA_DIR: dataDir })
      expect(error.message).toContain(file)
      expect(error.message).toContain(reason)
      expect(error.message).toMatch(/delete .*INGEST_TOKEN/)
      expect(error.message).not.toContain('\n')
      if (typeof content === 'string' && content.trim() !== '')
        expect(error.message).not.toContain(content.trim())
      // The file is the operator's to delete; start-up does not replace it behind their back.
      expect(readFileSync(file)).toEqual(Buffer.from(content))
    })
  }

  it('a valid token (16 to 100 characters) is read, surrounding whitespace dropped', async () => {
    for (const token of [TEST_TOKEN, 'a'.repeat(100)]) {
      const dataDir = freshDir()
      writeFileSync(join(dataDir, 'ingest-token'), `  ${token}\r\n`)
      const { config } = await loadConfig({ DATA_DIR: dataDir }, () => {})
      expect(config.ingestToken).toBe(token)
      expect(config.ingestTokenGenerated).toBe(false)
    }
  })

  it('INGEST_TOKEN set: the file is not read at all', async () => {
    const dataDir = freshDir()
    writeFileSync(join(dataDir, 'ingest-token'), '')
    const { config } = await loadConfig({ DATA_DIR: dataDir, INGEST_TOKEN: TEST_TOKEN }, () => {})
    expect(config.ingestToken).toBe(TEST_TOKEN)
  })

  it('the process: exits non-zero with one line on stderr naming the file, and never listens', async () => {
    const dataDir = freshDir()
    writeFileSync(join(dataDir, 'ingest-token'), '')
    const relay = spawnRelay({ dataDir, env: { INGEST_TOKEN: undefined, PORT: '0' } })
    // A relay that took the empty token would run on: give it a few seconds, then stop it.
    const exit = await Promise.race([relay.exited, sleep(10_000).then(() => relay.kill('SIGKILL'))])
    expect(exit.code).not.toBe(0)
    expect(exit.code).not.toBeNull()
    expect(relay.stderrLines).toHaveLength(1)
    expect(relay.stderrLines[0]).toContain(join(dataDir, 'ingest-token'))
    expect(relay.stderrLines[0]).not.toMatch(/\bat .*:\d+:\d+|Error:/)
    expect(relay.stdoutLines.join('\n')).not.toMatch(/Server listening/)
  })
})

describe('a generated token', () => {
  it('is written whole, readable by the owner only, with no temporary file left', async () => {
    const dataDir = freshDir()
    const { config } = await loadConfig({ DATA_DIR: dataDir }, () => {})
    expect(config.ingestTokenGenerated).toBe(true)
    const file = join(dataDir, 'ingest-token')
    expect(readFileSync(file, 'utf8')).toBe(`${config.ingestToken}\n`)
    expect(config.ingestToken).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    // Beside it, the admin token the console was given (no target: no signing secret is needed).
    expect(readdirSync(dataDir).toSorted()).toEqual(['admin-token', 'ingest-token'])
    expect(statSync(join(dataDir, 'admin-token')).mode & 0o777).toBe(0o600)
  })

  it('a start whose token write fails leaves no token file, and the next start makes a whole one', async () => {
    // `ulimit -f 0`: the first write to any file fails (EFBIG) — the file is created, nothing is
    // written, as after a crash or a full disk between the two steps.
    const dataDir = freshDir()
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0' }
    const failed = spawnSync('sh', ['-c', 'ulimit -f 0 && exec "$0" src/main.ts', process.execPath], {
      cwd: PROJECT_ROOT,
      env: { ...env, REGISTER_ON_START: 'false', BACKFILL_ON_START: 'false' },
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(failed.status, failed.stderr).not.toBe(0)
    expect(readdirSync(dataDir).filter((name) => name.startsWith('ingest-token'))).toEqual([])

    const relay = await startRelayProcess({ dataDir, env: { INGEST_TOKEN: undefined } })
    expect(relay.token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    // An empty token would have matched this: anyone could post events.
    expect((await post(`${relay.url}/webhook/`)).status).not.toBe(200)
    expect((await post(`${relay.url}/webhook/${'x'.repeat(32)}`)).status).toBe(401)
    expect((await post(relay.webhookUrl)).status).toBe(200)
  })
})
