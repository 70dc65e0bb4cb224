// Sends one stored message to its channel, in the channel's format: http(s) for json (signed as
// any http target is, delivery/standard-webhooks.ts), Slack, Discord and Telegram; SMTP for email
// (nodemailer, loaded only when an email channel exists). Never throws for the channel's failure:
// it reports it, with the bot token and SMTP password never in the text.
import type { HttpSender } from '../delivery/http-sender.ts'
import { signWebhook } from '../delivery/standard-webhooks.ts'
import type { AlertChannel } from './channels.ts'
import { discordBody, jsonBody, slackBody, subjectOf, telegramBody, textOf } from './formats.ts'
import type { AlertMessage } from './messages.ts'

export interface ChannelSendResult {
  ok: boolean
  /** Why it failed (an HTTP status, a connection error, the SMTP server's answer). */
  error: string | null
}

export interface ChannelSender {
  send(channel: AlertChannel, id: number, message: AlertMessage, now: number): Promise<ChannelSendResult>
  close(): Promise<void>
}

const TIMEOUT_MS = 10_000

interface Mailer {
  sendMail(mail: { from: string; to: string | string[]; subject: string; text: string }): Promise<unknown>
  close(): void
}

export function createChannelSender(http: HttpSender): ChannelSender {
  const mailers = new Map<string, Mailer>()

  async function mailerOf(channel: AlertChannel & { format: 'email' }): Promise<Mailer> {
    let mailer = mailers.get(channel.name)
    if (!mailer) {
      const nodemailer = await import('nodemailer')
      mailer = nodemailer.createTransport({
        host: channel.host,
        port: channel.port,
        secure: channel.secure,
        auth: channel.user ? { user: channel.user, pass: channel.password } : undefined,
        connectionTimeout: TIMEOUT_MS,
        greetingTimeout: TIMEOUT_MS,
        socketTimeout: TIMEOUT_MS,
      }) as unknown as Mailer
      mailers.set(channel.name, mailer)
    }
    return mailer
  }

  async function post(url: string, body: object, headers: Record<string, string> = {}) {
    const bytes = Buffer.from(JSON.stringify(body))
    const result = await http.send({
      url,
      headers: { 'content-type': 'application/json', ...headers },
      body: bytes,
      timeoutMs: TIMEOUT_MS,
    })
    const ok = result.status !== null && result.status >= 200 && result.status < 300
    return { ok, error: ok ? null : (result.error ?? `HTTP ${result.status}`) }
  }

  return {
    async send(channel, id, message, now) {
      switch (channel.format) {
        case 'json': {
          const body = Buffer.from(JSON.stringify(jsonBody(message)))
          const timestamp = Math.floor(now / 1000)
          const webhookId = `alert-${id}`
          const headers: Record<string, string> = {
            'webhook-id': webhookId,
            'webhook-timestamp': String(timestamp),
          }
          if (channel.secrets.length > 0) {
            headers['webhook-signature'] = signWebhook({
              secrets: channel.secrets,
              id: webhookId,
              timestamp,
              body,
            })
          }
          const result = await http.send({
            url: channel.url,
            headers: { 'content-type': 'application/json', ...headers },
            body,
            timeoutMs: TIMEOUT_MS,
          })
          const ok = result.status !== null && result.status >= 200 && result.status < 300
          return { ok, error: ok ? null : (result.error ?? `HTTP ${result.status}`) }
        }
        case 'slack':
          return post(channel.url, slackBody(message))
        case 'discord':
          return post(channel.url, discordBody(message))
        case 'telegram': {
          const url = `${channel.apiUrl.replace(/\/+$/, '')}/bot${channel.botToken}/sendMessage`
          const result = await post(url, telegramBody(message, channel.chatId))
          return { ...result, error: result.error?.replaceAll(channel.botToken, '[token]') ?? null }
        }
        case 'email':
          try {
            const mailer = await mailerOf(channel)
            await mailer.sendMail({
              from: channel.from,
              to: channel.to,
              subject: subjectOf(message),
              text: textOf(message),
            })
            return { ok: true, error: null }
          } catch (error) {
            let text = error instanceof Error ? error.message : String(error)
            if (channel.password) text = text.replaceAll(channel.password, '[password]')
            return { ok: false, error: `smtp: ${text}` }
          }
      }
    },
    async close() {
      for (const mailer of mailers.values()) mailer.close()
      mailers.clear()
    },
  }
}
