// The dashboard: hash routes (the paths under /admin/ are the JSON API), each page a module that
// draws itself and refreshes from the API every few seconds while the tab is visible.
import { api, signOut } from './api.js'
import { auditPage } from './audit.js'
import { conflictsPage } from './conflicts.js'
import { deadPage } from './dead.js'
import { h } from './dom.js'
import { eventPage } from './event.js'
import { eventsPage } from './events.js'
import { overviewPage } from './overview.js'
import { refusedPage } from './refused.js'
import { targetsPage } from './targets.js'
import { complain, say, setReadOnly, setRedraw } from './ui.js'

const REFRESH_MS = 5000

const routes = [
  [/^\/overview$/, overviewPage],
  [/^\/events$/, eventsPage],
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
  document.title = `${current.title} · whatsgate-relay`
  for (const navLink of document.querySelectorAll('nav a')) {
    const section = navLink.getAttribute('href').slice(1)
    if (path === section || path.startsWith(`${section}/`)) navLink.setAttribute('aria-current', 'page')
    else navLink.removeAttribute('aria-current')
  }
  void refresh().then(() => {
    if (keepFocus === undefined) return
    for (const candidate of main.querySelectorAll('[data-focus]')) {
      if (candidate.dataset.focus === keepFocus) return candidate.focus()
    }
  })
}

// One refresh at a time; asked for while one runs, another follows it (an action's result must
// show even when a poll was already under way).
let running = null
let again = false

function refresh() {
  if (running) {
    again = true
    return running
  }
  running = (async () => {
    do {
      again = false
      const page = current
      if (!page) break
      try {
        await page.refresh()
        if (page === current) {
          complain(null)
          updated.textContent = `Updated ${new Date().toLocaleTimeString()} · every ${REFRESH_MS / 1000} s`
        }
      } catch (error) {
        if (page === current && error.status !== 401) complain(error)
      }
    } while (again)
    running = null
  })()
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
// Who is signed in decides what the pages offer: a viewer gets no buttons that change anything.
const session = await api('session').catch(() => null)
if (session?.role === 'viewer') {
  setReadOnly(true)
  document.getElementById('role').textContent = 'Viewer · read-only'
}
show()
