// A local WhatsGate that follows /work/shared/whatsgate/api.md: POST /api/v1/<command>, JSON in and
// out, X-Api-Key checked, HTTP 500 `{name, message, code}` on failure. Where the documentation is
// silent (unknown ids, wrong content type) it answers with the same error shape.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'

export interface FakeSession {
  id: number
  name: string
  unique_id: string
  status: string
  callback: string
  date_add: string
  status_name: string
  pushname: string
  wid: string
  qr_link: string
}

export interface FakeMedia {
  mimetype: string
  filename: string
  data: string
}

export interface FakeCall {
  command: string
  headers: IncomingHttpHeaders
  body: unknown
  /** What the fake did: 'ok', 'error' (the documented 500), or the failure kind injected. */
  outcome: string
}

export type FailKind =
  | 'reset' // connection destroyed without an answer
  | '503' // a proxy's error page, not JSON
  | 'hang' // never answers (until close)
  | 'html' // HTTP 200 with an HTML page
  | 'unauthorized' // the documented Unauthorized answer
  | 'result' // HTTP 200, `{"result":"ERROR"}`
  | { name: string; message: string; code: number }

export interface FakeWhatsGateOptions {
  apiKey: string
  sessions?: Array<Partial<FakeSession> & { unique_id: string }>
  events?: Record<string, unknown>[]
  media?: Record<string, FakeMedia>
  /** Fields left out of events-get elements (their shape is undocumented), e.g. ['whatsapp_id']. */
  eventsGetOmits?: string[]
  /** events-get answers the first page whatever `page` asks for (a server that ignores it). */
  eventsGetIgnoresPage?: boolean
}

export interface FakeWhatsGate {
  /** Base URL of the API, e.g. http://127.0.0.1:1234/api/v1 */
  url: string
  calls: FakeCall[]
  sessions: FakeSession[]
  events: Record<string, unknown>[]
  media: Record<string, FakeMedia>
  /** WhatsappID → callback URL, as set by set-hook. */
  hooks: Map<string, string>
  /** While down every request is answered by `how` (connection reset by default). */
  setDown(down: boolean, how?: 'reset' | '503'): void
  /** The next `n` calls of `command` ('*' = any) fail with `kind`. */
  failNext(command: string, n: number, kind: FailKind): void
  setApiKey(apiKey: string): void
  callsOf(command: string): FakeCall[]
  /** POSTs the event to the callback registered for its whatsapp_id, as WhatsGate would. */
  deliver(event: Record<string, unknown>): Promise<{ status: number; body: unknown }>
  /** Idempotent. */
  close(): Promise<void>
}

export const UNAUTHORIZED = {
  name: 'Unauthorized',
  message: 'Your request was made with invalid credentials.',
  code: 0,
}

export function fakeSession(uniqueId: string, overrides: Partial<FakeSession> = {}): FakeSession {
  return {
    id: 100,
    name: `Session ${uniqueId}`,
    unique_id: uniqueId,
    status: 'READY',
    callback: '',
    date_add: '2022-10-12 10:35:01',
    status_name: 'Working',
    pushname: 'Vasya',
    wid: '79991234567@c.us',
    qr_link: '',
    ...overrides,
  }
}

export async function startFakeWhatsGate(options: FakeWhatsGateOptions): Promise<FakeWhatsGate> {
  let apiKey = options.apiKey
  let down: false | 'reset' | '503' = false
  const failures: Array<{ command: string; n: number; kind: FailKind }> = []
  const calls: FakeCall[] = []
  const sessions = (options.sessions ?? []).map((s, i) => fakeSession(s.unique_id, { id: 150 + i, ...s }))
  const events = options.events ?? []
  const media = options.media ?? {}
  const hooks = new Map<string, string>()
  for (const s of sessions) if (s.callback) hooks.set(s.unique_id, s.callback)

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' })
    res.end(JSON.stringify(body))
  }
  const fail = (res: ServerResponse, name: string, message: string, code = 0) =>
    send(res, 500, { name, message, code })

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    let body: unknown
    try {
      body = raw ? JSON.parse(raw) : undefined
    } catch {
      body = raw
    }
    const prefix = '/api/v1/'
    const path = req.url ?? ''
    const command = path.startsWith(prefix) ? path.slice(prefix.length) : path
    const call: FakeCall = { command, headers: req.headers, body, outcome: 'ok' }
    calls.push(call)

    if (down) {
      call.outcome = `down-${down}`
      if (down === 'reset') return void req.socket.destroy()
      res.writeHead(503, { 'content-type': 'text/html' })
      return void res.end('<html><body>503 Service Temporarily Unavailable</body></html>')
    }
    const failure = failures.find((f) => f.n > 0 && (f.command === command || f.command === '*'))
    if (failure) {
      failure.n--
      const { kind } = failure
      call.outcome = typeof kind === 'string' ? kind : kind.name
      if (kind === 'reset') return void req.socket.destroy()
      if (kind === 'hang') return
      if (kind === '503') {
        res.writeHead(503, { 'content-type': 'text/html' })
        return void res.end('<html>503</html>')
      }
      if (kind === 'html') {
        res.writeHead(200, { 'content-type': 'text/html' })
        return void res.end('<html><body>Maintenance</body></html>')
      }
      if (kind === 'unauthorized') return send(res, 500, UNAUTHORIZED)
      if (kind === 'result') return send(res, 200, { result: 'ERROR', message: 'Something went wrong' })
      return send(res, 500, kind)
    }

    call.outcome = 'error'
    if (req.method !== 'POST' || !path.startsWith(prefix)) {
      return send(res, 404, { name: 'Not Found', message: 'Page not found.', code: 0, status: 404 })
    }
    if (req.headers['x-api-key'] !== apiKey) return send(res, 500, UNAUTHORIZED)
    if (!req.headers['content-type']?.startsWith('application/json')) {
      return fail(res, 'Bad Request', 'Content-Type must be application/json')
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return fail(res, 'Bad Request', 'The request body must be a JSON object')
    }
    const params = body as Record<string, unknown>
    const handler = handlers[command]
    if (!handler) return fail(res, 'Not Found', `Unknown command ${command}`)
    call.outcome = 'ok'
    const [status, answer] = handler(params)
    if (status !== 200) call.outcome = 'error'
    send(res, status, answer)
  })

  type Answer = [number, unknown]
  const notFound = (message: string): Answer => [500, { name: 'Not Found', message, code: 404 }]

  const handlers: Record<string, (params: Record<string, unknown>) => Answer> = {
    'set-hook': (params) => {
      const session = sessions.find((s) => s.unique_id === params.WhatsappID)
      if (!session) return notFound('WhatsApp not found')
      if (typeof params.callback !== 'string')
        return [500, { name: 'Bad Request', message: 'callback', code: 0 }]
      session.callback = params.callback
      hooks.set(session.unique_id, params.callback)
      return [200, { result: 'OK' }]
    },
    'sessions-get': (params) => {
      const matching = sessions.filter(
        (s) =>
          (params.WhatsappID === undefined || s.unique_id === params.WhatsappID) &&
          (params.name === undefined || s.name === params.name) &&
          (params.status === undefined || s.status === params.status),
      )
      return [200, paginate(matching, params)]
    },
    'events-get': (params) => {
      const date = typeof params.date === 'string' ? params.date : undefined
      const matching = events
        .filter(
          (e) =>
            (params.WhatsappID === undefined || e.whatsapp_id === params.WhatsappID) &&
            (params.action === undefined || e.event_action === params.action) &&
            (date === undefined || String(e.event_date) >= date),
        )
        .sort(
          (a, b) => String(a.event_date).localeCompare(String(b.event_date)) || Number(a.id) - Number(b.id),
        )
      const omit = options.eventsGetOmits ?? []
      const shown = matching.map((e) =>
        Object.fromEntries(Object.entries(e).filter(([k]) => !omit.includes(k))),
      )
      return [200, paginate(shown, options.eventsGetIgnoresPage ? { ...params, page: 1 } : params)]
    },
    'get-messagemedia': (params) => {
      const found = typeof params.MessageID === 'string' ? media[params.MessageID] : undefined
      if (!found) return notFound('Message not found or has no media')
      return [200, { result: 'OK', media: found }]
    },
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/api/v1`,
    calls,
    sessions,
    events,
    media,
    hooks,
    setDown(value, how = 'reset') {
      down = value ? how : false
    },
    failNext(command, n, kind) {
      failures.push({ command, n, kind })
    },
    setApiKey(key) {
      apiKey = key
    },
    callsOf(command) {
      return calls.filter((c) => c.command === command)
    },
    async deliver(event) {
      const callback = hooks.get(String(event.whatsapp_id))
      if (!callback) throw new Error(`no callback registered for ${String(event.whatsapp_id)}`)
      const res = await fetch(callback, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
      })
      const text = await res.text()
      let parsed: unknown = text
      try {
        parsed = JSON.parse(text)
      } catch {}
      return { status: res.status, body: parsed }
    },
    close() {
      if (!server.listening) return Promise.resolve()
      server.closeAllConnections()
      return new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())))
    },
  }
}

function paginate<T>(items: T[], params: Record<string, unknown>) {
  const pageCnt = Math.min(100, Math.max(1, Number(params.page_cnt ?? 10) || 10))
  const page = Math.max(1, Number(params.page ?? 1) || 1)
  const pages = Math.ceil(items.length / pageCnt)
  return {
    result: 'OK',
    pages,
    elements: items.length,
    page,
    data: items.slice((page - 1) * pageCnt, page * pageCnt),
  }
}

/** A pino logger that keeps every line (parsed), for assertions on what was logged. */
export function captureLogger(level = 'debug') {
  const lines: string[] = []
  const log = pino({ level }, { write: (line: string) => void lines.push(line) })
  const entries = () =>
    lines.map((line) => JSON.parse(line) as Record<string, unknown> & { level: number; msg: string })
  return { log, lines, entries }
}
