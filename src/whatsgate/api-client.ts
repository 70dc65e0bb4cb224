// Client for WhatsGate's command API (`POST <base>/<command>`, JSON, `X-Api-Key`).
// WhatsGate answers failures with HTTP 500 and `{name, message, code}`: that is an answer, not an
// outage, so it is thrown at once. Outages (network errors, timeouts, 502-504, pages that are not
// JSON) are retried with backoff and then surface as WhatsGateUnavailableError.
import type { Logger } from 'pino'
import { type Dispatcher, request } from 'undici'
import { type Clock, systemClock } from '../shared/clock.ts'
import { sleep } from '../shared/sleep.ts'
import { WhatsGateApiError, WhatsGateUnavailableError } from './api-errors.ts'

export interface WhatsGateSession {
  id?: number
  name?: string
  /** The WhatsappID used by every other command and in webhook events. */
  unique_id: string
  status?: string
  callback?: string
  [field: string]: unknown
}

export interface MessageMedia {
  mimetype: string
  filename: string
  /** Base64. */
  data: string
}

export interface Page<T> {
  page: number
  pages: number
  elements: number
  data: T[]
}

export interface SessionsGetParams {
  WhatsappID?: string
  name?: string
  status?: string
  page_cnt?: number
  page?: number
}

export interface EventsGetParams {
  WhatsappID?: string
  /** `YYYY-MM-DD HH:MM:SS`: events at or after this time. */
  date?: string
  action?: string
  page_cnt?: number
  page?: number
}

export interface CallOptions {
  /** Aborts the call, including waits between retries. */
  signal?: AbortSignal
}

export interface WhatsGateClient {
  call(command: string, body?: object, options?: CallOptions): Promise<Record<string, unknown>>
  setHook(whatsappId: string, callback: string, options?: CallOptions): Promise<void>
  sessionsGet(params?: SessionsGetParams, options?: CallOptions): Promise<Page<WhatsGateSession>>
  listAllSessions(
    params?: Omit<SessionsGetParams, 'page'>,
    options?: CallOptions,
  ): Promise<WhatsGateSession[]>
  eventsGet(params?: EventsGetParams, options?: CallOptions): Promise<Page<unknown>>
  getMessageMedia(whatsappId: string, messageId: string, options?: CallOptions): Promise<MessageMedia>
}

export interface WhatsGateClientOptions {
  baseUrl: string
  apiKey: string
  log: Logger
  timeoutMs?: number
  /** Further attempts after the first, for outages only. */
  retries?: number
  backoff?: (attempt: number) => number
  /** What the waits between tries run on; real time by default. */
  clock?: Clock
  /** Media can be large; anything past this is an outage-class failure, not a crash. */
  maxResponseBytes?: number
  dispatcher?: Dispatcher
}

/** An outage-class failure of one attempt; retried by `call`. */
class TransientError extends Error {}

const defaultBackoff = (attempt: number): number => Math.min(10_000, 500 * 2 ** (attempt - 1))

export function createWhatsGateClient(options: WhatsGateClientOptions): WhatsGateClient {
  const { apiKey, log, timeoutMs = 10_000, retries = 3, backoff = defaultBackoff } = options
  const clock = options.clock ?? systemClock
  const maxResponseBytes = options.maxResponseBytes ?? 64 * 1024 * 1024
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`

  // Defence in depth: whatever a server or a library puts in a message, the key does not leave here.
  const redact = (text: string): string => (apiKey ? text.split(apiKey).join('[redacted]') : text)

  async function attempt(command: string, body: object, signal: AbortSignal | undefined) {
    const timeout = AbortSignal.timeout(timeoutMs)
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout
    let statusCode: number
    let text: string
    try {
      const res = await request(new URL(command, base), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify(body),
        signal: combined,
        dispatcher: options.dispatcher,
      })
      statusCode = res.statusCode
      text = await readCapped(res.body, maxResponseBytes)
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      if (timeout.aborted) throw new TransientError(`timed out after ${timeoutMs} ms`)
      throw new TransientError(redact(errorText(err)))
    }
    const parsed = parseObject(text)
    const apiError = parsed && typeof parsed.name === 'string' && 'message' in parsed ? parsed : null
    if (statusCode >= 200 && statusCode < 300 && parsed) {
      if (parsed.result === 'OK') return parsed
      const name = apiError ? String(apiError.name) : `result ${JSON.stringify(parsed.result ?? null)}`
      throw new WhatsGateApiError(
        command,
        redact(name),
        codeOf(parsed),
        redact(String(parsed.message ?? '')),
        statusCode,
      )
    }
    const outage = statusCode === 429 || statusCode >= 502 || statusCode < 400
    if (apiError && !outage && apiError.name !== 'Internal Server Error') {
      const { name, message } = apiError
      throw new WhatsGateApiError(
        command,
        redact(String(name)),
        codeOf(apiError),
        redact(String(message)),
        statusCode,
      )
    }
    if (statusCode >= 400 && statusCode < 500 && statusCode !== 429) {
      throw new WhatsGateApiError(command, `HTTP ${statusCode}`, null, '', statusCode)
    }
    throw new TransientError(`HTTP ${statusCode}${parsed ? '' : ', not a JSON object'}`)
  }

  async function call(command: string, body: object = {}, opts: CallOptions = {}) {
    const attempts = 1 + Math.max(0, retries)
    let reason = ''
    for (let n = 1; n <= attempts; n++) {
      const started = performance.now()
      try {
        const answer = await attempt(command, body, opts.signal)
        log.debug({ command, attempt: n, ms: Math.round(performance.now() - started) }, 'whatsgate call ok')
        return answer
      } catch (err) {
        if (!(err instanceof TransientError)) throw err
        reason = err.message
        log.debug({ command, attempt: n, reason }, 'whatsgate call failed')
        if (n < attempts) await sleep(backoff(n), opts.signal, clock)
      }
    }
    throw new WhatsGateUnavailableError(command, attempts, reason)
  }

  async function sessionsGet(params: SessionsGetParams = {}, opts?: CallOptions) {
    const answer = await call('sessions-get', params, opts)
    const page = toPage(answer, params.page)
    return { ...page, data: page.data.filter(isSession) }
  }

  return {
    call,
    async setHook(whatsappId, callback, opts) {
      await call('set-hook', { WhatsappID: whatsappId, callback }, opts)
    },
    sessionsGet,
    async listAllSessions(params = {}, opts) {
      const sessions: WhatsGateSession[] = []
      // The cap guards against a server that ignores `page` and always answers page 1.
      for (let page = 1; page <= 1000; page++) {
        const answer = await sessionsGet({ ...params, page }, opts)
        sessions.push(...answer.data)
        if (answer.page !== page || page >= answer.pages || answer.data.length === 0) break
      }
      return sessions
    },
    async eventsGet(params = {}, opts) {
      return toPage(await call('events-get', params, opts), params.page)
    },
    async getMessageMedia(whatsappId, messageId, opts) {
      const answer = await call('get-messagemedia', { WhatsappID: whatsappId, MessageID: messageId }, opts)
      const media = answer.media
      if (!isMedia(media)) {
        throw new WhatsGateApiError(
          'get-messagemedia',
          'NoMedia',
          null,
          'the answer holds no media object',
          200,
        )
      }
      return { mimetype: media.mimetype, filename: media.filename ?? '', data: media.data }
    },
  }
}

function toPage(answer: Record<string, unknown>, requested = 1): Page<unknown> {
  const data = Array.isArray(answer.data) ? answer.data : []
  // PHP back ends sometimes send numbers as strings; a missing field means "one page".
  const num = (value: unknown, fallback: number) => {
    const n = Number(value)
    return value === undefined || value === null || value === '' || !Number.isFinite(n) ? fallback : n
  }
  return {
    page: num(answer.page, requested),
    pages: num(answer.pages, 1),
    elements: num(answer.elements, data.length),
    data,
  }
}

function isSession(value: unknown): value is WhatsGateSession {
  return (
    typeof value === 'object' && value !== null && typeof (value as WhatsGateSession).unique_id === 'string'
  )
}

function isMedia(value: unknown): value is { mimetype: string; filename?: string; data: string } {
  if (typeof value !== 'object' || value === null) return false
  const media = value as Record<string, unknown>
  return typeof media.mimetype === 'string' && typeof media.data === 'string'
}

function codeOf(answer: Record<string, unknown>): number | string | null {
  return typeof answer.code === 'number' || typeof answer.code === 'string' ? answer.code : null
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null
  } catch {
    return null
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number) {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > max) {
      body.destroy()
      throw new Error(`answer larger than ${max} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message
}
