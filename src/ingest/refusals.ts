// What happens to a webhook request the relay refuses: WhatsGate retries it three times and then
// drops it, so every refusal is made visible. One warn line (never the token or the body), a
// metric by reason, and, once the token has matched, the request itself kept for the operator:
// what WhatsGate sent that the relay could not take.
import type { FastifyRequest } from 'fastify'
import type { IngestStore } from '../store/types.ts'
import { headersAsReceived } from './request-headers.ts'

export type RefusalReason =
  | 'token'
  | 'not_found'
  | 'too_large'
  | 'incomplete'
  | 'not_json'
  | 'no_identity'
  | 'bad_request'

export interface Refusal {
  reason: RefusalReason
  status: number
  /** The body as read; null when it was not read (wrong token, too large). */
  body: Buffer | null
}

export interface RefusalsDeps {
  store: Pick<IngestStore, 'keepRefused'>
  /** How many refused requests the store keeps; 0 = none. */
  keep: number
  onRefused?: (reason: RefusalReason) => void
}

export type RecordRefusal = (request: FastifyRequest, refusal: Refusal) => Promise<void>

// Header values that may carry a credential; their names are kept, their values are not.

export function createRefusals({ store, keep, onRefused }: RefusalsDeps): RecordRefusal {
  return async (request, { reason, status, body }) => {
    const announced = Number(request.headers['content-length'])
    const bodySize = body?.length ?? (Number.isSafeInteger(announced) ? announced : null)
    request.log.warn({ status, reason, remoteAddress: request.ip, bodySize }, 'webhook request refused')
    onRefused?.(reason)
    // A wrong token can come from anyone: what such a request carries is not the operator's.
    if (reason === 'token' || keep === 0) return
    try {
      await store.keepRefused(
        {
          receivedAt: Date.now(),
          reason,
          status,
          headers: headersAsReceived(request.raw.rawHeaders),
          body,
          bodySize,
        },
        keep,
      )
    } catch (error) {
      request.log.error({ err: error }, 'the refused request could not be kept')
    }
  }
}
