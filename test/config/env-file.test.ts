// Settings read from `.env` (config/env-file.ts): `cp .env.example .env` configures `npm start` and
// the CLI; the environment wins over the file; ENV_FILE names another file, and one that cannot
// be read stops the start with one line.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.ts'
import { loadEnvFile } from '../../src/config/env-file.ts'
import { tempDirsOfFile } from '../support/relay.ts'
import {
  logRecords,
  PROJECT_ROOT,
  spawnRelay,
  startRelayProcess,
  stopAllRelayProcesses,
} from '../support/relay-process.ts'

const freshDir = tempDirsOfFile('relay-env-file-')
afterEach(() => stopAllRelayProcesses())

describe('loadEnvFile', () => {
  it('fills what the environment leaves unset, and says which file it read', () => {
    const dir = freshDir()
    writeFileSync(
      join(dir, '.env'),
      '# a comment\nPORT=4000\nLOG_LEVEL="debug"\nFORWARD_URL=https://a.example/hook\n',
    )
    const env: Record<string, string | undefined> = { PORT: '5000' }
    expect(loadEnvFile(env, dir)).toBe(join(dir, '.env'))
    expect(env).toEqual({ PORT: '5000', LOG_LEVEL: 'debug', FORWARD_URL: 'https://a.example/hook' })
  })

  it('reads nothing without a .env, and the file ENV_FILE names otherwise', () => {
    const dir = freshDir()
    expect(loadEnvFile({}, dir)).toBeNull()
    writeFileSync(join(dir, 'relay.env'), 'PORT=4001\n')
    const env: Record<string, string | undefined> = { ENV_FILE: 'relay.env' }
    expect(loadEnvFile(env, dir)).toBe(join(dir, 'relay.env'))
    expect(env.PORT).toBe('4001')
    expect(() => loadEnvFile({ ENV_FILE: 'missing.env' }, dir)).toThrow(ConfigError)
    expect(() => loadEnvFile({ ENV_FILE: 'missing.env' }, dir)).toThrow(
      /ENV_FILE: cannot read .*missing\.env \(ENOENT\)/,
    )
  })
})

describe('the relay process', () => {
  it('starts with the settings of .env in its working directory, the environment winning', async () => {
    const cwd = freshDir()
    writeFileSync(join(cwd, '.env'), 'LOG_LEVEL=warn\nADMIN_TOKEN=admin-token-from-the-file-0123\n')
    const relay = await startRelayProcess({
      cwd,
      entry: join(PROJECT_ROOT, 'src/main.ts'),
      env: { ENV_FILE: undefined, LOG_LEVEL: 'info' },
    })
    const summary = logRecords(relay.stdoutLines).find(
      (record) => record.msg === 'whatsgate-relay configured',
    )
    // LOG_LEVEL=info from the environment, over the file's warn: the info line is there at all;
    // ADMIN_TOKEN from the file: the console is on.
    expect(summary).toMatchObject({ envFile: join(cwd, '.env'), adminApi: 'on' })
    const status = await fetch(`${relay.url}/admin/status`, {
      headers: { authorization: 'Bearer admin-token-from-the-file-0123' },
    })
    expect(status.status).toBe(200)
  })

  it('says when it read no file', async () => {
    const cwd = freshDir()
    const relay = await startRelayProcess({
      cwd,
      entry: join(PROJECT_ROOT, 'src/main.ts'),
      env: { ENV_FILE: undefined },
    })
    const summary = logRecords(relay.stdoutLines).find(
      (record) => record.msg === 'whatsgate-relay configured',
    )
    expect(summary).toMatchObject({ envFile: 'none' })
  })

  it('stops with one line when ENV_FILE cannot be read', async () => {
    const relay = spawnRelay({ env: { ENV_FILE: join(freshDir(), 'nowhere.env') } })
    const exit = await relay.exited
    expect(exit.code).toBe(1)
    expect(relay.stderrLines).toEqual([
      expect.stringMatching(
        /^whatsgate-relay: invalid configuration: ENV_FILE: cannot read .*nowhere\.env \(ENOENT\)$/,
      ),
    ])
  })
})
