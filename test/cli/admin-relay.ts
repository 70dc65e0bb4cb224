// A real relay listening on 127.0.0.1 with its admin API on, real HTTP targets behind it, and the
// CLI's main() run in-process against it, its output captured line by line.
import type { AddressInfo } from 'node:net'
import { afterEach } from 'vitest'
import type { Output } from '../../src/cli/output.ts'
import { main } from '../../src/cli.ts'
import { buildTestApp } from '../support/relay.ts'
import { type ReplyHandler, type Sink, startSink } from '../support/sink.ts'

export const ADMIN_TOKEN = 'admin-token-cli-0123456789'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

export interface Run {
  code: number
  out: string[]
  err: string[]
  /** What a terminal's progress line was redrawn with, in order (null: the line ended). */
  progress: (string | null)[]
  /** stdout as one text, for JSON. */
  stdout: string
}

export interface RunOptions {
  env?: Record<string, string | undefined>
  /** Standard input, for `replay -`. */
  stdin?: string
  /** Pretend stderr is a terminal: progress is drawn in place. */
  tty?: boolean
  /** Press Ctrl-C once this many progress steps were shown (a long replay listens for it). */
  interruptAt?: number
}

/** The CLI as `whatsgate-relay <args>` with only the environment given (nothing of the server's). */
export async function cli(args: string[], options: RunOptions = {}): Promise<Run> {
  const out: string[] = []
  const err: string[] = []
  const progress: (string | null)[] = []
  let interrupt: (() => void) | undefined
  let steps = 0
  const step = () => {
    steps += 1
    if (steps === options.interruptAt) interrupt?.()
  }
  const io: Output = {
    out: (line) => out.push(line),
    err: (line) => {
      err.push(line)
      if (line.startsWith('replaying: ')) step()
    },
    ...(options.tty
      ? {
          progress: (text) => {
            progress.push(text)
            if (text !== null) step()
          },
        }
      : {}),
    ...(options.stdin !== undefined ? { input: async () => options.stdin as string } : {}),
    onInterrupt(stop) {
      interrupt = stop
      return () => {
        interrupt = undefined
      }
    },
  }
  const code = await main(args, options.env ?? {}, io)
  return { code, out, err, progress, stdout: out.join('\n') }
}

export interface TestRelay {
  url: string
  /** The environment an operator's shell would have: the relay's URL and its admin token. */
  env: Record<string, string>
  /** WhatsGate posting one event to the webhook. */
  post(body: string): Promise<void>
  /** The CLI against this relay. */
  cli(args: string[], options?: RunOptions): Promise<Run>
}

export interface TargetSpec {
  name: string
  /** How the target answers; 200 by default. */
  respondWith?: ReplyHandler
  retry?: { maxAttempts: number; initialDelayMs: number; maxDelayMs: number }
  events?: string[]
}

/** A relay with a real sink per target, listening on a port of its own. */
export async function startRelay(
  specs: TargetSpec[],
  env: Record<string, string> = { ADMIN_TOKEN },
): Promise<TestRelay & { sinks: Record<string, Sink> }> {
  const sinks: Record<string, Sink> = {}
  for (const spec of specs) {
    const sink = await startSink(spec.respondWith ? { respondWith: spec.respondWith } : {})
    cleanups.push(() => sink.close())
    sinks[spec.name] = sink
  }
  const targets = specs.map((spec) => ({
    name: spec.name,
    url: sinks[spec.name]?.url,
    events: spec.events ?? ['*'],
    ...(spec.retry ? { retry: spec.retry } : {}),
  }))
  const relay = await buildTestApp({ ...env, TARGETS: JSON.stringify(targets) })
  cleanups.push(() => relay.close())
  await relay.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = relay.app.server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  const shellEnv = { RELAY_URL: url, ...(env.ADMIN_TOKEN ? { ADMIN_TOKEN: env.ADMIN_TOKEN } : {}) }
  return {
    url,
    env: shellEnv,
    sinks,
    async post(body) {
      const response = await relay.post(body)
      if (response.statusCode !== 200)
        throw new Error(`webhook answered ${response.statusCode}: ${response.body}`)
    },
    cli: (args, options = {}) => cli(args, { ...options, env: { ...shellEnv, ...options.env } }),
  }
}

/** Polls an async check until it holds; fails naming `what` after timeoutMs. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The document a --json run printed. */
export function json<T = Record<string, unknown>>(run: Run): T {
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.err.join('\n')}`)
  return JSON.parse(run.stdout) as T
}
