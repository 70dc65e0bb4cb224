#!/usr/bin/env python3
"""A file system that loses what was not synced: the power-loss bench's DATA_DIR (bench/power-loss.ts).

    power-loss-fs.py BACKING MOUNTPOINT

Mounts MOUNTPOINT (FUSE, through Debian's python3-fusepy) over the folder BACKING, which holds
what the "disk" has: what survives a power cut. As an operating system's page cache does, it keeps
every write in memory until it is synced, and reads see those writes:
- a file's data reaches BACKING when the file is synced (fsync or fdatasync);
- a name (create, rename, unlink) reaches BACKING when its folder is synced (fsync of the folder),
  as POSIX asks (fsync(2): "an explicit fsync() on a file descriptor for the directory is also
  needed"). Data synced under a name that is not yet durable waits in BACKING/.power-loss-orphans
  and is lost with the name. Folders themselves (mkdir, rmdir) are durable at once.

Commands, one a line on stdin, each answered with one line on stdout:
    stats        what is held in memory
    cut          the power fails: every unsynced write and name is dropped; the file system then
                 answers every call with EIO until it is unmounted (the caller unmounts)
    cut torn     the same, but the latest unsynced write first reaches BACKING in part (a prefix of
                 random length), as a write the power cut in the middle
    cut partial  the same, but each unsynced page of a file whose name is durable first reaches
                 BACKING or not, at random, as a disk writing back its cache in any order
The process ends when MOUNTPOINT is unmounted. "ready" is printed once mounted.
"""

import errno
import os
import random
import stat
import sys
import threading
import time
from collections import Counter, deque

try:
    from fusepy import FUSE, FuseOSError, Operations  # Debian's python3-fusepy
except ImportError:  # fusepy from PyPI
    from fuse import FUSE, FuseOSError, Operations

PAGE = 4096
ORPHANS = '.power-loss-orphans'


class Inode:
    def __init__(self, number, durable, size, mode):
        self.number = number
        self.durable = durable  # the file in BACKING holding what is synced, or None
        self.size = size  # the size readers see
        self.floor = size  # bytes of the durable file at and past this offset were truncated away
        self.dirty = {}  # page number -> bytearray(PAGE): written, not synced
        self.mode = mode
        self.mtime = time.time()
        self.writes = 0  # writes so far, and at the last sync: are any unsynced?
        self.synced_writes = 0


class PowerLossFs(Operations):
    def __init__(self, backing):
        self.backing = os.path.realpath(backing)
        self.orphans = os.path.join(self.backing, ORPHANS)
        self.mutex = threading.Lock()
        self.dead = False
        self.numbers = 0
        self.names = {}  # path in the mount -> Inode (files only)
        self.dirs = set()  # paths of folders
        self.open_files = {}  # file handle (inode number) -> Inode
        self.recent = deque(maxlen=64)  # (inode, offset, data, write number): the latest writes
        self.syncs = Counter()  # syncs by file name ('/' and folders: of the folder)
        # What was in the orphans' folder belonged to names that never became durable.
        if os.path.isdir(self.orphans):
            for name in os.listdir(self.orphans):
                os.unlink(os.path.join(self.orphans, name))
        else:
            os.mkdir(self.orphans, 0o700)
        for root, dirnames, filenames in os.walk(self.backing):
            relative = '/' + os.path.relpath(root, self.backing).lstrip('.')
            relative = '/' if relative == '/' else relative.rstrip('/')
            if relative == '/' + ORPHANS:
                continue
            self.dirs.add(relative)
            dirnames[:] = [d for d in dirnames if not (relative == '/' and d == ORPHANS)]
            for name in filenames:
                real = os.path.join(root, name)
                st = os.lstat(real)
                if stat.S_ISREG(st.st_mode):
                    self.names[self.join(relative, name)] = self.new_inode(real, st.st_size, st.st_mode)

    # -- helpers (called with the lock held) --

    @staticmethod
    def join(folder, name):
        return folder.rstrip('/') + '/' + name

    def new_inode(self, durable, size, mode):
        self.numbers += 1
        return Inode(self.numbers, durable, size, mode)

    def real(self, path):
        return os.path.join(self.backing, path.lstrip('/'))

    def inode(self, path, fh=None):
        if fh:
            found = self.open_files.get(fh)
            if found is not None:
                return found
        found = self.names.get(path)
        if found is None:
            raise FuseOSError(errno.ENOENT)
        return found

    def durable_page(self, inode, page):
        """Page `page` as BACKING has it, zero where truncated away or never written."""
        data = bytearray(PAGE)
        if inode.durable is None:
            return data
        start = page * PAGE
        if start >= inode.floor:
            return data
        with open(inode.durable, 'rb') as f:
            f.seek(start)
            got = f.read(min(PAGE, inode.floor - start))
        data[: len(got)] = got
        return data

    def page(self, inode, page):
        found = inode.dirty.get(page)
        return found if found is not None else self.durable_page(inode, page)

    def sync_file(self, inode):
        if not inode.dirty and inode.floor == inode.size and inode.durable is not None:
            inode.synced_writes = inode.writes
            return
        if inode.durable is None:
            inode.durable = os.path.join(self.orphans, str(inode.number))
            open(inode.durable, 'wb').close()
        with open(inode.durable, 'r+b') as f:
            f.truncate(inode.floor)
            for page, data in sorted(inode.dirty.items()):
                start = page * PAGE
                if start >= inode.size:
                    continue
                f.seek(start)
                f.write(data[: min(PAGE, inode.size - start)])
            f.truncate(inode.size)
        inode.dirty = {}
        inode.floor = inode.size
        inode.synced_writes = inode.writes

    def sync_folder(self, folder):
        """Makes BACKING's names in `folder` those of the mount."""
        real_folder = self.real(folder)
        wanted = {p: i for p, i in self.names.items() if os.path.dirname(p) == folder}
        by_durable = {}
        for inode in set(self.names.values()) | set(self.open_files.values()):
            if inode.durable is not None:
                by_durable[inode.durable] = inode
        # Names leaving or changing: their data moves aside first (a rename may be a swap).
        for name in os.listdir(real_folder):
            real = os.path.join(real_folder, name)
            if real == self.orphans or os.path.isdir(real):
                continue
            inode = by_durable.get(real)
            if inode is not None and wanted.get(self.join(folder, name)) is inode:
                continue
            if inode is None:
                os.unlink(real)
            else:
                inode.durable = os.path.join(self.orphans, str(inode.number))
                os.rename(real, inode.durable)
        for path, inode in wanted.items():
            real = self.real(path)
            if inode.durable == real:
                continue
            if inode.durable is None:
                # A name made durable before its data: the file is there, empty, as on a disk
                # whose metadata journal committed first.
                open(real, 'wb').close()
                inode.floor = 0
            else:
                os.rename(inode.durable, real)
            inode.durable = real

    def check(self):
        if self.dead:
            raise FuseOSError(errno.EIO)

    # -- control --

    def command(self, line):
        words = line.split()
        with self.mutex:
            if words == ['stats']:
                return self.stats()
            if words and words[0] == 'cut':
                return self.cut('torn' in words[1:], 'partial' in words[1:])
        return 'error: unknown command %r' % line

    def stats(self):
        pages = sum(len(i.dirty) for i in set(self.names.values()) | set(self.open_files.values()))
        return 'stats: %d files, %d unsynced pages, %s' % (len(self.names), pages, self.sync_counts())

    def sync_counts(self):
        return 'syncs ' + ','.join('%s=%d' % item for item in sorted(self.syncs.items()))

    def cut(self, torn, partial=False):
        said = []
        if partial:
            landed = 0
            for inode in set(self.names.values()) | set(self.open_files.values()):
                if inode.durable is None or not inode.dirty:
                    continue
                with open(inode.durable, 'r+b') as f:
                    for page, data in sorted(inode.dirty.items()):
                        start = page * PAGE
                        if start >= inode.size or random.random() < 0.5:
                            continue
                        f.seek(start)
                        f.write(data[: min(PAGE, inode.size - start)])
                        landed += 1
            said.append('partial: %d unsynced pages landed' % landed)
        if torn:
            for inode, offset, data, number in reversed(self.recent):
                if number <= inode.synced_writes or len(data) < 2:
                    continue
                if inode.durable is not None:
                    keep = random.randint(1, len(data) - 1)
                    with open(inode.durable, 'r+b') as f:
                        f.seek(offset)
                        f.write(data[:keep])
                    said.append('torn: %d of %d bytes of %s at %d'
                                % (keep, len(data), os.path.basename(inode.durable), offset))
                break
        pages = sum(len(i.dirty) for i in set(self.names.values()) | set(self.open_files.values()))
        self.dead = True
        self.names = {}
        self.open_files = {}
        return ' '.join(['cut: %d unsynced pages dropped,' % pages, self.sync_counts()] + said)

    # -- file system calls --

    def getattr(self, path, fh=None):
        with self.mutex:
            self.check()
            if path in self.dirs:
                st = os.lstat(self.real(path))
                return {k: getattr(st, k) for k in (
                    'st_mode', 'st_nlink', 'st_uid', 'st_gid', 'st_size', 'st_atime', 'st_mtime',
                    'st_ctime')}
            inode = self.inode(path, fh)
            return {
                'st_mode': stat.S_IFREG | (inode.mode & 0o7777),
                'st_nlink': 1,
                'st_uid': os.getuid(),
                'st_gid': os.getgid(),
                'st_size': inode.size,
                'st_atime': inode.mtime,
                'st_mtime': inode.mtime,
                'st_ctime': inode.mtime,
                'st_blocks': (inode.size + 511) // 512,
            }

    def readdir(self, path, fh):
        with self.mutex:
            self.check()
            entries = ['.', '..']
            for child in list(self.names) + [d for d in self.dirs if d != '/']:
                if os.path.dirname(child) == path:
                    entries.append(os.path.basename(child))
            return entries

    def statfs(self, path):
        st = os.statvfs(self.backing)
        return {k: getattr(st, k) for k in (
            'f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag',
            'f_frsize', 'f_namemax')}

    def access(self, path, amode):
        with self.mutex:
            self.check()
            if path not in self.dirs and path not in self.names:
                raise FuseOSError(errno.ENOENT)
            return 0

    def mkdir(self, path, mode):
        with self.mutex:
            self.check()
            os.mkdir(self.real(path), mode)
            self.dirs.add(path)

    def rmdir(self, path):
        with self.mutex:
            self.check()
            if any(os.path.dirname(p) == path for p in list(self.names) + list(self.dirs)):
                raise FuseOSError(errno.ENOTEMPTY)
            os.rmdir(self.real(path))
            self.dirs.discard(path)

    def chmod(self, path, mode):
        with self.mutex:
            self.check()
            if path in self.dirs:
                os.chmod(self.real(path), mode)
            else:
                self.inode(path).mode = mode
            return 0

    def chown(self, path, uid, gid):
        raise FuseOSError(errno.EPERM)

    def utimens(self, path, times=None):
        with self.mutex:
            self.check()
            if path not in self.dirs:
                self.inode(path).mtime = times[1] if times else time.time()
            return 0

    def create(self, path, mode, fi=None):
        with self.mutex:
            self.check()
            if os.path.dirname(path) not in self.dirs:
                raise FuseOSError(errno.ENOENT)
            inode = self.new_inode(None, 0, mode)
            self.names[path] = inode
            self.open_files[inode.number] = inode
            return inode.number

    def open(self, path, flags):
        with self.mutex:
            self.check()
            inode = self.inode(path)
            self.open_files[inode.number] = inode
            return inode.number

    def read(self, path, size, offset, fh):
        with self.mutex:
            self.check()
            inode = self.inode(path, fh)
            end = min(offset + size, inode.size)
            out = bytearray()
            position = offset
            while position < end:
                page, at = divmod(position, PAGE)
                take = min(PAGE - at, end - position)
                out += self.page(inode, page)[at: at + take]
                position += take
            return bytes(out)

    def write(self, path, data, offset, fh):
        with self.mutex:
            self.check()
            inode = self.inode(path, fh)
            position = offset
            end = offset + len(data)
            while position < end:
                page, at = divmod(position, PAGE)
                take = min(PAGE - at, end - position)
                current = self.page(inode, page)
                current[at: at + take] = data[position - offset: position - offset + take]
                inode.dirty[page] = current
                position += take
            inode.size = max(inode.size, end)
            inode.mtime = time.time()
            inode.writes += 1
            self.recent.append((inode, offset, bytes(data), inode.writes))
            return len(data)

    def truncate(self, path, length, fh=None):
        with self.mutex:
            self.check()
            inode = self.inode(path, fh)
            if length < inode.size:
                last, at = divmod(length, PAGE)
                if at:
                    current = self.page(inode, last)
                    current[at:] = bytes(PAGE - at)
                    inode.dirty[last] = current
                    last += 1
                inode.dirty = {p: d for p, d in inode.dirty.items() if p < last}
                inode.floor = min(inode.floor, length)
            inode.size = length
            inode.mtime = time.time()
            inode.writes += 1
            return 0

    def unlink(self, path):
        with self.mutex:
            self.check()
            self.inode(path)
            del self.names[path]

    def rename(self, old, new):
        with self.mutex:
            self.check()
            if old in self.dirs:
                raise FuseOSError(errno.EXDEV)  # folders are not renamed here
            self.names[new] = self.inode(old)
            del self.names[old]

    def link(self, target, source):
        raise FuseOSError(errno.EPERM)

    def symlink(self, target, source):
        raise FuseOSError(errno.EPERM)

    def fsync(self, path, datasync, fh):
        with self.mutex:
            self.check()
            inode = self.inode(path, fh)
            self.sync_file(inode)
            self.syncs[os.path.basename(path or '') or '?'] += 1
            return 0

    def fsyncdir(self, path, datasync, fh):
        with self.mutex:
            self.check()
            self.sync_folder(path)
            self.syncs[path] += 1
            return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return 0

    def releasedir(self, path, fh):
        return 0


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    fs = PowerLossFs(sys.argv[1])

    def control():
        for line in sys.stdin:
            if line.strip():
                print(fs.command(line.strip()), flush=True)

    threading.Thread(target=control, daemon=True).start()

    def ready():
        # Mounted once the mount point's device differs from its parent's.
        mountpoint = os.path.realpath(sys.argv[2])
        parent = os.path.dirname(mountpoint)
        for _ in range(2000):
            try:
                if os.stat(mountpoint).st_dev != os.stat(parent).st_dev:
                    print('ready', flush=True)
                    return
            except OSError:
                pass
            time.sleep(0.005)

    threading.Thread(target=ready, daemon=True).start()
    FUSE(fs, sys.argv[2], foreground=True, nothreads=True, fsname='power-loss-fs')


if __name__ == '__main__':
    main()
