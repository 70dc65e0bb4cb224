// Settings from a file, read by the relay and the CLI as they start: `.env` in the working
// directory (what `cp .env.example .env` makes, and what compose reads), or the file ENV_FILE
// names. A variable already in the environment wins over the file, as with compose and Node's
// own --env-file.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseEnv } from 'node:util'
import { ConfigError } from './config.ts'

export const DEFAULT_ENV_FILE = '.env'

/**
 * Fills the variables of `env` that are not set from the file; returns the path read, or null when
 * there is no `.env`. An ENV_FILE that cannot be read is a ConfigError: it was asked for.
 */
export function loadEnvFile(env: Record<string, string | undefined>, cwd = process.cwd()): string | null {
  const chosen = env.ENV_FILE || undefined
  const path = resolve(cwd, chosen ?? DEFAULT_ENV_FILE)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (chosen === undefined && code === 'ENOENT') return null
    throw new ConfigError(`ENV_FILE: cannot read ${path} (${code ?? (error as Error).message})`)
  }
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] === undefined) env[name] = value
  }
  return path
}
