// Start-up errors end up in logs that more people read than the .env file: a mistake in TARGETS,
// TARGETS_FILE or a URL variable is told by its position and kind, on one line, and never by
// quoting the input, which may hold an authorization header or a password.
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.ts'
import { loadConfig } from '../../src/config/load.ts'
import { TEST_TOKEN, tempDir } from '../support/relay.ts'
import { spawnRelay, stopAllRelayProcesses } from '../support/relay-process.ts'

const SECRET = 's3cr3t-Value'
const dir = tempDir('relay-config-errors-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(() => stopAllRelayProcesses())

async function configError(env: Record<string, string>): Promise<string> {
  const error = await loadConfig({ DATA_DIR: dir, INGEST_TOKEN: TEST_TOKEN, ...env }, () => {}).then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ConfigError)
  const message = (error as ConfigError).message
  expect(message).not.toContain('\n')
  expect(message).not.toContain(SECRET)
  expect(message).not.toContain('Bearer')
  return message
}

const target = (headerValue: string) =>
  `{"name":"crm","url":"https://crm.example.com/in","events":["*"],"headers":{"authorization":${headerValue}}}`

describe('TARGETS that is not JSON', () => {
  // V8's own wording and position where it gives one; never its quote of the text around a token.
  it.each([
    [
      'an unquoted header value',
      `[${target(`Bearer ${SECRET}`)}]`,
      'TARGETS is not valid JSON: unexpected character (check quotes, commas and brackets)',
    ],
    [
      'a trailing comma',
      `[${target(`"Bearer ${SECRET}"`)},]`,
      'TARGETS is not valid JSON: unexpected character (check quotes, commas and brackets)',
    ],
    [
      'a line break inside a string',
      `[${target(`"Bearer ${SECRET}\n"`)}]`,
      'TARGETS is not valid JSON: Bad control character in string literal at line 1, column 113',
    ],
    [
      'a bad escape',
      `[${target(`"Bearer \\x${SECRET}"`)}]`,
      'TARGETS is not valid JSON: Bad escaped character at line 1, column 102',
    ],
    [
      'an unterminated string',
      `[${target(`"Bearer ${SECRET}`)}`,
      'TARGETS is not valid JSON: Unterminated string at line 1, column 115',
    ],
    [
      'a cut-off array',
      `[${target(`"Bearer ${SECRET}"`)}`,
      "TARGETS is not valid JSON: Expected ',' or ']' after array element at line 1, column 116",
    ],
    [
      'text after the array',
      `[${target(`"Bearer ${SECRET}"`)}] ${SECRET}`,
      'TARGETS is not valid JSON: Unexpected non-whitespace character after JSON at line 1, column 118',
    ],
    [
      'an unquoted key, on the third line',
      `[\n  {"name": "crm",\n   authorization: "Bearer ${SECRET}"}\n]`,
      'TARGETS is not valid JSON: Expected double-quoted property name at line 3, column 4',
    ],
  ])('%s: position and kind only', async (_name, value, expected) => {
    expect(await configError({ TARGETS: value })).toBe(expected)
  })

  it('TARGETS_FILE with .json: the same, after the file name', async () => {
    const file = join(dir, 'targets.json')
    writeFileSync(file, `[\n${target(`Bearer ${SECRET}`)}\n]\n`)
    expect(await configError({ TARGETS_FILE: file })).toBe(
      `TARGETS_FILE ${file} is not valid JSON: unexpected character (check quotes, commas and brackets)`,
    )
  })
})

describe('TARGETS_FILE that is not YAML', () => {
  it.each([
    ['an unclosed quote', `- name: crm\n  headers:\n    authorization: "Bearer ${SECRET}\n  events: ["*"]\n`],
    ['an unclosed flow sequence', `- name: crm\n  headers: {authorization: Bearer ${SECRET}\n  events: [\n`],
    ['a tab as indentation', `- name: crm\n  headers:\n\tauthorization: Bearer ${SECRET}\n`],
    [
      'a duplicate key',
      `- name: crm\n  headers:\n    authorization: Bearer ${SECRET}\n    authorization: x\n`,
    ],
    ['two documents', `- name: crm\n---\n- authorization: Bearer ${SECRET}\n`],
  ])('%s: one line with the line and column, no code frame', async (_name, text) => {
    const file = join(dir, 'targets.yaml')
    writeFileSync(file, text)
    expect(await configError({ TARGETS_FILE: file })).toMatch(
      new RegExp(`^TARGETS_FILE ${file} is not valid YAML: [a-z0-9 ]+ at line \\d+, column \\d+$`),
    )
  })

  it('an alias that refers to nothing: named as such, without its name', async () => {
    const file = join(dir, 'alias.yaml')
    writeFileSync(file, `- name: crm\n  url: *${SECRET}\n`)
    expect(await configError({ TARGETS_FILE: file })).toMatch(/^TARGETS_FILE \S+ is not valid YAML: .*alias/)
  })

  it('the process: exactly one line on stderr, without the file content', async () => {
    const file = join(dir, 'process.yaml')
    writeFileSync(file, `- name: crm\n  headers:\n    authorization: "Bearer ${SECRET}\n`)
    const relay = spawnRelay({ env: { TARGETS_FILE: file } })
    expect((await relay.exited).code).toBe(1)
    expect(relay.stderrLines).toHaveLength(1)
    expect(relay.stderrLines[0]).toMatch(
      /TARGETS_FILE .* is not valid YAML: [a-z ]+ at line \d+, column \d+$/,
    )
    expect([...relay.stderrLines, ...relay.stdoutLines].join('\n')).not.toContain(SECRET)
  })
})

describe('a URL variable that is not a URL', () => {
  it.each(['FORWARD_URL', 'PUBLIC_URL', 'WHATSGATE_API_URL'])(
    '%s: named, its value (which may hold a password) not shown',
    async (name) => {
      const message = await configError({ [name]: `https://relay:${SECRET}@exa mple.com/Bearer` })
      expect(message).toMatch(new RegExp(`^${name}: not a valid URL`))
    },
  )

  it('FORWARD_URL with a scheme other than http(s): named, value not shown', async () => {
    const message = await configError({ FORWARD_URL: `ftp://relay:${SECRET}@example.com/Bearer` })
    expect(message).toMatch(/^FORWARD_URL\.url: Invalid URL/)
  })
})
