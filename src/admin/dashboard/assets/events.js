// Finding events: by session, action, phone or jid (any party), time received, outcome, target,
// conformance or key, newest first, a page at a time both ways. Each row says what became of the
// event at every target, and what the message says. The form is drawn once per search and never
// redrawn under the user's fingers: polling redraws only the results.
import { api, query } from './api.js'
import { badge, fill, h, link, time } from './dom.js'
import { emptyOutbox } from './empty.js'
import { filterText } from './time.js'
import { submitsFilters, unlessSame } from './ui.js'

const PAGE_SIZE = 50
const FIELDS = ['session', 'action', 'party', 'outcome', 'target', 'from', 'to', 'conforming', 'key']
const OUTCOMES = ['delivered', 'pending', 'retrying', 'paused', 'dead']
const MORE = ['session', 'action', 'from', 'to', 'conforming', 'key']

export function eventsPage(main, { query: params }) {
  const results = h('section', { 'aria-label': 'Events found' })
  main.append(h('h1', {}, 'Events'), searchForm(params), results)

  const search = Object.fromEntries(FIELDS.map((name) => [name, params.get(name) ?? '']))
  const cursor = { before: params.get('before') ?? '', after: params.get('after') ?? '' }
  const searched = Object.values(search).some((value) => value !== '')
  const paged = cursor.before !== '' || cursor.after !== ''

  const draw = unlessSame(({ events, older, newer }) => {
    fill(
      results,
      events.length === 0
        ? searched || paged
          ? h('p', {}, paged ? 'No events on this page.' : 'No event matches.')
          : emptyOutbox()
        : h(
            'ol',
            { class: 'event-list', 'aria-label': 'Events, newest first' },
            events.map((event) => eventRow(event)),
          ),
      h(
        'p',
        { class: 'pager' },
        paged ? link(`#/events${query(search)}`, 'Latest') : null,
        newer === null ? null : link(`#/events${query({ ...search, after: newer })}`, 'Newer events'),
        older === null ? null : link(`#/events${query({ ...search, before: older })}`, 'Older events'),
      ),
    )
  })

  return {
    title: 'Events',
    refresh: async () => draw(await api(`events${query({ ...search, ...cursor, limit: PAGE_SIZE })}`)),
  }
}

/** One event as a row on a wide screen, a card on a phone: the link, when, who, what, outcomes. */
function eventRow(event) {
  return h(
    'li',
    { class: 'event-row' },
    h(
      'p',
      { class: 'event-open' },
      link(`#/events/${encodeURIComponent(event.key)}`, `${event.action} ${event.eventId}`, {
        'aria-label': `Open event ${event.key}`,
        dataset: { focus: `open ${event.key}` },
      }),
    ),
    h('p', { class: 'event-when' }, time(event.receivedAt)),
    h(
      'p',
      { class: 'event-who' },
      h('span', { title: 'Session (whatsapp_id)' }, event.whatsappId),
      event.chat ? [' · ', h('span', { title: 'Chat' }, event.chat)] : null,
      event.issues === null
        ? null
        : [' · ', badge(`departs: ${event.issues.map((issue) => issue.path).join(', ')}`, 'pending')],
    ),
    previewOf(event.preview),
    h(
      'ul',
      { class: 'chips', 'aria-label': 'Outcome per target' },
      event.outcomes.length === 0
        ? h('li', {}, badge('no target', 'not_routed'))
        : event.outcomes.map((chip) => h('li', {}, outcomeChip(chip))),
    ),
  )
}

function previewOf(preview) {
  if (preview === null) return null
  return h(
    'p',
    { class: 'event-preview' },
    preview.type ? h('span', { class: 'type' }, preview.type) : null,
    preview.text ? [' ', h('q', {}, preview.text)] : null,
  )
}

const OUTCOME_WORDS = { not_routed: 'not routed' }

/** A target and what became of the event there, the word carrying the meaning. */
export function outcomeChip({ target, outcome }) {
  return badge(`${target}: ${OUTCOME_WORDS[outcome] ?? outcome}`, outcome)
}

function searchForm(params) {
  const field = (name, label, attrs = {}) =>
    h(
      'p',
      { class: 'field' },
      h('label', { for: `f-${name}` }, label),
      h('input', { id: `f-${name}`, name, dataset: { focus: name }, ...attrs }),
    )
  const choice = (name, label, options) =>
    h(
      'p',
      { class: 'field' },
      h('label', { for: `f-${name}` }, label),
      h(
        'select',
        { id: `f-${name}`, name, dataset: { focus: name } },
        options.map(([value, text]) =>
          h('option', { value, selected: (params.get(name) ?? '') === value }, text),
        ),
      ),
    )
  // Times are typed and shown as ISO 8601 (a time without a zone is read in the zone chosen).
  const timeValue = (name) => filterText(params.get(name))
  const form = h(
    'form',
    { class: 'search', role: 'search', 'aria-label': 'Search events' },
    // The party, not the chat: a number finds the events it sent, received or was the chat of.
    field('party', 'Phone or jid', {
      value: params.get('party') ?? '',
      placeholder: '+7 999 123-45-67',
      inputmode: 'text',
    }),
    choice('outcome', 'Outcome', [['', 'any'], ...OUTCOMES.map((outcome) => [outcome, outcome])]),
    field('target', 'Target', { value: params.get('target') ?? '', placeholder: 'bot' }),
    // The rarer filters folded away (open when one is set): on a phone the results stay in sight.
    h(
      'details',
      { class: 'more-filters', open: MORE.some((name) => params.get(name)) },
      h('summary', {}, 'More filters'),
      h(
        'div',
        { class: 'search-more' },
        field('session', 'Session (whatsapp_id)', { value: params.get('session') ?? '' }),
        field('action', 'Action', { value: params.get('action') ?? '', placeholder: 'message' }),
        field('from', 'Received from (ISO 8601)', {
          value: timeValue('from'),
          placeholder: '2026-12-02T10:00:00Z',
        }),
        field('to', 'Received before (ISO 8601)', {
          value: timeValue('to'),
          placeholder: '2026-12-02T12:00:00Z',
        }),
        choice('conforming', 'Conforms to the documentation', [
          ['', 'either'],
          ['true', 'yes'],
          ['false', 'no'],
        ]),
        field('key', 'Event key', {
          value: params.get('key') ?? '',
          placeholder: '<whatsapp_id>:<action>:<id>',
        }),
      ),
    ),
    h(
      'p',
      { class: 'actions' },
      h('button', { type: 'submit', dataset: { focus: 'search' } }, 'Search'),
      link('#/events', 'Clear'),
    ),
  )
  submitsFilters(form, FIELDS, '#/events')
  return form
}
