// How a WhatsGate command fails: WhatsGate answered with an error, or could not be reached.
/** WhatsGate's own error answer (`{name, message, code}`) or a `result` other than "OK". */
export class WhatsGateApiError extends Error {
  readonly command: string
  readonly code: number | string | null
  readonly detail: string
  readonly httpStatus: number

  constructor(
    command: string,
    name: string,
    code: number | string | null,
    detail: string,
    httpStatus: number,
  ) {
    const codeText = code === null ? '' : ` (code ${code})`
    super(`${command} failed: ${name}${codeText}${detail ? `: ${detail}` : ''}`)
    this.name = name
    this.command = command
    this.code = code
    this.detail = detail
    this.httpStatus = httpStatus
  }
}

/** WhatsGate could not be reached or gave no usable answer, after all retries. */
export class WhatsGateUnavailableError extends Error {
  readonly command: string
  readonly attempts: number

  constructor(command: string, attempts: number, reason: string) {
    super(`${command} failed: WhatsGate unavailable after ${attempts} attempt(s): ${reason}`)
    this.name = 'WhatsGateUnavailableError'
    this.command = command
    this.attempts = attempts
  }
}

export function isUnauthorized(err: unknown): boolean {
  return err instanceof WhatsGateApiError && (err.name === 'Unauthorized' || err.httpStatus === 401)
}
