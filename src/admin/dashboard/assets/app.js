// The dashboard: hash routes (the paths under /admin/ are the JSON API), each page a module that
// draws itself and refreshes from the API every few seconds while the tab is visible.
import { api, signOut } from './api.js'
import { auditPage } from './audit.js'
import { conflictsPage } from './conflicts.js'
import { deadPage } from './dead.js'
import { h, refreshAges } from './dom.js'
import { eventPage } from './event.js'
import { eventsPage } from './events.js'
import { overviewPage } from './overview.js'
import { refusedPage } from './refused.js'
import { targetsPage } from './targets.js'
import { isoText, setTimeZone, timeZone } from './time.js'
import { complain, say, setReadOnly, setRedraw } from './ui.js'

const REFRESH_MS = 5000

const routes = [
  [/^\/overview$/, overviewPage],
  [/^\/events\/?$/, eventsPage],
  [/^\/events\/(.+)$/, eventPage],
  [/^\/dead$/, deadPage],
  [/^\/targets$/, targetsPage],
  [/^\/refused$/, refusedPage],
  [/^\/conflicts$/, conflictsPage],
  [/^\/audit$/, auditPage],
]

const main = document.getElementById('main')
const updated = document.getElementById('updated')
let current = null
let currentPath = null

function show() {
  const hash = location.hash.slice(1)
  if (!hash.startsWith('/')) {
    location.replace('#/overview')
    return
  }
  const mark = hash.indexOf('?')
  const path = mark === -1 ? hash : hash.slice(0, mark)
  const search = new URLSearchParams(mark === -1 ? '' : hash.slice(mark + 1))
  const found = routes.find(([pattern]) => pattern.test(path))
  // A new search or page of the same list keeps the focus on the control that asked for it.
  const active = document.activeElement
  const keepFocus = path === currentPath && active instanceof HTMLElement ? active.dataset.focus : undefined

  main.replaceChildren()
  updated.textContent = ''
  say('')
  complain(null)
  currentPath = path
  if (!found) {
    current = null
    main.append(
      h('h1', {}, 'Not found'),
      h('p', {}, 'No such page. ', h('a', { href: '#/overview' }, 'Overview')),
    )
    return
  }
  const [pattern, page] = found
  const params = pattern.exec(path).slice(1).map(decodeURIComponent)
  current = page(main, { params, query: search })
  // Until the first answer is drawn: the page's sections are still empty.
  const loading = h('p', { class: 'loading', role: 'status' }, 'Loading…')
  main.setAttribute('aria-busy', 'true')
  main.append(loading)
  const shown = current
  document.title = `${current.title} · whatsgate-relay`
  for (const navLink of document.querySelectorAll('nav a')) {
    const section = navLink.getAttribute('href').slice(1)
    if (path === section || path.startsWith(`${section}/`)) navLink.setAttribute('aria-current', 'page')
    else navLink.removeAttribute('aria-current')
  }
  void refresh().then(() => {
    loading.remove()
    if (shown === current) main.removeAttribute('aria-busy')
    if (keepFocus === undefined) return
    for (const candidate of main.querySelectorAll('[data-focus]')) {
      if (candidate.dataset.focus === keepFocus) return candidate.focus()
    }
  })
}

// One refresh at a time; asked for while one runs, another follows it (an action's result must
// show even when a poll was already under way). `running` is cleared once the loop has settled,
// never inside it: with no page shown (Not found) the loop finishes without awaiting anything,
// before `running` is even assigned, and clearing it there left it set for good (every page
// stayed blank after a Not found until a reload).
let running = null
let again = false

async function refreshLoop() {
  do {
    again = false
    const page = current
    if (!page) break
    try {
      await page.refresh()
      if (page === current) {
        complain(null)
        updated.textContent = `Updated ${isoText(Date.now())} · every ${REFRESH_MS / 1000} s`
      }
    } catch (error) {
      if (page === current && error.status !== 401) complain(error)
    }
  } while (again)
  refreshAges(main)
}

function refresh() {
  if (running) {
    again = true
    return running
  }
  running = refreshLoop().finally(() => {
    running = null
  })
  return running
}

setRedraw(refresh)
window.addEventListener('hashchange', () => {
  show()
  // Moved by a link: the focus follows to the new page, as it would on a page load.
  if (document.activeElement === document.body || document.activeElement?.closest('nav')) main.focus()
})
setInterval(() => {
  if (!document.hidden) void refresh()
}, REFRESH_MS)
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void refresh()
})
document.getElementById('sign-out').addEventListener('click', () => void signOut())
document.querySelector('.bar').insertBefore(findForm(), document.getElementById('role'))
document.querySelector('footer').append(' ', zoneSwitch())

/**
 * Found from any page: a phone number or jid lists the events it is a party of, newest first; an
 * event key opens that event.
 */
function findForm() {
  const input = h('input', {
    id: 'find',
    name: 'find',
    type: 'search',
    placeholder: 'Phone, jid or event key',
    'aria-label': 'Find events by phone, jid or event key',
    autocomplete: 'off',
  })
  const form = h('form', { class: 'find', role: 'search', 'aria-label': 'Find events' }, input)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const text = input.value.trim()
    if (text === '') return
    // A key is <whatsapp_id>:<action>:<id>; anything else is a party.
    const target = /^[^:\s]+:[^:\s]+:.+$/.test(text)
      ? `#/events/${encodeURIComponent(text)}`
      : `#/events?party=${encodeURIComponent(text)}`
    if (location.hash === target) void refresh()
    else location.hash = target
  })
  return form
}

/** UTC or local time for every time shown; the browser keeps the choice. */
function zoneSwitch() {
  const button = h('button', { type: 'button', class: 'quiet zone', 'aria-live': 'polite' })
  const label = () => {
    button.textContent = timeZone() === 'utc' ? 'Times in UTC · show local' : 'Times in local time · show UTC'
  }
  label()
  button.addEventListener('click', () => {
    setTimeZone(timeZone() === 'utc' ? 'local' : 'utc')
    label()
    // Every page draws its times afresh in the zone now chosen.
    show()
  })
  return button
}
// Who is signed in decides what the pages offer: a viewer gets no buttons that change anything.
const session = await api('session').catch(() => null)
if (session?.role === 'viewer') {
  setReadOnly(true)
  document.getElementById('role').textContent = 'Viewer · read-only'
}
show()
