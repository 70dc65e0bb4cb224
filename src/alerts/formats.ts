// A message as each service takes it. Every format starts from the same plain text (textOf):
//   slack: an incoming webhook's {text, blocks} (Mattermost takes the same `text`);
//   discord: a webhook's {content, embeds}, mentions turned off (a reason quoted from an event
//   must not ping @everyone);
//   telegram: the Bot API's sendMessage {chat_id, text}, as plain text (no parse_mode);
//   json: the message itself, for a receiver of the relay's own.
import { CONDITION_TITLES, type Condition } from './conditions.ts'
import type { AlertItem, AlertMessage } from './messages.ts'

// Each service's documented limit on one message's text.
const DISCORD_CONTENT_LIMIT = 2000
const TELEGRAM_TEXT_LIMIT = 4096
const SLACK_SECTION_LIMIT = 3000

export function subjectOf(message: AlertMessage): string {
  if (message.kind === 'test') return 'whatsgate-relay: test alert'
  const parts: string[] = []
  if (message.opened.length > 0) parts.push(`${message.opened.length} opened`)
  if (message.resolved.length > 0) parts.push(`${message.resolved.length} resolved`)
  if (message.reminded.length > 0) parts.push(`${message.reminded.length} still open`)
  const only = [...message.opened, ...message.resolved, ...message.reminded]
  const first = only[0]
  const about = only.length === 1 && first ? `: ${lineOf(first)}` : ''
  return `whatsgate-relay alerts (${parts.join(', ')})${about}`
}

export function textOf(message: AlertMessage): string {
  if (message.kind === 'test') {
    return 'whatsgate-relay: a test alert (POST /admin/alerts/test). This channel works.'
  }
  const lines: string[] = []
  const section = (title: string, items: AlertItem[], timeOf: (item: AlertItem) => number) => {
    if (items.length === 0) return
    lines.push(`${title} (${items.length}):`)
    for (const item of items) lines.push(`- ${lineOf(item)} (since ${iso(timeOf(item))})`)
  }
  section('OPENED', message.opened, (item) => item.openedAt)
  section('RESOLVED', message.resolved, (item) => item.resolvedAt ?? item.openedAt)
  section('STILL OPEN', message.reminded, (item) => item.openedAt)
  return `whatsgate-relay\n${lines.join('\n')}`
}

function lineOf(item: AlertItem): string {
  const title = CONDITION_TITLES[item.condition as Condition] ?? item.condition
  const subject = item.subject ? ` ${item.subject}` : ''
  const detail = item.detail ? `: ${item.detail}` : ''
  return `${item.condition}${subject} (${title})${detail}`
}

function iso(at: number): string {
  return new Date(at).toISOString().replace('.000Z', 'Z')
}

export function slackBody(message: AlertMessage): object {
  const text = escapeSlack(textOf(message))
  return {
    text,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: cut(text, SLACK_SECTION_LIMIT) } }],
  }
}

export function discordBody(message: AlertMessage): object {
  return {
    content: cut(textOf(message), DISCORD_CONTENT_LIMIT),
    allowed_mentions: { parse: [] },
  }
}

export function telegramBody(message: AlertMessage, chatId: string | number): object {
  return {
    chat_id: chatId,
    text: cut(textOf(message), TELEGRAM_TEXT_LIMIT),
    link_preview_options: { is_disabled: true },
  }
}

export function jsonBody(message: AlertMessage): object {
  return { type: `whatsgate-relay.${message.kind}`, ...message }
}

/** Slack's text escapes: &, < and > (https://api.slack.com/reference/surfaces/formatting#escaping). */
function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

function cut(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`
}
