/**
 * Which process opened a TCP connection to us (Linux only): the connecting socket is found in
 * /proc/net/tcp{,6} by its two ports, and its inode in the fd tables of candidate processes.
 * The proxies use it to attribute a connection to the node that really dialled it.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * The inode of the row of /proc/net/tcp{,6} text whose local port is `localPort` and peer port
 * `remotePort`, found with one regular-expression search (the file can hold tens of thousands of
 * rows on a busy machine).
 */
export function findSocketInode(text: string, localPort: number, remotePort: number): number | undefined {
  const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
  const re = new RegExp(`^\\s*\\d+: [0-9A-Fa-f]+:${hex(localPort)} [0-9A-Fa-f]+:${hex(remotePort)} (?:\\S+\\s+){6}(\\d+)`, 'm');
  const m = re.exec(text);
  const inode = m?.[1] === undefined ? NaN : Number(m[1]);
  return Number.isSafeInteger(inode) && inode > 0 ? inode : undefined;
}

/** The inode of the socket whose local port is `localPort` and whose peer port is `remotePort`. */
export async function socketInode(localPort: number, remotePort: number): Promise<number | undefined> {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    const inode = findSocketInode(text, localPort, remotePort);
    if (inode !== undefined) return inode;
  }
  return undefined;
}

/** The pid among `pids` holding an fd on socket `inode`, or undefined. */
export async function pidOfInode(inode: number, pids: Iterable<number>): Promise<number | undefined> {
  const needle = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if ((await readlink(`/proc/${pid}/fd/${fd}`)) === needle) return pid;
      } catch {
        /* the fd closed meanwhile */
      }
    }
  }
  return undefined;
}

/**
 * The pid among `pids` that owns the client end of an accepted connection whose peer port is
 * `remotePort` and our port `ourPort`; undefined when it cannot tell (not Linux, gone, not one of them).
 */
export async function connectionOwner(ourPort: number, remotePort: number, pids: Iterable<number>): Promise<number | undefined> {
  const inode = await socketInode(remotePort, ourPort);
  return inode === undefined ? undefined : pidOfInode(inode, pids);
}
