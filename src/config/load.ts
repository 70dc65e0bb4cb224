// Environment → validated Env → Config, the one way in for the server and the CLI alike: every
// entry point accepts and refuses exactly the same variables.
import { type Config, ConfigError, createConfig } from './config.ts'
import { type Env, envSchema } from './env.ts'

export interface LoadedConfig {
  /** The validated variables, defaults filled in. */
  env: Env
  config: Config
}

/** Throws ConfigError with a one-line message naming each offending variable. */
function loadEnv(env: Record<string, string | undefined>): Env {
  // `KEY=` in a .env file or compose's env_file means "not set", not "set to nothing".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  const result = envSchema.safeParse(present)
  if (result.success) return result.data
  throw new ConfigError(
    result.error.issues
      .map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`)
      .join('; '),
  )
}

/** Validates the environment and builds the frozen Config; `warn` hears non-fatal findings. */
export async function loadConfig(
  env: Record<string, string | undefined>,
  warn: (message: string) => void,
): Promise<LoadedConfig> {
  const validated = loadEnv(env)
  return { env: validated, config: createConfig(validated, warn) }
}
