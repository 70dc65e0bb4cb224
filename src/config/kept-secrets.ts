// Secrets the relay makes on its first start and keeps in DATA_DIR, so that what was handed out
// survives restarts: the ingest token (in the callback URL WhatsGate has), the admin token, and
// the signing secret receivers verify with. Each has a variable that, when set, wins and nothing
// is written.
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
import { decodeWebhookSecret } from '../delivery/standard-webhooks.ts'
import { ingestTokenSchema } from './env.ts'

export class KeptSecretError extends Error {
  override name = 'KeptSecretError'
}

export interface KeptSecretKind {
  /** The file's name in DATA_DIR. */
  file: string
  /** The variable that sets it instead. */
  variable: string
  /** What it is, for messages. */
  what: string
  make: () => string
  /** Why a value is not valid, said of it (`must be …`); null when it is valid. */
  problem: (value: string) => string | null
}

export const INGEST_TOKEN: KeptSecretKind = {
  file: 'ingest-token',
  variable: 'INGEST_TOKEN',
  what: 'ingest token',
  make: () => randomBytes(24).toString('base64url'),
  problem: (value) => {
    const checked = ingestTokenSchema.safeParse(value)
    return checked.success ? null : (checked.error.issues[0]?.message ?? 'is not valid')
  },
}

export const ADMIN_TOKEN: KeptSecretKind = {
  file: 'admin-token',
  variable: 'ADMIN_TOKEN',
  what: 'admin token',
  make: () => randomBytes(24).toString('base64url'),
  problem: (value) => (value.length >= 16 ? null : 'must be at least 16 characters'),
}

export const SIGNING_SECRET: KeptSecretKind = {
  file: 'signing-secret',
  variable: 'FORWARD_SECRET',
  what: 'signing secret',
  // Standard Webhooks: whsec_ and 24 to 64 random bytes in base64.
  make: () => `whsec_${randomBytes(32).toString('base64')}`,
  problem: (value) => {
    try {
      decodeWebhookSecret(value)
      return null
    } catch (error) {
      return (error as Error).message
    }
  },
}

export interface KeptSecret {
  value: string
  /** True when it was made on this start (into keptSecretPath). */
  generated: boolean
}

/** Where a secret made because its variable is unset is kept. */
export function keptSecretPath(dataDir: string, kind: KeptSecretKind): string {
  return join(dataDir, kind.file)
}

/**
 * The configured value, or the one kept in DATA_DIR, made on first start. Throws KeptSecretError
 * for a file that holds no valid value.
 */
export function resolveKeptSecret(
  dataDir: string,
  kind: KeptSecretKind,
  configured: string | undefined,
): KeptSecret {
  if (configured) return { value: configured, generated: false }
  const kept = readKeptSecret(dataDir, kind)
  if (kept !== null) return { value: kept, generated: false }
  // The relay's user only: the folder holds these secrets and the outbox's message bodies.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const value = kind.make()
  writeFileAtomically(keptSecretPath(dataDir, kind), `${value}\n`)
  return { value, generated: true }
}

/** The value kept in DATA_DIR, null when there is no file yet. */
export function readKeptSecret(dataDir: string, kind: KeptSecretKind): string | null {
  const file = keptSecretPath(dataDir, kind)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  const value = text.trim()
  // Refused, not replaced: an empty ingest token would match `POST /webhook/` (anyone could post),
  // and a new value would silently break what was handed out. The content is never echoed.
  const problem = value === '' ? 'is empty' : kind.problem(value)
  if (problem === null) return value
  throw new KeptSecretError(
    `${file} holds no valid ${kind.what} (it ${problem}); delete the file to have a new one made, or set ${kind.variable}`,
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
