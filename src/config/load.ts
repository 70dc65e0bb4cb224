// Environment → validated Env → Config, the one way in for the server and the CLI alike.
// Validation goes through @fastify/env (env-schema: coercion, defaults, its error list) on a
// throwaway instance, so every entry point accepts and refuses exactly the same variables.
import fastifyEnv from '@fastify/env'
import Fastify from 'fastify'
import type { z } from 'zod'
import { type Config, ConfigError, createConfig } from './config.ts'
import { type Env, envJsonSchema, envSchema } from './env.ts'

export interface LoadedConfig {
  /** The validated variables, defaults filled in. */
  env: Env
  config: Config
}

/** Throws ConfigError with a one-line message naming each offending variable. */
async function loadEnv(env: Record<string, string | undefined>): Promise<Env> {
  // `KEY=` in a .env file or compose's env_file means "not set", not "set to nothing".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  const probe = Fastify({ logger: false })
  try {
    await probe.register(fastifyEnv, { schema: envJsonSchema, data: present, env: false, confKey: 'env' })
    return probe.getEnvs<Env>()
  } catch (error) {
    throw new ConfigError(describeEnvError(error, present))
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

interface EnvIssue {
  instancePath: string
  keyword: string
  message?: string
  params?: unknown
}

function describeEnvError(error: unknown, env: Record<string, string | undefined> = {}): string {
  const issues = (error as { errors?: EnvIssue[] }).errors
  if (!issues?.length) return (error as Error).message
  return issues
    .map((issue) => {
      const name = issue.instancePath.replace(/^\//, '') || 'environment'
      const allowed = (issue.params as { allowedValues?: unknown[] } | undefined)?.allowedValues
      const message = schemaMessage(name, issue.keyword, env[name]) ?? issue.message
      return `${name}: ${message}${allowed ? ` (${allowed.join(', ')})` : ''}`
    })
    .join('; ')
}

/**
 * The zod schema's own words for a failed string rule: ajv says `must match pattern "^[A-Za-z…"`,
 * the schema says what is allowed and why. Not for other rules: ajv checks coerced values.
 */
function schemaMessage(name: string, keyword: string, value: string | undefined): string | undefined {
  const code = STRING_RULES[keyword]
  if (code === undefined || value === undefined) return undefined
  const field = (envSchema.shape as Record<string, z.ZodType | undefined>)[name]
  return field?.safeParse(value).error?.issues.find((issue) => issue.code === code)?.message
}

/** ajv's keyword → the code of zod's issue for the same rule. */
const STRING_RULES: Record<string, string> = {
  minLength: 'too_small',
  maxLength: 'too_big',
  pattern: 'invalid_format',
}
