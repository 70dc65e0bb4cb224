// A real local SMTP server (the smtp-server package) that keeps every mail it is given, for the
// email alert channel's tests.
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'

export interface ReceivedMail {
  from: string
  to: string[]
  /** The whole message as sent: headers, a blank line, the body. */
  raw: string
  /** Who signed in, when the client did. */
  user: string | null
}

export interface SmtpSink {
  port: number
  mails: ReceivedMail[]
  close(): Promise<void>
}

export async function startSmtpSink(
  credentials: { user: string; password: string } | null = null,
): Promise<SmtpSink> {
  const mails: ReceivedMail[] = []
  const server = new SMTPServer({
    // Plain SMTP on the loopback: no certificate to make, and sign-in allowed without TLS.
    disabledCommands: credentials ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: credentials === null,
    logger: false,
    onAuth(auth, _session, callback) {
      if (credentials && auth.username === credentials.user && auth.password === credentials.password) {
        callback(null, { user: auth.username })
      } else {
        callback(new Error('invalid credentials'))
      }
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: (session.user as string | undefined) ?? null,
        })
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.server.address() as AddressInfo).port
  return {
    port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The body of a mail (after the headers), with quoted-printable soft breaks joined. */
export function mailText(mail: ReceivedMail): string {
  const body = mail.raw.slice(mail.raw.indexOf('\r\n\r\n') + 4)
  return body
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
}

/** The Subject header, its RFC 2047 encoded words (as nodemailer writes them) decoded. */
export function mailSubject(mail: ReceivedMail): string {
  const folded = /^Subject: (.*(?:\r\n[ \t].*)*)/m.exec(mail.raw)?.[1] ?? ''
  return folded
    .replace(/\r\n[ \t]/g, ' ')
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?UTF-8\?Q\?([^?]*)\?=/gi, (_, words: string) =>
      Buffer.from(
        words.replaceAll('_', ' ').replace(/=([0-9A-F]{2})/gi, (_hex, hex: string) => `%${hex}`),
        'latin1',
      ).toString('latin1'),
    )
    .replace(/(%[0-9A-F]{2})+/gi, (encoded) => decodeURIComponent(encoded))
}
