// The admin API of a running relay, over HTTP: the only thing the admin commands talk to. Every
// failure becomes an AdminError whose message tells the operator what to fix, in one line, never
// with the token in it.
import { Agent } from 'undici'
import { clean } from './table.ts'

/** Exit 1: the relay could not be asked, or refused; the message says why. */
export class AdminError extends Error {
  override name = 'AdminError'
}

/** Exit 2: what the operator gave (an id read from stdin, say) cannot be what the command needs. */
export class AdminUsageError extends AdminError {
  override name = 'AdminUsageError'
}

export interface AdminClient {
  /** The relay's URL as it may be shown (no credentials). */
  readonly shownUrl: string
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>
  post<T>(path: string, body?: unknown): Promise<T>
  close(): Promise<void>
}

export interface AdminClientOptions {
  url: URL
  token: string
  /** Each phase of a request (connect, headers, body) must finish within this long. */
  timeoutMs?: number
}

// A listing of 1,000 rows or an event with a 1 MiB body and its history fits well within this.
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

/** An API issue path as the operator typed it: `--from`, `<key>`; unknown ones as they are. */
const FIELD_NAMES: Record<string, string> = {
  conforming: '--nonconforming',
  key: '<key>',
  id: '<id>',
  ids: '<id>',
  name: '<target>',
  event: '--event',
  target: '--target',
  status: '--status',
}

function fieldName(path: string): string {
  const head = path.split('.')[0] ?? path
  if (Object.hasOwn(FIELD_NAMES, head)) return FIELD_NAMES[head] as string
  return /^[a-z]+$/.test(head) ? `--${head}` : path
}

export function createAdminClient({ url, token, timeoutMs = 30_000 }: AdminClientOptions): AdminClient {
  const base = new URL(url.href.endsWith('/') ? url.href : `${url.href}/`)
  base.username = ''
  base.password = ''
  const shownUrl = base.href.replace(/\/$/, '')
  const agent = new Agent({
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    maxResponseSize: MAX_RESPONSE_BYTES,
  })

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const target = new URL(path.replace(/^\//, ''), base)
    // x-relay-client: the relay's audit log says a change came from the CLI.
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      'x-relay-client': 'cli',
    }
    if (body !== undefined) headers['content-type'] = 'application/json'
    let response: Awaited<ReturnType<Agent['request']>>
    let text: string
    try {
      response = await agent.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
      text = await response.body.text()
    } catch (error) {
      throw new AdminError(unreachable(error, shownUrl, timeoutMs))
    }
    let answer: unknown
    try {
      answer = JSON.parse(text)
    } catch {
      const type = String(response.headers['content-type'] ?? 'no content type')
      throw new AdminError(
        `${shownUrl} answered HTTP ${response.statusCode} (${clean(type)}), not JSON: is this the relay?`,
      )
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return answer as T
    throw new AdminError(refusal(response.statusCode, answer, shownUrl))
  }

  return {
    shownUrl,
    get(path, query = {}) {
      const params = new URLSearchParams()
      for (const [name, value] of Object.entries(query))
        if (value !== undefined) params.set(name, String(value))
      const search = params.size > 0 ? `?${params}` : ''
      return call('GET', `${path}${search}`)
    },
    post: (path, body = {}) => call('POST', path, body),
    close: () => agent.close(),
  }
}

/** What the relay's error answer means for the operator. */
function refusal(status: number, answer: unknown, shownUrl: string): string {
  const { error, issues } = (answer ?? {}) as { error?: unknown; issues?: unknown }
  const said = typeof error === 'string' ? clean(error) : `HTTP ${status}`
  if (status === 401) return `the relay refused ADMIN_TOKEN (${shownUrl} answered 401)`
  // The app's own answer to a path it has no route for: the admin routes are not registered.
  if (status === 404 && error === 'not found') {
    return `the relay at ${shownUrl} has no admin API: its ADMIN_TOKEN is off (or unset with DATABASE_URL)`
  }
  if (status === 400 && Array.isArray(issues) && issues.length > 0) {
    const fields = issues.map((issue: { path?: unknown; message?: unknown }) => {
      const path = typeof issue.path === 'string' ? issue.path : '(root)'
      return `${clean(fieldName(path))}: ${clean(String(issue.message ?? 'invalid'))}`
    })
    return `${said}: ${fields.join('; ')}`
  }
  if (status >= 500) return `the relay failed: ${said} (HTTP ${status})`
  return said
}

/** Why no answer came, in the operator's words. */
function unreachable(error: unknown, shownUrl: string, timeoutMs: number): string {
  const code = codeOf(error)
  if (code === 'ECONNREFUSED') return `no relay answers at ${shownUrl} (connection refused)`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `no relay answers at ${shownUrl} (host not found)`
  if (
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return `the relay at ${shownUrl} did not answer within ${timeoutMs / 1000} s`
  }
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return `the answer of ${shownUrl} is larger than expected`
  const message = error instanceof Error ? error.message : String(error)
  return `cannot reach ${shownUrl}: ${clean(code ?? message)}`
}

function codeOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined
  const own = (error as { code?: unknown }).code
  if (typeof own === 'string') return own
  // Dual-stack connects fail with an AggregateError whose parts carry the code.
  if (error instanceof AggregateError && error.errors[0] instanceof Error) return codeOf(error.errors[0])
  return codeOf(error.cause)
}
