// Refused requests: webhook requests the relay turned away after their token matched (not JSON,
// no identity, too large, ...), newest first, each with its headers and its body shown as text.
import { api, query } from './api.js'
import { fill, h, plural, time } from './dom.js'
import { unlessSame } from './ui.js'

/** The API keeps REFUSED_REQUESTS_KEPT of them, oldest first: read up to this many, shown newest first. */
const MOST = 5000

export function refusedPage(main) {
  const list = h('div')
  main.append(
    h('h1', {}, 'Refused requests'),
    h(
      'p',
      { class: 'hint' },
      'Webhook requests that carried the right token but could not be taken. WhatsGate was answered with the status shown; nothing was stored or delivered.',
    ),
    list,
  )
  const draw = unlessSame((rows) => {
    fill(
      list,
      rows.length === 0
        ? h('p', {}, 'No request was refused.')
        : [h('p', {}, `${plural(rows.length, 'request')}, newest first.`), rows.map(refusedCard)],
    )
  })
  return {
    title: 'Refused requests',
    refresh: async () => {
      const rows = []
      let after = ''
      do {
        const page = await api(`refused${query({ after, limit: 1000 })}`)
        rows.push(...page.refused)
        after = page.next ?? ''
      } while (after !== '' && rows.length < MOST)
      draw(rows.reverse())
    },
  }
}

function refusedCard(row) {
  return h(
    'article',
    { class: 'kept-request', 'aria-label': `Refused request ${row.id}` },
    h('h2', {}, time(row.receivedAt), ` · ${row.reason} · HTTP ${row.status}`),
    h('h3', {}, 'Headers'),
    h('pre', { class: 'headers' }, headerLines(row.headers)),
    h('h3', {}, row.bodySize === null ? 'Body' : `Body (${plural(row.bodySize, 'byte')})`),
    row.body === null
      ? h('p', {}, 'Not read: it was too large.')
      : h(
          'pre',
          { class: 'body' },
          row.bodyEncoding === 'base64' ? `(not UTF-8, base64) ${row.body}` : row.body,
        ),
  )
}

/** Headers as `name: value` lines: text, never markup. */
export function headerLines(headers) {
  if (headers === null) return '(none: a backfilled event)'
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n')
}
