// One HTTP POST to a target, with every failure turned into data. The dispatcher classifies the
// outcome (retry-policy.ts); this module only guarantees that a call ends, within its deadline,
// without reading more of the response than it needs and without throwing.
import { performance } from 'node:perf_hooks'
import { Agent, type Dispatcher } from 'undici'

/** Bytes of a response body kept, as text, for the attempt history. */
export const MAX_EXCERPT_BYTES = 1024

export interface SendRequest {
  url: string
  headers: Record<string, string>
  body: Buffer
  timeoutMs: number
}

export interface SendResult {
  /** The response status, or null when none arrived. */
  status: number | null
  retryAfter: string | undefined
  /** Why the attempt failed at the transport level (`timeout after 5000 ms`, `ECONNREFUSED`). */
  error: string | null
  /** The deadline ended the call (before the answer, or while its body came): `error` says so too. */
  timedOut: boolean
  durationMs: number
  /**
   * The first MAX_EXCERPT_BYTES of the response body as text, cut back to a whole UTF-8 character
   * (invalid bytes and NULs shown as U+FFFD); null when no response arrived.
   */
  responseExcerpt: string | null
}

export interface HttpSender {
  send(request: SendRequest): Promise<SendResult>
  /**
   * Drops every connection, aborting sends still in flight: the dispatcher has already waited
   * its shutdown timeout for them and given their leases back.
   */
  close(): Promise<void>
}

export interface HttpSenderOptions {
  userAgent: string
  /**
   * Response bytes read before the connection is dropped: the status and an excerpt are all we
   * keep, the rest is read only so that keep-alive can reuse the socket.
   */
  maxResponseBytes?: number
  /** Sockets per origin. Each target's own concurrency (max 256) is the real limit. */
  connectionsPerOrigin?: number
  connectTimeoutMs?: number
}

const MAX_ERROR_LENGTH = 300

export function createHttpSender(options: HttpSenderOptions): HttpSender {
  const maxResponseBytes = options.maxResponseBytes ?? 64 * 1024
  // An Agent keeps one keep-alive Pool per origin, so targets on one host share warm sockets.
  const agent = new Agent({
    connections: options.connectionsPerOrigin ?? 256,
    connect: { timeout: options.connectTimeoutMs ?? 10_000 },
    // Idle sockets are kept this long unless the server's Keep-Alive hint is shorter.
    keepAliveTimeout: 30_000,
    // Redirects are not followed (the default): re-sending a signed event to another URL is
    // the target's decision to make in its config, not ours at run time.
  })

  async function send(request: SendRequest): Promise<SendResult> {
    // The deadline covers queueing, connecting, headers and body: undici's own timeouts are per
    // phase, so a target trickling bytes could otherwise hold a slot indefinitely.
    const deadline = deadlineOf(request.timeoutMs)
    try {
      return await sendBefore(request, deadline.signal)
    } finally {
      deadline.clear()
    }
  }

  async function sendBefore(request: SendRequest, deadline: AbortSignal): Promise<SendResult> {
    const started = performance.now()
    const elapsed = () => Math.round(performance.now() - started)
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value
    headers['user-agent'] = options.userAgent
    headers['content-type'] = 'application/json'

    let response: Awaited<ReturnType<Agent['request']>>
    try {
      const url = new URL(request.url)
      response = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        body: request.body,
        signal: deadline,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      })
    } catch (error) {
      return {
        status: null,
        retryAfter: undefined,
        ...describeFailure(error, request.timeoutMs),
        durationMs: elapsed(),
        responseExcerpt: null,
      }
    }

    const retryAfter = headerValue(response.headers['retry-after'])
    const length = Number(headerValue(response.headers['content-length']))
    const body = await readHead(response.body, {
      limit: maxResponseBytes,
      announced: Number.isFinite(length) ? length : null,
      deadline,
    })
    // The status already arrived; a deadline hit while the body trickles in is reported with it.
    const failure: Failure = body.timedOut
      ? describeFailure(deadline.reason, request.timeoutMs)
      : { error: null, timedOut: false }
    return {
      status: response.statusCode,
      retryAfter,
      ...failure,
      durationMs: elapsed(),
      responseExcerpt: excerptOf(body.head),
    }
  }

  return { send, close: () => agent.destroy() }
}

type ResponseBody = Dispatcher.ResponseData['body']

/**
 * A signal that aborts with a TimeoutError after `ms`, cleared once the send is over: unlike
 * AbortSignal.timeout, whose timer and signal live on for the whole `ms` whatever happened (some
 * 7,000 of them at a time under load), it costs nothing after its request.
 */
function deadlineOf(ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timeout after ${ms} ms`, 'TimeoutError')),
    ms,
  )
  return { signal: controller.signal, clear: () => clearTimeout(timer) }
}

/**
 * Reads a response body to its end, keeping its first MAX_EXCERPT_BYTES: the rest is discarded
 * as it comes, so keep-alive can reuse the socket. A body found (or announced) larger than `limit`
 * is not drained: once its head is in, the stream is destroyed and undici drops the socket rather
 * than reuse it. Never rejects; like undici's own dump(), only the deadline counts as a failure
 * once the status has arrived.
 */
function readHead(
  body: ResponseBody,
  { limit, announced, deadline }: { limit: number; announced: number | null; deadline: AbortSignal },
): Promise<{ head: Buffer; timedOut: boolean }> {
  return new Promise((resolve) => {
    const head: Buffer[] = []
    let kept = 0
    let read = 0
    const tooLarge = announced !== null && announced > limit
    const onDeadline = () => body.destroy(deadline.reason)
    const done = () => {
      deadline.removeEventListener('abort', onDeadline)
      resolve({ head: Buffer.concat(head), timedOut: deadline.aborted && !body.readableEnded })
    }
    if (body.closed) return done()
    body.on('close', done)
    body.on('error', () => {}) // its end is the close above
    body.on('data', (chunk: Buffer) => {
      read += chunk.length
      if (kept < MAX_EXCERPT_BYTES) {
        // A copy: a slice would keep the whole chunk alive until the body ends.
        const part = Buffer.from(chunk.subarray(0, MAX_EXCERPT_BYTES - kept))
        head.push(part)
        kept += part.length
      }
      if (read > limit || (tooLarge && kept >= MAX_EXCERPT_BYTES)) body.destroy()
    })
    if (deadline.aborted) onDeadline()
    else deadline.addEventListener('abort', onDeadline, { once: true })
  })
}

/**
 * The head of a body as text. A streaming decode holds back a character the byte cap cut in two,
 * so the text ends on a whole one; NUL becomes U+FFFD, as PostgreSQL's text cannot hold it.
 */
function excerptOf(head: Buffer): string {
  return new TextDecoder('utf-8').decode(head, { stream: true }).replaceAll('\0', '\uFFFD')
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

type Failure = Pick<SendResult, 'error' | 'timedOut'>

/** What ended the call: its kind (a timeout or not), and its text for the store and the logs. */
function describeFailure(error: unknown, timeoutMs: number): Failure {
  const timedOut =
    error instanceof Error && (error.name === 'TimeoutError' || TIMEOUT_CODES.has(codeOf(error) ?? ''))
  return { error: timedOut ? `timeout after ${timeoutMs} ms` : describeError(error), timedOut }
}

/** A short, stable string for the store and the logs: the OS code where there is one. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, MAX_ERROR_LENGTH)
  const code = codeOf(error)
  // ECONNREFUSED, ENOTFOUND, ECONNRESET...: the code is the message people search for.
  if (code && /^E[A-Z0-9_]+$/.test(code)) return code
  if (code === 'UND_ERR_SOCKET') return `socket closed: ${error.message}`.slice(0, MAX_ERROR_LENGTH)
  return `${code ?? error.name}: ${error.message}`.slice(0, MAX_ERROR_LENGTH)
}

function codeOf(error: Error): string | undefined {
  const own = (error as { code?: unknown }).code
  if (typeof own === 'string') return own
  // Dual-stack connects fail with an AggregateError whose parts carry the code.
  if (error instanceof AggregateError) {
    const first: unknown = error.errors[0]
    if (first instanceof Error) return codeOf(first)
  }
  if (error.cause instanceof Error) return codeOf(error.cause)
  return undefined
}
