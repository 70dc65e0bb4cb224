// The port through which a target's body is made before it is sent. Delivery declares it, and the
// error that says "the body's source failed"; whatsgate/media.ts plugs in behind it (inline media).
import type { ClaimedDelivery } from '../store/types.ts'
import type { Target } from './targets.ts'

/** The bytes a target receives for this delivery; `signal` aborts at the attempt's deadline. */
export type PrepareBody = (target: Target, delivery: ClaimedDelivery, signal: AbortSignal) => Promise<Buffer>

/**
 * WhatsGate (or the way to it) failed to give a message's media: an outcome of the delivery's
 * attempt, retried like a failed send, never "our side failed". The message is the error the
 * delivery records, `media: <reason>`.
 */
export class MediaFetchError extends Error {
  override name = 'MediaFetchError'
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`media: ${reason}`, options)
  }
}
