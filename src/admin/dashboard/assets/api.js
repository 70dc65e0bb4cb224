// The JSON admin API, called as the signed-in browser: the session cookie goes along by itself.
// Changes are sent as application/json, which the relay demands of cookie-authenticated changes.

export class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

let signingOut = false

/** GET (or `method`) /admin/<path>; resolves to the answer's JSON, throws ApiError otherwise. */
export async function api(path, { method = 'GET', body } = {}) {
  const init = { method, headers: { accept: 'application/json' }, cache: 'no-store' }
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let response
  try {
    response = await fetch(`/admin/${path}`, init)
  } catch {
    throw new ApiError(0, 'the relay did not answer')
  }
  // The session ended (expired, signed out elsewhere, the token changed): the page itself now
  // answers with the sign-in form, and the address keeps the route to come back to.
  if (response.status === 401) {
    if (!signingOut) {
      signingOut = true
      location.reload()
    }
    throw new ApiError(401, 'signed out')
  }
  const data = await response.json().catch(() => null)
  if (!response.ok) {
    const detail = data?.issues?.map((issue) => `${issue.path}: ${issue.message}`).join('; ')
    const message = data?.error ?? 'no explanation'
    throw new ApiError(response.status, `HTTP ${response.status}: ${message}${detail ? ` (${detail})` : ''}`)
  }
  return data
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

export async function signOut() {
  signingOut = true
  await fetch('/admin/session', { method: 'DELETE' }).catch(() => {})
  location.reload()
}
