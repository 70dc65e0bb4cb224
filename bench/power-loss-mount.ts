// The power-loss bench's file system (power-loss-fs.py, on FUSE through Debian's python3-fusepy):
// mounted over a backing folder that holds only what was synced, cut (unsynced writes dropped, the
// last one torn when asked), unmounted and mounted again as a machine that comes back up.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('./power-loss-fs.py', import.meta.url))

/** Debian's python3-fusepy installs into the system Python; a pyenv or venv on PATH lacks it. */
const PYTHONS = ['/usr/bin/python3', 'python3']

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

function pythonWithFusepy(): string | null {
  const check = 'try:\n import fusepy\nexcept ImportError:\n import fuse'
  for (const python of PYTHONS) {
    if (spawnSync(python, ['-c', check], { stdio: 'ignore' }).status === 0) return python
  }
  return null
}

const python = pythonWithFusepy()

/** Why the file system cannot be mounted here, or null when it can. */
export function powerLossFsUnavailable(): string | null {
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK)
  } catch {
    return 'no usable /dev/fuse (FUSE absent, or not allowed here)'
  }
  if (python === null) return 'no Python with fusepy (apt-get install python3-fusepy)'
  if (process.getuid?.() !== 0 && !onPath('fusermount') && !existsSync('/bin/fusermount'))
    return 'not root, and no fusermount to mount as a user (apt-get install fuse)'
  return null
}

export type CutKind = 'drop' | 'torn' | 'partial'

export interface PowerLossMount {
  /** The mounted folder: the relay's DATA_DIR. */
  readonly mountpoint: string
  /** What survives a cut. */
  readonly backing: string
  /** How many cuts so far. */
  readonly cuts: number
  /**
   * The power fails: every unsynced write is lost, but with `torn` the latest lands in part first,
   * and with `partial` each unsynced page of a durable file lands or not; returns what the file
   * system said of it.
   */
  cut(how?: CutKind): Promise<string>
  /** After a cut: unmounts and mounts again on what survived. */
  remount(): Promise<void>
  /** Unmounts (after a cut or not). */
  close(): Promise<void>
}

interface Daemon {
  child: ChildProcess
  /** The next line the daemon writes. */
  nextLine(timeoutMs: number): Promise<string>
  exited: Promise<void>
  stderr: string[]
}

function startDaemon(backing: string, mountpoint: string): Daemon {
  if (python === null) throw new Error(`cannot mount: ${powerLossFsUnavailable()}`)
  const child = spawn(python, [SCRIPT, backing, mountpoint], { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: string[] = []
  const waiters: ((line: string | null) => void)[] = []
  const stderr: string[] = []
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const waiter = waiters.shift()
    if (waiter) waiter(line)
    else lines.push(line)
  })
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    stderr.push(line)
    if (stderr.length > 40) stderr.shift()
  })
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  void exited.then(() => {
    for (const waiter of waiters.splice(0)) waiter(null)
  })
  let done = false
  void exited.then(() => {
    done = true
  })
  return {
    child,
    exited,
    stderr,
    nextLine(timeoutMs) {
      const queued = lines.shift()
      if (queued !== undefined) return Promise.resolve(queued)
      return new Promise((resolve, reject) => {
        const fail = (why: string) =>
          reject(new Error(`power-loss-fs ${why}:\n  ${stderr.slice(-10).join('\n  ')}`))
        if (done) return fail('has exited')
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1)
          fail(`said nothing within ${timeoutMs} ms`)
        }, timeoutMs)
        const waiter = (line: string | null) => {
          clearTimeout(timer)
          if (line === null) fail('has exited')
          else resolve(line)
        }
        waiters.push(waiter)
      })
    },
  }
}

/** Mounts still up: a run that dies half-way must not leave one behind (nor its daemon). */
const live = new Map<string, ChildProcess>()
process.once('exit', () => {
  for (const [mountpoint, child] of live) {
    child.kill('SIGKILL')
    for (const [command, args] of [
      ['fusermount', ['-uz', mountpoint]],
      ['umount', ['-l', mountpoint]],
    ] as const) {
      if (spawnSync(command, args, { stdio: 'ignore' }).status === 0) break
    }
  }
})

function unmount(mountpoint: string): void {
  const tries: [string, string[]][] = [
    ['fusermount', ['-u', mountpoint]],
    ['umount', [mountpoint]],
    // Busy (a process not yet gone holds a file): detached now, gone once released.
    ['fusermount', ['-uz', mountpoint]],
    ['umount', ['-l', mountpoint]],
  ]
  for (const [command, args] of tries) {
    if (spawnSync(command, args, { stdio: 'ignore' }).status === 0) return
  }
  throw new Error(`could not unmount ${mountpoint}`)
}

/** Mounts a fresh file system under `root` (root/backing, root/mount). */
export async function mountPowerLossFs(root: string): Promise<PowerLossMount> {
  const backing = join(root, 'backing')
  const mountpoint = join(root, 'mount')
  mkdirSync(backing, { recursive: true, mode: 0o700 })
  mkdirSync(mountpoint, { recursive: true, mode: 0o700 })
  let daemon: Daemon | null = null
  let cuts = 0

  async function mount(): Promise<void> {
    const started = startDaemon(backing, mountpoint)
    daemon = started
    live.set(mountpoint, started.child)
    const line = await started.nextLine(15_000)
    if (line !== 'ready') throw new Error(`power-loss-fs: expected "ready", got "${line}"`)
  }

  async function unmountDaemon(): Promise<void> {
    const running = daemon
    if (!running) return
    daemon = null
    unmount(mountpoint)
    live.delete(mountpoint)
    const timer = setTimeout(() => running.child.kill('SIGKILL'), 10_000)
    await running.exited
    clearTimeout(timer)
  }

  await mount()
  return {
    mountpoint,
    backing,
    get cuts() {
      return cuts
    },
    async cut(how = 'drop') {
      if (!daemon) throw new Error('power-loss-fs: not mounted')
      daemon.child.stdin?.write(how === 'drop' ? 'cut\n' : `cut ${how}\n`)
      const said = await daemon.nextLine(15_000)
      if (!said.startsWith('cut:')) throw new Error(`power-loss-fs: unexpected answer "${said}"`)
      cuts++
      return said
    },
    async remount() {
      await unmountDaemon()
      await mount()
    },
    close: unmountDaemon,
  }
}
