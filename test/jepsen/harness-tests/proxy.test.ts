import { afterEach, describe, expect, it } from 'vitest';
import { LinkFaultTable, blackhole, delayed } from '../harness/link-faults.js';
import { LinkProxy } from '../harness/proxy.js';
import { ProxyNetwork } from '../harness/proxy-network.js';
import { connectionOwner, findSocketInode } from '../harness/socket-owner.js';
import { connectClient, startEchoServer, until, type EchoServer } from './net-helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(nodes = ['n1', 'n2', 'n3']): Promise<{ table: LinkFaultTable; target: EchoServer; proxy: LinkProxy }> {
  const table = new LinkFaultTable(nodes);
  const target = await startEchoServer();
  cleanups.push(() => target.close());
  const proxy = await LinkProxy.start({ source: 'n1', target: 'n2', targetAddress: target.address, faults: table });
  cleanups.push(() => proxy.close());
  return { table, target, proxy };
}

describe('LinkProxy', () => {
  it('forwards both directions on a healthy link', async () => {
    const { proxy, target } = await setup();
    const c = await connectClient(proxy.address);
    c.socket.write('hello');
    await until(() => c.data === 'hello', 'echo');
    expect(target.received).toEqual(['hello']);
    expect(proxy.stats()).toMatchObject({ accepted: 1, open: 1, bytesForward: 5, bytesBackward: 5, misrouted: 0 });
    c.socket.destroy();
  });

  it('cut resets open connections and refuses new ones until healed', async () => {
    const { proxy, table } = await setup();
    const c = await connectClient(proxy.address);
    c.socket.write('a');
    await until(() => c.data === 'a', 'first echo');
    table.set([['n1', 'n2', { type: 'cut' }]]);
    await until(() => c.closed, 'the open connection to be reset');
    expect(c.error?.code).toBe('ECONNRESET');

    const refused = await connectClient(proxy.address);
    await until(() => refused.closed, 'the new connection to be reset');
    expect(refused.data).toBe('');
    expect(proxy.stats().refused).toBe(1);

    table.healAll();
    const healed = await connectClient(proxy.address);
    healed.socket.write('b');
    await until(() => healed.data === 'b', 'echo after heal');
    healed.socket.destroy();
  });

  it('a cut of one link leaves the reverse link and other links alone', async () => {
    const { table } = await setup();
    const back = await startEchoServer();
    cleanups.push(() => back.close());
    const reverse = await LinkProxy.start({ source: 'n2', target: 'n1', targetAddress: back.address, faults: table });
    cleanups.push(() => reverse.close());
    table.set([['n1', 'n2', { type: 'cut' }]]);
    const c = await connectClient(reverse.address);
    c.socket.write('still fine');
    await until(() => c.data === 'still fine', 'echo on the reverse link');
    expect(reverse.stats().refused).toBe(0);
    c.socket.destroy();
  });

  it('one-way black hole: forward bytes vanish while backward bytes flow; healing resets the damaged connection', async () => {
    const { proxy, table, target } = await setup();
    const c = await connectClient(proxy.address);
    c.socket.write('x');
    await until(() => c.data === 'x', 'echo');
    table.set([['n1', 'n2', blackhole('forward')]]);
    c.socket.write('lost');
    await until(() => proxy.stats().droppedForward === 4, 'the forward bytes to be dropped');
    expect(target.received[0]).toBe('x');
    // The target can still talk back on the same connection.
    target.sockets[0]?.write('from-target');
    await until(() => c.data === 'xfrom-target', 'backward bytes');
    expect(c.closed).toBe(false);

    table.healAll();
    await until(() => c.closed, 'the damaged connection to be reset on heal');
    const fresh = await connectClient(proxy.address);
    fresh.socket.write('ok');
    await until(() => fresh.data === 'ok', 'echo on a fresh connection');
    fresh.socket.destroy();
  });

  it('backward black hole: the target receives but the dialler hears nothing', async () => {
    const { proxy, table, target } = await setup();
    table.set([['n1', 'n2', blackhole('backward')]]);
    const c = await connectClient(proxy.address);
    c.socket.write('ping');
    await until(() => target.received[0] === 'ping', 'the target to receive');
    await until(() => proxy.stats().droppedBackward === 4, 'the echo to be dropped');
    expect(c.data).toBe('');
    c.socket.destroy();
  });

  it('delay holds every chunk at least the delay and keeps order', async () => {
    const { proxy, table } = await setup();
    table.set([['n1', 'n2', delayed(60, 'forward')]]);
    const c = await connectClient(proxy.address);
    const t0 = performance.now();
    let arrived = 0;
    c.socket.on('data', () => {
      if (arrived === 0) arrived = performance.now();
    });
    for (const part of ['1', '2', '3', '4']) c.socket.write(part);
    await until(() => c.data === '1234', 'all chunks in order');
    // A lower bound only: the data cannot arrive before the delay.
    expect(arrived - t0).toBeGreaterThanOrEqual(59);
    c.socket.destroy();
  });

  it('attributes a connection to the identified source and applies that link’s fault', async () => {
    const table = new LinkFaultTable(['n1', 'n2', 'n3']);
    const target = await startEchoServer();
    cleanups.push(() => target.close());
    const proxy = await LinkProxy.start({ source: 'n1', target: 'n2', targetAddress: target.address, faults: table, identify: () => Promise.resolve('n3') });
    cleanups.push(() => proxy.close());
    table.set([['n3', 'n2', { type: 'cut' }]]);
    const c = await connectClient(proxy.address);
    await until(() => c.closed, 'the n3 connection to be reset once identified');
    expect(proxy.stats()).toMatchObject({ misrouted: 1, reset: 1 });
    table.set([['n3', 'n2', { type: 'healthy' }], ['n1', 'n2', { type: 'cut' }]]);
    const d = await connectClient(proxy.address);
    d.socket.write('via n3');
    await until(() => d.data === 'via n3', 'the n3 link to pass while n1->n2 is cut');
    expect(proxy.stats()).toMatchObject({ misrouted: 2, refused: 0 });
    d.socket.destroy();
  });

  it('resets connections while the target is down', async () => {
    const table = new LinkFaultTable(['n1', 'n2']);
    const target = await startEchoServer();
    const address = target.address;
    await target.close();
    const proxy = await LinkProxy.start({ source: 'n1', target: 'n2', targetAddress: address, faults: table });
    cleanups.push(() => proxy.close());
    const c = await connectClient(proxy.address);
    await until(() => c.closed, 'the connection to a dead target to close');
    expect(proxy.stats().refused).toBe(1);
  });
});

describe('socket owner lookup', () => {
  it('finds a socket inode in /proc/net/tcp text by its ports, skipping the header and junk', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F91 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 20 4 30 10 -1',
      '   1: garbage',
      '   2: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000100007F:0A0B 01 00000000:00000000 00:00000000 00000000     0        0 777 1',
    ].join('\n');
    expect(findSocketInode(text, 0x1f91, 0xc350)).toBe(123456);
    expect(findSocketInode(text, 0x50, 0x0a0b)).toBe(777);
    expect(findSocketInode(text, 0xc350, 0x1f91)).toBeUndefined();
    expect(findSocketInode('', 1, 2)).toBeUndefined();
  });

  it.runIf(process.platform === 'linux')('finds the process that opened a connection', async () => {
    const target = await startEchoServer();
    cleanups.push(() => target.close());
    const c = await connectClient(target.address);
    await until(() => target.sockets.length === 1, 'accept');
    const accepted = target.sockets[0]!;
    const owner = await connectionOwner(accepted.localPort!, accepted.remotePort!, [999_999_999, process.pid]);
    expect(owner).toBe(process.pid);
    expect(await connectionOwner(accepted.localPort!, accepted.remotePort!, [999_999_999])).toBeUndefined();
    c.socket.destroy();
  });
});

describe('ProxyNetwork', () => {
  it('announces a member through a proxy into it (the one its own address book names), with its own client address', async () => {
    const net = await ProxyNetwork.create({ nodes: ['n1', 'n2', 'n3'] });
    cleanups.push(() => net.close());
    const a = net.memberAddress('n2');
    expect(a.peer).toBe(net.proxy('n1', 'n2').address);
    expect(a.client).toBe(net.launch('n2').clientAddress);
    expect(net.launch('n2').initialCluster.split(',')).toContain(`n2=${a.peer}/${a.client}`);
    expect(net.launch('n3').initialCluster.split(',')).not.toContain(`n2=${a.peer}/${a.client}`);
    expect(() => net.memberAddress('n9')).toThrow(/unknown node n9/);
  });
});
