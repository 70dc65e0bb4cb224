/** The store could not take a write (disk full, locked, closed): the caller answers 503. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError'
  constructor(cause: unknown) {
    super(`store unavailable: ${(cause as Error)?.message ?? String(cause)}`, { cause })
  }
}

// SQLite's primary result codes a write may fail with (node:sqlite gives only the number).
const SQLITE_CODES: Record<number, string> = {
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
}

/** Why the store failed, for /readyz: `SQLITE_FULL: database or disk is full`, `ECONNREFUSED: ...`. */
export function reasonOf(error: unknown): string {
  const cause = (error instanceof StoreUnavailableError ? error.cause : error) as {
    errcode?: unknown
    code?: unknown
    message?: unknown
  }
  const message = String(cause?.message ?? cause)
  if (typeof cause?.errcode === 'number') {
    return `${SQLITE_CODES[cause.errcode & 0xff] ?? `SQLITE_${cause.errcode}`}: ${message}`
  }
  return typeof cause?.code === 'string' && cause.code !== '' ? `${cause.code}: ${message}` : message
}

/** PostgreSQL's class 22 (data exception): one event's data at fault, not the store. */
export function isDataError(error: unknown): boolean {
  return /^22/.test(String((error as { cause?: { code?: unknown } })?.cause?.code))
}
