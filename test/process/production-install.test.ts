// The production dependencies suffice: a copy of package.json, the lockfile and src/ alone,
// installed with `npm ci --omit=dev` (what the Docker image does), runs the relay on Node 26.
import { spawn } from 'node:child_process'
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_TOKEN, tempDir } from '../support/relay.ts'
import { PROJECT_ROOT, startRelayProcess, stopAllRelayProcesses } from '../support/relay-process.ts'

const INSTALL_TIMEOUT_MS = 180_000

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), INSTALL_TIMEOUT_MS)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

describe('production install', () => {
  const appDir = tempDir('relay-production-')
  afterAll(async () => {
    await stopAllRelayProcesses()
    rmSync(appDir, { recursive: true, force: true })
  })

  it(
    'npm ci --omit=dev on package.json, the lockfile and src/ is enough to serve /healthz and take an event',
    async () => {
      for (const entry of ['package.json', 'package-lock.json', 'src']) {
        cpSync(join(PROJECT_ROOT, entry), join(appDir, entry), { recursive: true })
      }
      const install = await run(
        'npm',
        ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'],
        appDir,
      )
      expect(install.code, install.output).toBe(0)
      // The dev tools really are absent, so nothing below can lean on them.
      const devDependencies = Object.keys(
        JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')).devDependencies ?? {},
      )
      expect(devDependencies.length).toBeGreaterThan(0)
      expect(devDependencies.filter((name) => existsSync(join(appDir, 'node_modules', name)))).toEqual([])

      const relay = await startRelayProcess({
        cwd: appDir,
        dataDir: join(appDir, 'data'),
        env: { NODE_ENV: 'production', NODE_PATH: undefined },
      })
      const health = await fetch(`${relay.url}/healthz`)
      expect(health.status).toBe(200)
      expect(await health.json()).toEqual({ status: 'ok' })

      const event = readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'event-message.json'))
      const response = await fetch(`${relay.url}/webhook/${TEST_TOKEN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: event,
      })
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ result: 'OK', id: 18 })
      expect(await relay.kill('SIGTERM')).toEqual({ code: 0, signal: null })
      expect(relay.stderrLines).toEqual([])
    },
    INSTALL_TIMEOUT_MS + 30_000,
  )
})
