// One event and everything that became of it: did it reach each target, and if not, why; its body;
// every attempt; the copies that came later under its key with another body; and the buttons to
// send it again.
import { api } from './api.js'
import { badge, duration, facts, fill, h, plural, time } from './dom.js'
import { outcomeChip } from './events.js'
import { actionButton, unlessSame } from './ui.js'

export function eventPage(main, { params }) {
  const key = params[0]
  const summary = h('section', { 'aria-label': 'What became of it' })
  const body = h('section', { 'aria-labelledby': 'body-h' })
  const deliveries = h('section', { 'aria-labelledby': 'deliveries-h' })
  const conflicts = h('section', { 'aria-labelledby': 'conflicts-h' })
  main.append(h('h1', { class: 'key' }, 'Event ', h('code', {}, key)), summary, deliveries, body, conflicts)

  let bodyShown = false
  const draw = unlessSame((event) => {
    fill(summary, verdicts(event), eventFacts(event), replayEventButton(event))
    fill(
      deliveries,
      h('h2', { id: 'deliveries-h' }, 'Deliveries'),
      event.deliveries.length === 0 ? h('p', {}, 'None.') : event.deliveries.map(deliverySection),
    )
    fill(conflicts, conflictsSection(event.conflicts))
    // The body never changes: drawn once, so a selection in it survives the polling.
    if (!bodyShown) {
      bodyShown = true
      fill(body, bodySection(event))
    }
  })

  return {
    title: `Event ${key}`,
    refresh: async () => {
      try {
        draw(await api(`events/${encodeURIComponent(key)}`))
      } catch (error) {
        if (error.status !== 404) throw error
        fill(
          summary,
          h(
            'p',
            {},
            'No event with this key is stored: it never came, or it was purged after RETENTION_DAYS.',
          ),
        )
      }
    },
  }
}

/**
 * One sentence per configured target: the answer to "did it get there?", and for a target that
 * got nothing, why not (its sessions, its events, its filter, or added after the event).
 */
function verdicts(event) {
  const routing = event.routing ?? []
  if (routing.length === 0 && event.deliveries.length === 0) {
    return h('p', { class: 'verdict' }, 'No target is configured: the event went nowhere.')
  }
  const byTarget = new Map(event.deliveries.map((delivery) => [delivery.target, delivery]))
  return h(
    'ul',
    { class: 'verdicts' },
    routing.map((entry) => {
      const delivery = byTarget.get(entry.target)
      if (entry.reason !== null || delivery === undefined) {
        return h(
          'li',
          { class: 'not-routed' },
          outcomeChip(entry),
          ' ',
          `Not sent to ${entry.target}: ${entry.reason?.message ?? 'no delivery'}.`,
        )
      }
      return h('li', {}, outcomeChip(entry), ' ', verdict(delivery, entry.outcome))
    }),
  )
}

function verdict(delivery, outcome) {
  const tries = plural(delivery.attempts, 'attempt')
  const last = lastOutcome(delivery)
  if (delivery.status === 'delivered') {
    return [`Reached ${delivery.target} at `, time(delivery.finishedAt), ` (${tries}).`]
  }
  if (delivery.status === 'dead') {
    return [
      `Did not reach ${delivery.target}: given up after ${tries} at `,
      time(delivery.finishedAt),
      `. Last: ${last}.`,
    ]
  }
  if (outcome === 'paused') {
    return [`Waiting for ${delivery.target}, which is paused: it goes out once the target is resumed.`]
  }
  if (delivery.attempts === 0) return [`On its way to ${delivery.target}: not tried yet.`]
  return [`Not yet at ${delivery.target}: ${tries} so far, last: ${last}; `, nextTry(delivery), '.']
}

/**
 * When the next try comes. A time already past is not "next": the delivery is due and waits for
 * a send slot (the target's concurrency, an older delivery of its chat) or the next poll.
 */
function nextTry(delivery) {
  if (delivery.nextAttemptAt <= Date.now()) {
    return ['due since ', time(delivery.nextAttemptAt), ', waiting for a send slot']
  }
  return ['next try at ', time(delivery.nextAttemptAt)]
}

/** The last attempt's outcome and why: what the target answered, or what went wrong on the way. */
function lastOutcome(delivery) {
  const attempt = delivery.history.at(-1)
  if (!attempt)
    return delivery.lastError ?? (delivery.lastStatus === null ? 'no answer' : `HTTP ${delivery.lastStatus}`)
  const why = attempt.status === null ? attempt.error : attempt.responseExcerpt
  return why ? `${outcomeOf(attempt)}, ${clip(why.trim(), 160)}` : outcomeOf(attempt)
}

const clip = (text, length) => (text.length > length ? `${text.slice(0, length - 1)}…` : text)

function outcomeOf(attempt) {
  if (attempt.status !== null) return `HTTP ${attempt.status}`
  return attempt.errorClass ?? 'failed'
}

function eventFacts(event) {
  return facts([
    ['Session', event.whatsappId],
    ['Action', event.action],
    ['Event id', event.eventId],
    ['Chat', event.chat ?? '—'],
    [
      'Event date',
      [event.eventDate, ' ', h('span', { class: 'muted' }, '(WhatsGate’s clock, as sent: no zone given)')],
    ],
    ['Received', [time(event.receivedAt), ' ', h('span', { class: 'muted' }, '(the relay’s clock)')]],
    [
      'Conforms',
      event.issues === null
        ? 'yes'
        : h(
            'ul',
            {},
            event.issues.map((issue) => h('li', {}, h('code', {}, issue.path), ': ', issue.message)),
          ),
    ],
  ])
}

// The targets it died at are offered first; the ones that got it get it again only when asked,
// after a confirmation that says so.
function replayEventButton(event) {
  const finished = event.deliveries.filter((delivery) => delivery.status !== 'pending').length
  if (finished === 0) return null
  const failed = event.deliveries.filter((delivery) => delivery.status === 'dead').length
  const send = async (body) => {
    const { replayed } = await api('replay', { method: 'POST', body })
    return `Sent again: ${plural(replayed, 'delivery', 'deliveries')} of ${event.key}.`
  }
  return h(
    'p',
    { class: 'actions' },
    failed > 0
      ? actionButton(
          `Send again to ${plural(failed, 'failed target')}`,
          () => send({ event: event.key, status: 'dead' }),
          { dataset: { focus: 'replay event failed' } },
        )
      : null,
    finished > failed
      ? actionButton(
          failed > 0
            ? `Send again to all ${finished} targets`
            : `Send again to ${plural(finished, 'target')}`,
          () => {
            const got = finished - failed
            const question = `Send ${event.key} again to ${plural(finished, 'target')}? ${got === 1 ? '1 of them got it already' : `${got} of them got it already`}.`
            return confirm(question) ? send({ event: event.key }) : null
          },
          { class: failed > 0 ? 'quiet' : undefined, dataset: { focus: 'replay event' } },
        )
      : null,
  )
}

function deliverySection(delivery) {
  const replay =
    delivery.status === 'pending'
      ? null
      : actionButton(
          'Replay',
          async () => {
            const { replayed } = await api('replay', { method: 'POST', body: { ids: [delivery.id] } })
            return replayed ? `Replayed delivery ${delivery.id} to ${delivery.target}.` : 'Nothing to replay.'
          },
          { 'aria-label': `Replay to ${delivery.target}`, dataset: { focus: `replay ${delivery.id}` } },
        )
  return h(
    'article',
    { class: 'delivery' },
    h('h3', {}, delivery.target, ' ', badge(delivery.status), ' ', replay),
    h(
      'p',
      { class: 'muted' },
      `Delivery ${delivery.id} · ${plural(delivery.attempts, 'attempt')}`,
      // A replay counts its attempts afresh: the rows above them are said to be older.
      (delivery.history.at(-1)?.replay ?? 0) > 0
        ? ` since replay ${delivery.history.at(-1).replay}, ${delivery.history.length} in all`
        : null,
      delivery.status === 'pending' ? [' · ', nextTry(delivery)] : null,
    ),
    delivery.history.length === 0
      ? h('p', {}, 'No attempt yet.')
      : h(
          'ol',
          { class: 'attempts', 'aria-label': `Attempts to ${delivery.target}` },
          delivery.history.map((_, i) => attemptItem(delivery.history, i)),
        ),
  )
}

/** One attempt, compact: what came of it on one line, then the error and the answer, if any. */
function attemptItem(history, i) {
  const attempt = history[i]
  const ok = attempt.status !== null && attempt.status < 300
  return h(
    'li',
    { class: 'attempt' },
    h(
      'p',
      { class: 'attempt-line' },
      h('span', { class: 'attempt-n' }, `#${attemptNumber(history, i)}`),
      ' ',
      badge(outcomeOf(attempt), ok ? 'ok' : 'dead'),
      ' ',
      time(attempt.startedAt),
      ` · took ${duration(attempt.durationMs)} · replica `,
      h('code', { title: attempt.replica }, attempt.replica.slice(0, 8)),
    ),
    attempt.error ? h('p', { class: 'attempt-error' }, attempt.error) : null,
    attempt.responseExcerpt ? h('pre', { class: 'excerpt' }, attempt.responseExcerpt) : null,
  )
}

/** "2" of the first schedule (its retries), "replay 1 · 1" of one after a replay. */
function attemptNumber(history, i) {
  const { replay } = history[i]
  const n = history.slice(0, i + 1).filter((attempt) => attempt.replay === replay).length
  return replay === 0 ? String(n) : `replay ${replay} · ${n}`
}

function bodySection(event) {
  const body =
    event.bodyEncoding === 'base64'
      ? [
          h('h2', { id: 'body-h' }, 'Body (not UTF-8: shown as base64)'),
          h('pre', { class: 'body' }, event.body),
        ]
      : [h('h2', { id: 'body-h' }, 'Body'), h('pre', { class: 'body', tabindex: 0 }, laidOut(event.body))]
  return [...body, ...headersSection(event.headers)]
}

/**
 * The body laid out, or as it came when it cannot be: a body nested thousands of levels deep
 * makes the indentation outgrow any string ("Invalid string length") and must not take the
 * body and headers sections down with it.
 */
function laidOut(text) {
  try {
    return prettyJson(text)
  } catch {
    return text
  }
}

/**
 * The copies that came under this key with a different body: answered OK and not forwarded, kept
 * for the operator. Each body goes in as text, never as markup.
 */
function conflictsSection(conflicts) {
  if (conflicts.length === 0) return null
  return [
    h('h2', { id: 'conflicts-h' }, 'Conflicting copies'),
    h(
      'p',
      {},
      `${plural(conflicts.length, 'copy', 'copies')} came later under this key with a different body: answered OK, not forwarded.`,
    ),
    conflicts.map((conflict) =>
      h(
        'article',
        { class: 'conflict' },
        h('h3', {}, 'Received ', time(conflict.receivedAt)),
        h(
          'pre',
          { class: 'body conflict-body', tabindex: 0 },
          conflict.bodyEncoding === 'base64' ? conflict.body : laidOut(conflict.body),
        ),
      ),
    ),
  ]
}

/** The headers the webhook request came with (credentials redacted); none for a backfilled event. */
function headersSection(headers) {
  if (headers === null) return [h('h2', {}, 'Headers'), h('p', {}, 'None: fetched by backfill, not posted.')]
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  return [h('h2', {}, 'Headers'), h('pre', { class: 'headers' }, lines.join('\n'))]
}

/** Levels of nesting laid out; a deeper body is shown as it came. */
const MAX_DEPTH = 100

/**
 * JSON laid out two spaces a level, every literal kept as written: JSON.parse would round a large
 * number id and undo escapes, and the operator must see what WhatsGate sent. Not JSON: as it came.
 */
export function prettyJson(text) {
  const source = text.replace(/^\uFEFF/, '')
  try {
    JSON.parse(source)
  } catch {
    return text
  }
  let out = ''
  let depth = 0
  let inString = false
  const newline = () => `\n${'  '.repeat(depth)}`
  for (let i = 0; i < source.length; i++) {
    const char = source[i]
    if (inString) {
      out += char
      if (char === '\\') out += source[++i]
      else if (char === '"') inString = false
      continue
    }
    if (char === '"') {
      inString = true
      out += char
    } else if (char === '{' || char === '[') {
      const close = char === '{' ? '}' : ']'
      const rest = source.slice(i + 1).trimStart()
      if (rest.startsWith(close)) {
        // An empty object or array stays on its line.
        out += char + close
        i = source.indexOf(close, i + 1)
      } else {
        depth++
        // Deeper than anyone reads, and each level costs every line below it: as it came.
        if (depth > MAX_DEPTH) return text
        out += char + newline()
      }
    } else if (char === '}' || char === ']') {
      depth--
      out += newline() + char
    } else if (char === ',') {
      out += char + newline()
    } else if (char === ':') {
      out += ': '
    } else if (!/\s/.test(char)) {
      out += char
    }
  }
  return out
}
