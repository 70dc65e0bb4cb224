// Process plumbing: settings, the clock, temp dirs, and child servers that no exit path leaves running.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

export { sleep }

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url))

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
}

/** The settings that every load benchmark shares (bench/README.md lists them all). */
export function commonSettings() {
  return {
    seconds: envNumber('BENCH_SECONDS', 10),
    warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3),
    connections: envNumber('BENCH_CONNECTIONS', 50),
  }
}

/** Milliseconds on CLOCK_MONOTONIC: the same clock in every process of this machine. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

const tempDirs: string[] = []

/** A fresh directory on the real disk (fsync must cost what it costs), removed at exit. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(process.env.BENCH_TMP ?? tmpdir(), `whatsgate-bench-${prefix}-`))
  tempDirs.push(dir)
  return dir
}

export interface Child {
  name: string
  pid: number
  /** Lines and bytes the child wrote in all, the last 40 lines, and every line when asked to keep them. */
  log: { lines: number; bytes: number; tail: string[]; all?: string[] }
  hasExited: () => boolean
  /** SIGTERM, then SIGKILL if the child has not exited after `graceMs`. */
  stop: (graceMs?: number) => Promise<void>
}

const children = new Map<Child, ChildProcess>()

/** `node [flags] <script>` in the project root; its first 20 lines of output are echoed, prefixed. */
function startChild(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  nodeFlags: string[],
  keepLog: boolean,
): Child {
  const proc = spawn(process.execPath, [...nodeFlags, script], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (proc.pid === undefined) throw new Error(`could not start ${name}`)
  const hasExited = () => proc.exitCode !== null || proc.signalCode !== null
  const stop = async (graceMs = 10_000) => {
    if (hasExited()) return
    const exited = once(proc, 'exit')
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
  const log = { lines: 0, bytes: 0, tail: [] as string[], ...(keepLog ? { all: [] as string[] } : {}) }
  const child: Child = { name, pid: proc.pid, log, hasExited, stop }
  const onData = (chunk: Buffer) => {
    child.log.bytes += chunk.length
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue
      child.log.all?.push(line)
      if (++child.log.lines <= 20) process.stderr.write(`[${name}] ${line}\n`)
      child.log.tail.push(line)
      if (child.log.tail.length > 40) child.log.tail.shift()
    }
  }
  proc.stdout?.on('data', onData)
  proc.stderr?.on('data', onData)
  proc.once('exit', () => children.delete(child))
  children.set(child, proc)
  return child
}

/** The pids of the bench's live children, so that their CPU counts as the bench's own. */
export function childPids(): number[] {
  return [...children.keys()].map((child) => child.pid)
}

export function killAllChildren(): void {
  for (const proc of children.values()) proc.kill('SIGKILL')
  children.clear()
}

export function installCleanup(): void {
  process.on('exit', () => {
    killAllChildren()
    if (process.env.BENCH_KEEP !== '1')
      for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`)
      process.exit(130)
    })
  }
}

/** A port free right now (listen on 0, close): the relay does not report where it listens. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

async function waitForHttp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError = ''
  while (Date.now() < deadline) {
    if (child.hasExited())
      throw new Error(`${child.name} exited before answering ${url}:\n  ${child.log.tail.join('\n  ')}`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.status < 500) return
      lastError = `HTTP ${response.status}`
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error)
    }
    await sleep(100)
  }
  throw new Error(`${child.name} did not answer ${url} within ${timeoutMs} ms (${lastError})`)
}

export interface Server {
  child: Child
  origin: string
}

/**
 * Starts a server script on `port` (default a free one) of 127.0.0.1, node started with
 * `nodeFlags`, and waits for its `/healthz`.
 */
export async function startServer(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  { port, nodeFlags = [], keepLog = false }: { port?: number; nodeFlags?: string[]; keepLog?: boolean } = {},
): Promise<Server> {
  port ??= await freePort()
  const child = startChild(
    name,
    script,
    { ...env, PORT: String(port), HOST: '127.0.0.1' },
    nodeFlags,
    keepLog,
  )
  const origin = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(`${origin}/healthz`, child)
  } catch (error) {
    await child.stop(2000)
    throw error
  }
  return { child, origin }
}
