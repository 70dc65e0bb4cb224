// Building the page from data without ever parsing data as HTML: elements are created one by one
// and every piece of text goes in as a text node. There is no innerHTML anywhere in the dashboard.
import { isoText, relative, timeZone } from './time.js'

/**
 * An element: `attrs` are attributes (`on…` ones are listeners, `dataset` is data-*), children are
 * nodes or text (null, undefined and false are left out; arrays are spread).
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value)
    else if (name === 'dataset') Object.assign(element.dataset, value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
  append(element, children)
  return element
}

function append(element, children) {
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === null || child === undefined || child === false) continue
    element.append(child instanceof Node ? child : String(child))
  }
}

/**
 * Replaces what `region` shows. A control that had the focus (a button in a row that polling
 * redraws) gets it back in the new content when it has the same `data-focus` key, so a keyboard
 * user does not lose their place every few seconds.
 */
export function fill(region, ...children) {
  const active = document.activeElement
  const key = active instanceof HTMLElement && region.contains(active) ? active.dataset.focus : undefined
  region.replaceChildren()
  append(region, children)
  if (key !== undefined) {
    for (const candidate of region.querySelectorAll('[data-focus]')) {
      if (candidate.dataset.focus === key) return candidate.focus()
    }
  }
}

/** A table in its own scrolling box, so a wide table never widens the page. */
export function table(caption, headers, rows) {
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((header) => h('th', { scope: 'col' }, header)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((cells) =>
          h(
            'tr',
            {},
            cells.map((cell) => h('td', {}, cell)),
          ),
        ),
      ),
    ),
  )
}

/** A definition list from [term, description] pairs. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.map(([term, description]) => [h('dt', {}, term), h('dd', {}, description)]),
  )
}

/** A state as a word with a colour (the word carries the meaning; the colour only helps). */
export function badge(text, tone = text) {
  return h('span', { class: `badge badge-${tone}` }, text)
}

export function link(href, text, attrs = {}) {
  return h('a', { href, ...attrs }, text)
}

/**
 * A time as ISO 8601 with its zone (time.js: UTC or local, as chosen), the other zone in its
 * title, and how long ago beside (kept current by the router between redraws: data-ago).
 */
export function time(ms) {
  if (ms === null || ms === undefined) return '—'
  const other = timeZone() === 'utc' ? 'local' : 'utc'
  return h(
    'span',
    { class: 'when' },
    h('time', { datetime: new Date(ms).toISOString(), title: isoText(ms, other) }, isoText(ms)),
    ' ',
    h('span', { class: 'ago', dataset: { ago: String(ms) } }, relative(ms)),
  )
}

/** Brings every "… ago" on the page up to date. */
export function refreshAges(root = document) {
  for (const element of root.querySelectorAll('[data-ago]')) {
    element.textContent = relative(Number(element.dataset.ago))
  }
}

/** A length of time in words: `42 s`, `5 min 3 s`, `2 h 10 min`, `3 d 4 h`. */
export function age(seconds) {
  if (seconds === null || seconds === undefined) return '—'
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`
}

export function duration(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`
}
