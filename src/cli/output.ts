// Where a command writes, and what else of the process it may use: given by the caller, so a
// test runs the CLI in-process and reads what it printed.

export interface Output {
  /** A line of the result (stdout). */
  out(line: string): void
  /** A line of failure or progress (stderr). */
  err(line: string): void
  /**
   * Redraws one transient line in place (a progress bar); null ends it. Present only when stderr
   * is a terminal: elsewhere progress goes through err(), one line per step.
   */
  progress?(text: string | null): void
  /** All of standard input, as text (`replay -`). */
  input?(): Promise<string>
  /**
   * Until the returned function is called, the first Ctrl-C calls `stop` instead of ending the
   * process: a long replay stops between two requests and says how far it got.
   */
  onInterrupt?(stop: () => void): () => void
}
