// The README's production install, as written, on the machine's own Node.js (20 on this machine;
// the tests themselves run on the pinned Node 26): `npm ci --omit=dev && npm start` in a copy of what
// the repository ships runs the relay, because the `node` dependency installs Node 26 and npm
// scripts run on it. The Dockerfile's way is mirrored stage by stage: `npm run build` with the
// project's compiler, then a production-only install without scripts beside the compiled JavaScript
// (no src/, as in the image), and the container's `node bin/start.js` runs that on Node 26. And a
// launcher that an old Node.js runs stops with one line saying so.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { envSchema } from '../../src/config/env.ts'
import { TEST_TOKEN, tempDir } from '../support/relay.ts'
import { PROJECT_ROOT, startRelayProcess, stopAllRelayProcesses } from '../support/relay-process.ts'

const INSTALL_TIMEOUT_MS = 180_000
const SHIPPED = ['package.json', 'package-lock.json', '.npmrc', 'bin', 'src']
/** What the Dockerfile's build stage copies in; what its deps and runtime stages take from the context. */
const BUILT_FROM = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts',
  'src',
]
const IMAGE = ['package.json', 'package-lock.json', 'bin']
const ADMIN_TOKEN = 'admin-token-0123456789'
const INHERITED_NOT = new Set([...Object.keys(envSchema.shape), 'NODE_ENV', 'NODE_OPTIONS', 'NODE_PATH'])

/**
 * The environment of a shell on this machine: none of the relay's variables, none of the npm
 * settings an npm script passes down, and none of the node_modules/.bin folders (the pinned Node 26)
 * that npm and vitest put first on PATH.
 */
function machineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('npm_') && !INHERITED_NOT.has(name)) env[name] = value
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !dir.includes('node_modules'))
    .join(delimiter)
  return { ...env, ...extra }
}

const machineNode = spawnSync('node', ['--version'], { env: machineEnv(), encoding: 'utf8' }).stdout.trim()
const machineMajor = Number(/^v(\d+)\./.exec(machineNode)?.[1])
const { engines, dependencies } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'))
const neededMajor = Number(/\d+/.exec(engines.node)?.[0])

interface Run {
  code: number | null
  stdout: string
  /** stdout and stderr as they came. */
  output: string
}

function run(command: string, args: string[], cwd: string, env = machineEnv()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let output = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), INSTALL_TIMEOUT_MS)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, output })
    })
  })
}

/** True while any process of the group (npm, its shell, the relay) is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

describe('production install', () => {
  const appDir = tempDir('relay-production-')
  let npmStart: ChildProcess | undefined
  afterAll(async () => {
    if (npmStart?.pid !== undefined && groupAlive(npmStart.pid)) process.kill(-npmStart.pid, 'SIGKILL')
    await stopAllRelayProcesses()
    rmSync(appDir, { recursive: true, force: true })
  })

  it(
    `npm ci --omit=dev && npm start on the machine's own Node.js (${machineNode}) serves /healthz and takes an event`,
    async () => {
      for (const entry of SHIPPED) cpSync(join(PROJECT_ROOT, entry), join(appDir, entry), { recursive: true })
      const install = await run('npm', ['ci', '--omit=dev'], appDir)
      expect(install.code, install.output).toBe(0)
      // npm checks engines against the machine's Node.js, which never runs the relay: it says
      // nothing about it (package.json's devEngines, .npmrc).
      expect(install.output).not.toContain('EBADENGINE')
      // The dev tools really are absent, so nothing below can lean on them (the lockfile marks
      // what only development needs: @types/node, say, stays when a dependency of ours needs it)...
      const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean }>
      }
      const devOnly = Object.entries(lock.packages)
        .filter(([path, entry]) => entry.dev && path.startsWith('node_modules/'))
        .map(([path]) => path)
      expect(devOnly).toContain('node_modules/vitest')
      expect(devOnly.filter((path) => existsSync(join(appDir, path)))).toEqual([])
      // ...and the pinned Node.js is there, whatever the machine's own is.
      const pinned = spawnSync(join(appDir, 'node_modules', '.bin', 'node'), ['--version'], {
        encoding: 'utf8',
      })
      expect(pinned.stdout.trim()).toBe(`v${dependencies.node.replace(/^\^/, '')}`)

      const cli = await run('npx', ['whatsgate-relay', '--version'], appDir)
      expect(cli, cli.output).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) })
      // Only the version: no npm warning on stderr.
      expect(cli.output).toBe(cli.stdout)

      const child = spawn('npm', ['start'], {
        cwd: appDir,
        env: machineEnv({
          NODE_ENV: 'production',
          HOST: '127.0.0.1',
          PORT: '0',
          DATA_DIR: join(appDir, 'data'),
          INGEST_TOKEN: TEST_TOKEN,
          REGISTER_ON_START: 'false',
          BACKFILL_ON_START: 'false',
          FORWARD_URL: 'http://127.0.0.1:9/hook',
          // The operator's console too: its libraries must be production dependencies.
          ADMIN_TOKEN,
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, signalled as a terminal's Ctrl-C or a service manager does: npm
        // runs the script through a shell that does not pass a signal on.
        detached: true,
      })
      npmStart = child
      const stdout: string[] = []
      const stderr: string[] = []
      createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line))
      const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
      const listening = new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          stdout.push(line)
          const url = /"msg":"Server listening at (http:\/\/[^"]+)"/.exec(line)?.[1]
          if (url) resolve(url)
        })
        closed.then(() => reject(new Error(`npm start exited:\n${[...stdout, ...stderr].join('\n')}`)))
      })
      const url = await listening

      const health = await fetch(`${url}/healthz`)
      expect(health.status).toBe(200)
      expect(await health.json()).toEqual({ status: 'ok' })
      const event = readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'event-message.json'))
      const response = await fetch(`${url}/webhook/${TEST_TOKEN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: event,
      })
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ result: 'OK', id: 18 })
      const signIn = await fetch(`${url}/admin/`)
      expect(signIn.status).toBe(401)
      expect(await signIn.text()).toContain('<form')
      const openapi = await fetch(`${url}/admin/openapi.json`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      })
      expect((await openapi.json()).openapi).toBe('3.1.0')

      process.kill(-(child.pid as number), 'SIGTERM')
      await closed
      // npm may leave before the relay has finished closing: wait for the whole group to be gone.
      await expect.poll(() => groupAlive(child.pid as number), { timeout: 15_000 }).toBe(false)
      const records = stdout.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
      expect(records.map((r) => r.msg)).toContain('shutting down')
      expect(records.filter((r) => r.level >= 50)).toEqual([])
    },
    INSTALL_TIMEOUT_MS + 60_000,
  )

  it(
    'as the Dockerfile does it: npm run build, npm ci --omit=dev --ignore-scripts, then node bin/start.js on Node 26 runs the JavaScript',
    async () => {
      // The build stage. Its `npm ci` is there for the compiler: use the project's instead, first
      // on PATH as an installed node_modules/.bin would be, with the pinned Node 26 (the image's).
      const buildDir = join(appDir, 'build')
      for (const entry of BUILT_FROM)
        cpSync(join(PROJECT_ROOT, entry), join(buildDir, entry), { recursive: true })
      const env = machineEnv()
      env.PATH = [join(PROJECT_ROOT, 'node_modules', '.bin'), env.PATH].join(delimiter)
      const build = await run('npm', ['run', 'build'], buildDir, env)
      expect(build.code, build.output).toBe(0)

      // The runtime stage: the deps stage's install, bin/ and the build's dist/, no TypeScript.
      const imageDir = join(appDir, 'image')
      for (const entry of IMAGE) cpSync(join(PROJECT_ROOT, entry), join(imageDir, entry), { recursive: true })
      cpSync(join(buildDir, 'dist'), join(imageDir, 'dist'), { recursive: true })
      const install = await run(
        'npm',
        ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'],
        imageDir,
      )
      expect(install.code, install.output).toBe(0)
      // No install script ran, so the pinned Node.js was not fetched: the image has its own.
      expect(existsSync(join(imageDir, 'node_modules', 'node', 'bin', 'node'))).toBe(false)
      expect(readdirSync(imageDir).sort()).toEqual([
        'bin',
        'dist',
        'node_modules',
        'package-lock.json',
        'package.json',
      ])
      const built = readdirSync(join(imageDir, 'dist'), { recursive: true, encoding: 'utf8' })
      expect(built).toContain('main.js')
      expect(built.filter((path) => path.endsWith('.ts'))).toEqual([])

      // The CLI runs from the build too.
      const cli = spawnSync(process.execPath, ['bin/whatsgate-relay.js', '--version'], {
        cwd: imageDir,
        env: { ...machineEnv(), NODE_ENV: 'production' },
        encoding: 'utf8',
      })
      expect(cli, cli.stderr).toMatchObject({ status: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) })

      // The image's CMD, as written, with process.execPath for its `node` (the Node 26 this test
      // runs on, as in the image); it starts node with the flags `npm start` gives it.
      const cmd = JSON.parse(
        readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8').match(/^CMD (\[.*\])$/m)?.[1] ?? '[]',
      ) as string[]
      const startScript = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts.start
      expect(cmd.join(' ')).toBe(startScript)
      const relay = await startRelayProcess({
        cwd: imageDir,
        nodeFlags: cmd.slice(1, -1),
        entry: cmd.at(-1),
        dataDir: join(imageDir, 'data'),
        env: { NODE_ENV: 'production', NODE_PATH: undefined, ADMIN_TOKEN },
      })
      const event = readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'event-message.json'))
      const response = await fetch(relay.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: event,
      })
      expect(await response.json()).toEqual({ result: 'OK', id: 18 })
      // The compiled dashboard finds its page and assets, which tsc does not emit, beside itself.
      const asset = await fetch(`${relay.url}/admin/assets/app.js`)
      expect(asset.status).toBe(200)
      expect(await asset.text()).toBe(
        readFileSync(join(buildDir, 'src', 'admin', 'dashboard', 'assets', 'app.js'), 'utf8'),
      )
      const signIn = await fetch(`${relay.url}/admin/`)
      expect(signIn.status).toBe(401)
      expect(await signIn.text()).toContain('<form')
      expect(await relay.kill('SIGTERM')).toEqual({ code: 0, signal: null })
      expect(relay.stderrLines).toEqual([])
    },
    INSTALL_TIMEOUT_MS + 60_000,
  )
})

describe.skipIf(machineMajor >= neededMajor)(`on the machine's own Node.js (${machineNode})`, () => {
  it.each([
    ['the relay', ['bin/start.js']],
    ['the CLI', ['bin/whatsgate-relay.js', '--help']],
  ])('%s stops with one line naming the Node.js it needs and the way out', (_, args) => {
    const result = spawnSync('node', args, { cwd: PROJECT_ROOT, env: machineEnv(), encoding: 'utf8' })
    expect(result.status).toBe(1)
    expect(result.stdout).toBe('')
    const lines = result.stderr.split('\n').filter(Boolean)
    expect(lines, result.stderr).toHaveLength(1)
    const line = lines[0] as string
    expect(line).toContain(`needs Node.js ${neededMajor} or newer, found ${machineNode.slice(1)}`)
    expect(line).toContain('"npm start"')
    expect(line).not.toMatch(/ERR_|\bat .*:\d+:\d+/)
  })
})
