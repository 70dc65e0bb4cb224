import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The configured token, or one made on first start and kept in DATA_DIR so the callback URL
 * registered with WhatsGate survives restarts.
 */
export function resolveIngestToken(dataDir: string, configured: string | undefined) {
  if (configured) return { token: configured, generated: false }
  const file = join(dataDir, 'ingest-token')
  try {
    return { token: readFileSync(file, 'utf8').trim(), generated: false }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  mkdirSync(dataDir, { recursive: true })
  const token = randomBytes(24).toString('base64url')
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' })
  return { token, generated: true }
}
