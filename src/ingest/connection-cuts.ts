// Connections the server cuts before any route answers: a client too slow with its headers (the
// headers timeout) or with its body (the request timeout), or one that sent what is not HTTP.
// Node's server emits `clientError` for each (both timeouts as ERR_HTTP_REQUEST_TIMEOUT) and
// Fastify's listener answers it (408, 431 or 400) and closes the socket; no route hears of it,
// but for a body cut mid-way. So each cut is counted here by reason, and logged in aggregate per
// address: anyone can provoke them.
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'
import type { AggregateLog } from '../shared/aggregate-log.ts'

export type CutReason = 'headers_timeout' | 'request_timeout' | 'malformed'

export interface ConnectionCutsDeps {
  /** Where the cuts are logged, keyed by reason and address. */
  log: Pick<AggregateLog, 'record'>
  onCut?: (reason: CutReason) => void
}

export interface ConnectionCuts {
  /** Whether the request timeout cut this request's body (the server then answered 408). */
  cutByRequestTimeout(request: IncomingMessage): boolean
}

export function watchConnectionCuts(server: Server, { log, onCut }: ConnectionCutsDeps): ConnectionCuts {
  // The latest request of each connection whose headers were read: a timeout while its body is
  // still coming is the request timeout; one without it (or after it was read) is the headers'.
  const latestRequest = new WeakMap<Socket, IncomingMessage>()
  const timedOut = new WeakSet<IncomingMessage>()

  server.on('request', (request: IncomingMessage) => latestRequest.set(request.socket, request))
  // Ahead of Fastify's listener, which destroys the socket (and with it the remote address).
  server.prependListener('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const request = latestRequest.get(socket)
    const reason = reasonOf(error, request)
    if (reason === null) return
    if (reason === 'request_timeout' && request) timedOut.add(request)
    onCut?.(reason)
    const remoteAddress = socket.remoteAddress ?? 'unknown'
    log.record(`${reason} ${remoteAddress}`, { reason, remoteAddress })
  })

  return { cutByRequestTimeout: (request) => timedOut.has(request) }
}

function reasonOf(error: NodeJS.ErrnoException, request: IncomingMessage | undefined): CutReason | null {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return request && !request.complete ? 'request_timeout' : 'headers_timeout'
  // llhttp's parse errors (HPE_INVALID_METHOD, HPE_HEADER_OVERFLOW, ...); a reset is the client leaving.
  if (error.code?.startsWith('HPE_')) return 'malformed'
  return null
}
