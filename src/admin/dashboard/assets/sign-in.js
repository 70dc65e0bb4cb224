// The sign-in form: the token goes to POST /admin/session as JSON, the relay answers with an HttpOnly
// cookie, and the page reloads as the dashboard (the address's #/route is kept).
const form = document.getElementById('sign-in')
const input = document.getElementById('token')
const error = document.getElementById('sign-in-error')

if (new URLSearchParams(location.search).get('link') === 'expired') {
  error.textContent =
    'That sign-in link has expired or was used already: run whatsgate-relay admin-url again, or sign in with the token.'
}

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  error.textContent = ''
  const button = form.querySelector('button')
  button.disabled = true
  try {
    const response = await fetch('/admin/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: input.value }),
    })
    if (response.ok) return location.reload()
    const answer = await response.json().catch(() => null)
    error.textContent =
      response.status === 401
        ? 'Wrong token.'
        : response.status === 429
          ? `Too many failed sign-ins from this address: try again in ${response.headers.get('retry-after')} s.`
          : `Sign-in failed (HTTP ${response.status}${answer?.error ? `: ${answer.error}` : ''}).`
  } catch {
    error.textContent = 'The relay did not answer.'
  } finally {
    button.disabled = false
  }
  input.select()
  input.focus()
})
