import { randomBytes } from 'node:crypto'
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { ingestTokenSchema } from './env.ts'

export class IngestTokenError extends Error {
  override name = 'IngestTokenError'
}

export interface IngestToken {
  token: string
  /** True when the token was made on this start (into ingestTokenPath). */
  generated: boolean
}

/** Where a token made because INGEST_TOKEN is unset is kept. */
export function ingestTokenPath(dataDir: string): string {
  return join(dataDir, 'ingest-token')
}

/**
 * The configured token, or one made on first start and kept in DATA_DIR so the callback URL
 * registered with WhatsGate survives restarts. Throws IngestTokenError for a file that holds no
 * valid token.
 */
export function resolveIngestToken(dataDir: string, configured: string | undefined): IngestToken {
  if (configured) return { token: configured, generated: false }
  const file = ingestTokenPath(dataDir)
  const kept = readTokenFile(file)
  if (kept !== null) return { token: kept, generated: false }
  // The relay's user only: the folder holds this token and the outbox's message bodies.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const token = randomBytes(24).toString('base64url')
  writeFileAtomically(file, `${token}\n`)
  return { token, generated: true }
}

/** The token in the file, null when there is no file. */
function readTokenFile(file: string): string | null {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  const token = text.trim()
  const checked = ingestTokenSchema.safeParse(token)
  if (checked.success) return token
  // Refused, not replaced: an empty token would match `POST /webhook/` (anyone could post), and a
  // new one would silently break the callback URL WhatsGate has. The content is never echoed.
  const problem = token === '' ? 'it is empty' : `the token ${checked.error.issues[0]?.message}`
  throw new IngestTokenError(
    `${file} holds no valid ingest token (${problem}); delete the file to have a new one made, or set INGEST_TOKEN`,
  )
}

/**
 * Temporary file, flushed, then renamed: the name holds either nothing or the whole token, never
 * the empty file a crash between creating and writing would leave. The folder is flushed too, or
 * a power cut could undo the rename and the next start would make a different token.
 */
function writeFileAtomically(file: string, text: string): void {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const fd = openSync(temporary, 'wx', 0o600)
    try {
      writeFileSync(fd, text)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporary, file)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
  syncFolder(dirname(file))
}

function syncFolder(folder: string): void {
  // Windows can neither open nor flush a folder; its rename is as durable as it gets there.
  if (process.platform === 'win32') return
  const fd = openSync(folder, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
