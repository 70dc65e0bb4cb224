// Environment → validated Env → Config, the one way in for the server and the CLI alike.
// Validation goes through @fastify/env (env-schema: coercion, defaults, its error list) on a
// throwaway instance, so every entry point accepts and refuses exactly the same variables.
import fastifyEnv from '@fastify/env'
import Fastify from 'fastify'
import type { Env } from './env.ts'
import { type Config, ConfigError, createConfig, envJsonSchema } from './index.ts'

export interface LoadedConfig {
  /** The validated variables, defaults filled in. */
  env: Env
  config: Config
}

/** Throws ConfigError with a one-line message naming each offending variable. */
export async function loadEnv(env: Record<string, string | undefined>): Promise<Env> {
  // `KEY=` in a .env file or compose's env_file means "not set", not "set to nothing".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  const probe = Fastify({ logger: false })
  try {
    await probe.register(fastifyEnv, { schema: envJsonSchema, data: present, env: false, confKey: 'env' })
    return probe.getEnvs<Env>()
  } catch (error) {
    throw new ConfigError(describeEnvError(error))
  } finally {
    await probe.close()
  }
}

/** Validates the environment and builds the frozen Config; `warn` hears non-fatal findings. */
export async function loadConfig(
  env: Record<string, string | undefined>,
  warn: (message: string) => void,
): Promise<LoadedConfig> {
  const validated = await loadEnv(env)
  return { env: validated, config: createConfig(validated, warn) }
}

export function describeEnvError(error: unknown): string {
  const issues = (error as { errors?: { instancePath: string; message?: string; params?: unknown }[] }).errors
  if (!issues?.length) return (error as Error).message
  return issues
    .map((issue) => {
      const name = issue.instancePath.replace(/^\//, '') || 'environment'
      const allowed = (issue.params as { allowedValues?: unknown[] } | undefined)?.allowedValues
      return `${name}: ${issue.message}${allowed ? ` (${allowed.join(', ')})` : ''}`
    })
    .join('; ')
}
