// What happens to a webhook request the relay refuses: WhatsGate retries it three times and then
// drops it, so every refusal is made visible. Each counts in a metric by reason. One that came
// past the token (what WhatsGate sent that the relay could not take) also writes a warn line
// (never the token or the body) and is kept for the operator. One anyone could send (a wrong
// token, an unknown path) is only logged in aggregate, per address: a stranger's flood must
// neither push WhatsGate's refused requests out of the store nor fill the disk with log lines.
import type { FastifyRequest } from 'fastify'
import type { AggregateLog } from '../shared/aggregate-log.ts'
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
  /** Where refusals that need no token are logged, keyed by reason and address. */
  strangers: Pick<AggregateLog, 'record'>
}

export type RecordRefusal = (request: FastifyRequest, refusal: Refusal) => Promise<void>

export function createRefusals({ store, keep, onRefused, strangers }: RefusalsDeps): RecordRefusal {
  return async (request, { reason, status, body }) => {
    onRefused?.(reason)
    if (reason === 'token' || reason === 'not_found') {
      strangers.record(`${reason} ${request.ip}`, { reason, status, remoteAddress: request.ip })
      return
    }
    const announced = Number(request.headers['content-length'])
    const bodySize = body?.length ?? (Number.isSafeInteger(announced) ? announced : null)
    request.log.warn({ status, reason, remoteAddress: request.ip, bodySize }, 'webhook request refused')
    if (keep === 0) return
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
