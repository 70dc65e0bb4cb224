// Process plumbing shared by the benchmarks: settings, ports, temp dirs, children that are always
// stopped, and the markdown output.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

export { sleep }

export const projectRoot = fileURLToPath(new URL('..', import.meta.url))

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
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

// ---- child processes: every one is registered so that no exit path leaves one running ----

export interface Child {
  name: string
  proc: ChildProcess
  pid: number
  exited: Promise<number | null>
  hasExited: () => boolean
  logTail: () => string[]
  logLineCount: () => number
  stop: (graceMs?: number) => Promise<void>
}

const children = new Set<Child>()

export interface StartChildOptions {
  env?: NodeJS.ProcessEnv
  ipc?: boolean
  /** Lines of the child's output echoed live (prefixed), the rest only counted and kept in a tail. */
  echoLines?: number
}

export function startChild(name: string, args: string[], options: StartChildOptions = {}): Child {
  const stdio: ('ignore' | 'pipe' | 'ipc')[] = ['ignore', 'pipe', 'pipe']
  if (options.ipc) stdio.push('ipc')
  const proc = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: options.env ?? process.env,
    stdio,
    serialization: 'advanced',
  })
  if (proc.pid === undefined) throw new Error(`could not start ${name}`)
  const tail: string[] = []
  let lines = 0
  const echo = options.echoLines ?? 20
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue
      lines++
      if (lines <= echo) process.stderr.write(`[${name}] ${line}\n`)
      tail.push(line)
      if (tail.length > 40) tail.shift()
    }
  }
  proc.stdout?.on('data', onData)
  proc.stderr?.on('data', onData)
  let done = false
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code, signal) => {
      done = true
      children.delete(child)
      resolve(code ?? (signal ? -1 : null))
    })
  })
  const child: Child = {
    name,
    proc,
    pid: proc.pid,
    exited,
    hasExited: () => done,
    logTail: () => [...tail],
    logLineCount: () => lines,
    stop: async (graceMs = 10_000) => {
      if (done) return
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
  children.add(child)
  return child
}

/** The pids of the bench's live children, so that their CPU counts as the bench's own. */
export function childPids(): number[] {
  return [...children].map((child) => child.pid)
}

export function killAllChildren(): void {
  for (const child of children) child.proc.kill('SIGKILL')
  children.clear()
}

let cleanupInstalled = false

export function installCleanup(): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', () => {
    killAllChildren()
    if (process.env.BENCH_KEEP !== '1') {
      for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
    }
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`)
      process.exit(130)
    })
  }
}

export async function waitForHttp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError = ''
  while (Date.now() < deadline) {
    if (child.hasExited()) {
      throw new Error(`${child.name} exited before answering ${url}:\n  ${child.logTail().join('\n  ')}`)
    }
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

export const fmt = {
  int: (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  ms: (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : 'n/a'),
  mb: (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a'),
  ratio: (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a'),
}

export function markdownTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  )
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}
