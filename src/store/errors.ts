/** The store could not take a write (disk full, locked, closed): the caller answers 503. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError'
  constructor(cause: unknown) {
    super(`store unavailable: ${(cause as Error)?.message ?? String(cause)}`, { cause })
  }
}
