// Runs the relay as a real process (`node src/main.ts`), as an operator or the Docker image does,
// and waits until it listens. Shared by the process, crash and production-install tests: every
// child started here is tracked, and stopAllRelayProcesses() (call it in afterEach) kills the rest.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { envSchema } from '../../src/config/env.ts'
import { freePort } from './free-port.ts'
import { TEST_TOKEN, tempDir } from './relay.ts'

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface RelayProcessOptions {
  /** Environment on top of the test defaults; `undefined` removes a variable (INGEST_TOKEN: undefined). */
  env?: Record<string, string | undefined>
  /**
   * DATA_DIR (or env.DATA_DIR); default a fresh temp folder, kept until stopAllRelayProcesses() so
   * that a test can restart on it.
   */
  dataDir?: string
  /** Working directory; default the project root. */
  cwd?: string
  /** Script run by `process.execPath` (Node 26 under vitest), relative to cwd. */
  entry?: string
  /** Flags given to node before the script. */
  nodeFlags?: string[]
  /** How long startRelayProcess waits for the relay to listen. */
  startTimeoutMs?: number
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface RelayChild {
  child: ChildProcess
  dataDir: string
  /** The environment the child was started with. */
  env: NodeJS.ProcessEnv
  /** Every stdout line so far (pino JSON), in order; complete once `exited` resolves. */
  stdoutLines: string[]
  stderrLines: string[]
  /** Resolves with the first stdout line (past or future) that matches; rejects on timeout or exit. */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>
  /** Sends the signal (if still running) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<Exit>
  /** Resolves when the process has exited and its output is fully read. */
  exited: Promise<Exit>
  hasExited(): boolean
}

export interface RelayProcess extends RelayChild {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string
  port: number
  /** The ingest token in use: the configured one, or the one the relay generated. */
  token: string
  webhookUrl: string
}

const running = new Set<RelayChild>()

/** DATA_DIRs this module made (not the callers'): removed by stopAllRelayProcesses, or at exit. */
const ownDirs: string[] = []

// A vitest worker that dies without running afterEach must not leave relays behind.
process.once('exit', () => {
  for (const relay of running) relay.child.kill('SIGKILL')
  for (const dir of ownDirs) rmSync(dir, { recursive: true, force: true })
})

/** Variables the relay reads: never inherited from the shell running the tests. */
const RELAY_VARIABLES = [...Object.keys(envSchema.shape), 'ENV_FILE']

/** Starts the relay without waiting: for a start that is expected to fail. */
export function spawnRelay(options: RelayProcessOptions = {}): RelayChild {
  let dataDir = options.dataDir ?? options.env?.DATA_DIR
  if (dataDir === undefined) {
    dataDir = tempDir('relay-process-')
    ownDirs.push(dataDir)
  }
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of RELAY_VARIABLES) delete env[name]
  const settings: Record<string, string | undefined> = {
    HOST: '127.0.0.1',
    INGEST_TOKEN: TEST_TOKEN,
    LOG_LEVEL: 'info',
    // Should anything call WhatsGate, it reaches a closed local port, not the internet.
    WHATSGATE_API_URL: 'http://127.0.0.1:9/api/v1',
    REGISTER_ON_START: 'false',
    BACKFILL_ON_START: 'false',
    // A developer's own .env in the project root stays out of the tests.
    ENV_FILE: '/dev/null',
    ...options.env,
    DATA_DIR: dataDir,
  }
  for (const [name, value] of Object.entries(settings)) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }

  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), options.entry ?? 'src/main.ts'], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stdoutLines: string[] = []
  const stderrLines: string[] = []
  const lineWaiters = new Set<(line: string | null) => void>()
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdoutLines.push(line)
    for (const waiter of lineWaiters) waiter(line)
  })
  createInterface({ input: child.stderr }).on('line', (line) => stderrLines.push(line))

  let done = false
  const exited = new Promise<Exit>((resolve) => {
    const settle = (exit: Exit) => {
      if (done) return
      done = true
      running.delete(relay)
      for (const waiter of lineWaiters) waiter(null)
      resolve(exit)
    }
    // 'close', not 'exit': by then stdout and stderr are read to the end.
    child.once('close', (code, signal) => settle({ code, signal }))
    // A process that could not start (missing cwd) has no 'close' to wait for.
    child.once('error', (error) => {
      stderrLines.push(`could not run ${process.execPath}: ${error.message}`)
      if (child.pid === undefined) settle({ code: null, signal: null })
    })
  })

  const relay: RelayChild = {
    child,
    dataDir,
    env,
    stdoutLines,
    stderrLines,
    exited,
    hasExited: () => done,
    kill(signal = 'SIGTERM') {
      if (!done) child.kill(signal)
      return exited
    },
    waitForLine(match, timeoutMs = 10_000) {
      const test = typeof match === 'function' ? match : (line: string) => match.test(line)
      const what = typeof match === 'function' ? 'the expected line' : String(match)
      const seen = stdoutLines.find(test)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const finish = (error: Error | null, line?: string) => {
          clearTimeout(timer)
          lineWaiters.delete(waiter)
          if (error) reject(error)
          else resolve(line as string)
        }
        const waiter = (line: string | null) => {
          if (line === null) finish(new Error(`relay exited before logging ${what}${describeOutput(relay)}`))
          else if (test(line)) finish(null, line)
        }
        const timer = setTimeout(
          () => finish(new Error(`relay did not log ${what} within ${timeoutMs} ms${describeOutput(relay)}`)),
          timeoutMs,
        )
        if (done) waiter(null)
        else lineWaiters.add(waiter)
      })
    },
  }
  running.add(relay)
  return relay
}

/** Starts the relay and resolves once it answers GET /healthz. */
export async function startRelayProcess(options: RelayProcessOptions = {}): Promise<RelayProcess> {
  const timeoutMs = options.startTimeoutMs ?? 20_000
  const explicitPort = options.env?.PORT
  const logsInfo = ['info', 'debug', 'trace'].includes(options.env?.LOG_LEVEL ?? 'info')
  // PORT=0 lets the kernel pick (no race with other tests), and Fastify's "Server listening at"
  // line tells which; a relay that logs above info falls back to a port picked here.
  const port = explicitPort ?? (logsInfo ? '0' : String(await freePort()))
  const relay = spawnRelay({ ...options, env: { ...options.env, PORT: port } })
  try {
    let actualPort = Number(port)
    if (actualPort === 0) {
      const line = await relay.waitForLine(/"msg":"Server listening at /, timeoutMs)
      actualPort = Number(new URL(listeningUrl(line) as string).port)
    }
    const url = `http://127.0.0.1:${actualPort}`
    await waitForHealthy(url, relay, timeoutMs)
    const token = relay.env.INGEST_TOKEN ?? readFileSync(join(relay.dataDir, 'ingest-token'), 'utf8').trim()
    return { ...relay, url, port: actualPort, token, webhookUrl: `${url}/webhook/${token}` }
  } catch (error) {
    await relay.kill('SIGKILL')
    throw error
  }
}

/**
 * Kills every relay still running (SIGKILL), waits for each to exit, then removes the DATA_DIRs
 * this module made (those a caller passed are the caller's). Call it in afterEach.
 */
export async function stopAllRelayProcesses(): Promise<void> {
  await Promise.all([...running].map((relay) => relay.kill('SIGKILL')))
  for (const dir of ownDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** Parsed pino lines of a relay's stdout; lines that are not JSON are skipped. */
export function logRecords(lines: readonly string[]): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = []
  for (const line of lines) {
    try {
      records.push(JSON.parse(line))
    } catch {}
  }
  return records
}

function listeningUrl(line: string): string | null {
  try {
    const message = (JSON.parse(line) as { msg?: unknown }).msg
    const match = typeof message === 'string' ? message.match(/^Server listening at (http:\/\/\S+)/) : null
    return match?.[1] ?? null
  } catch {
    return null
  }
}

async function waitForHealthy(url: string, relay: RelayChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    if (relay.hasExited()) throw new Error(`relay exited before answering /healthz${describeOutput(relay)}`)
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.status === 200) return
      last = `HTTP ${response.status}`
    } catch (error) {
      last = (error as Error).message
    }
    await sleep(50)
  }
  throw new Error(
    `relay did not answer ${url}/healthz within ${timeoutMs} ms (${last})${describeOutput(relay)}`,
  )
}

function describeOutput(relay: RelayChild): string {
  const tail = [...relay.stdoutLines.slice(-10), ...relay.stderrLines.slice(-10)]
  return tail.length ? `:\n  ${tail.join('\n  ')}` : ''
}
