// The container engine the image test drives: Docker where a daemon answers, else podman. Every
// call is a real command of the engine's CLI; nothing is mocked.
import { spawn, spawnSync } from 'node:child_process'

export type EngineName = 'docker' | 'podman'

export interface Output {
  code: number | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Killed (SIGKILL) after this long; default 2 minutes. */
  timeoutMs?: number
  /** Each line of output as it comes, for long builds. */
  onLine?: (line: string) => void
}

/** Why no engine can run (for the skip message), or the engine. */
export function findEngine(): { engine: EngineName } | { reason: string } {
  const tried: string[] = []
  for (const engine of ['docker', 'podman'] as const) {
    const info = spawnSync(engine, ['info'], {
      encoding: 'utf8',
      timeout: 30_000,
    })
    if (info.status === 0) return { engine }
    const why = info.error ? info.error.message : (info.stderr.trim().split('\n').at(-1) ?? '')
    tried.push(`${engine}: ${why}`)
  }
  return { reason: `no container engine answers (${tried.join('; ')})` }
}

/** Runs a command; resolves with its exit code and output whatever the code. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let partial = ''
    const lines = (chunk: string) => {
      if (!options.onLine) return
      const parts = (partial + chunk).split('\n')
      partial = parts.pop() ?? ''
      for (const line of parts) options.onLine(line)
    }
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      lines(chunk)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      lines(chunk)
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      if (partial) options.onLine?.(partial)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Runs a command that must succeed; its trimmed stdout. */
export async function runOk(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  const result = await run(command, args, options)
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`)
  }
  return result.stdout.trim()
}

/** True when the engine has an image under this name. */
export async function imageExists(engine: EngineName, image: string): Promise<boolean> {
  return (await run(engine, ['image', 'inspect', image])).code === 0
}
