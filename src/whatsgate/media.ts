// Inline media: a target may opt in to receiving a message's media file inside the event, so it
// need not hold a WhatsGate API key. This is the one place the relay rewrites an event's JSON.
import type { Logger } from 'pino'
import { MediaFetchError, type PrepareBody } from '../delivery/prepare-body.ts'
import type { Target } from '../delivery/targets.ts'
import { isObject, messageOf, readJsonBody } from '../events/index.ts'
import type { ClaimedDelivery } from '../store/types.ts'
import type { CallOptions, MessageMedia, WhatsGateClient } from './api-client.ts'
import { WhatsGateApiError } from './api-errors.ts'

/** A new body with `event_data.message.media` set; everything else is kept. */
export function withInlineMedia(body: Buffer, media: MessageMedia): Buffer {
  const event = readJsonBody(body)?.value
  const message = messageOf(event)
  if (!message) throw new TypeError('the event has no event_data.message object to attach media to')
  message.media = { mimetype: media.mimetype, filename: media.filename, data: media.data }
  return Buffer.from(JSON.stringify(event))
}

/**
 * The session and message id whose media can be fetched, or null when the event carries none.
 * Only `message` events: `ack` and `sent` carry the same message object (hasMedia included), and
 * inlining the file again for every receipt would cost a get-messagemedia call each.
 */
export function mediaReference(body: Buffer): { whatsappId: string; messageId: string } | null {
  const event = readJsonBody(body)?.value
  if (!isObject(event) || event.event_action !== 'message') return null
  const message = messageOf(event)
  if (message?.hasMedia !== true || typeof message.id !== 'string') return null
  const whatsappId = event.whatsapp_id
  if (typeof whatsappId !== 'string') return null
  return { whatsappId, messageId: message.id }
}

/**
 * The media of a message, or null when WhatsGate answers that the message is unknown or has no
 * media. Every other failure (outage, rejected key, any other error answer, an abort) is thrown
 * as a MediaFetchError, so the delivery is retried instead of going out without its file.
 */
export async function fetchMedia(
  client: Pick<WhatsGateClient, 'getMessageMedia'>,
  whatsappId: string,
  messageId: string,
  options?: CallOptions,
): Promise<MessageMedia | null> {
  try {
    return await client.getMessageMedia(whatsappId, messageId, options)
  } catch (err) {
    if (isNoMediaAnswer(err)) return null
    throw new MediaFetchError(reasonOf(err), { cause: err })
  }
}

/**
 * WhatsGate's answer for an unknown message or one without media. The documentation only says
 * "an error" in its model (HTTP 500, `{name, message, code}`) without naming it; `Not Found` is
 * the name its framework gives a missing record. Anything else, including a 200 without a media
 * object or a 404 page (a wrong WHATSGATE_API_URL), is a failure rather than "no media".
 */
function isNoMediaAnswer(err: unknown): boolean {
  return err instanceof WhatsGateApiError && err.httpStatus === 500 && err.name === 'Not Found'
}

export interface InlineMediaDeps {
  client: Pick<WhatsGateClient, 'getMessageMedia'>
  log: Logger
}

/**
 * The body a target receives: with the message's media inlined when the target asked for it and
 * the event is a `message` with media; otherwise the stored bytes. `signal` bounds the fetch
 * (the attempt's deadline). Throws MediaFetchError when the media could not be fetched.
 */
export async function inlineMediaBody(
  { client, log }: InlineMediaDeps,
  target: Pick<Target, 'name' | 'media'>,
  delivery: Pick<ClaimedDelivery, 'body' | 'eventKey'>,
  signal?: AbortSignal,
): Promise<Buffer> {
  if (target.media !== 'inline') return delivery.body
  const ref = mediaReference(delivery.body)
  if (!ref) return delivery.body
  const media = await fetchMedia(client, ref.whatsappId, ref.messageId, signal ? { signal } : undefined)
  if (media) return withInlineMedia(delivery.body, media)
  // The key, not the message: its text and the chat's phone number stay out of the logs.
  log.info(
    { target: target.name, event: delivery.eventKey },
    'WhatsGate has no media for this message; delivering it without',
  )
  return delivery.body
}

/** The inline-media port for the dispatcher (see delivery/prepare-body.ts). */
export function createMediaInliner(deps: InlineMediaDeps): PrepareBody {
  return (target, delivery, signal) => inlineMediaBody(deps, target, delivery, signal)
}

function reasonOf(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out'
  if (err instanceof Error) return err.message
  return String(err)
}
