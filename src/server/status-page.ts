/**
 * The live status page at `/` on a node's HTTP port: members with their roles and lag, the leader,
 * sessions, locks with holders, tokens and waiters, and recent events. A static HTML shell plus a
 * small script that polls `/api/overview` (this node's local, possibly slightly stale view) once a
 * second. No framework; data is inserted with `textContent` only, under a strict CSP.
 */
import type { LockEvent, LockStateMachine } from '../lock/index.js';
import type { NodeStatus } from '../node/raft-node.js';
import type { HttpRoute } from './http-server.js';

/** One member row of the overview. */
export interface MemberOverview {
  readonly id: string;
  readonly peerAddress: string;
  readonly clientAddress: string;
  /** `leader`, `voter` or `learner` (from this node's configuration). */
  readonly role: 'leader' | 'voter' | 'learner';
  /** Entries behind the leader's last index; null when this node is not the leader (it cannot know). */
  readonly lag: number | null;
  /** Replication state as the leader sees it (`probe`, `replicate`, `snapshot`), null elsewhere. */
  readonly state: string | null;
}

/** One event of the "recent events" list. */
export interface RecentEvent {
  /** Wall-clock ms when this node saw it. */
  readonly at: number;
  /** Log index for lock events; 0 for node events (role changes). */
  readonly index: number;
  readonly type: string;
  readonly text: string;
}

/** The JSON served at `/api/overview`. */
export interface StatusOverview {
  readonly node: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly clusterId: string;
  readonly members: readonly MemberOverview[];
  readonly sessions: readonly { id: string; client: string; ttlMs: number; holds: readonly string[] }[];
  readonly locks: readonly {
    name: string;
    mode: string | null;
    holders: readonly { sessionId: string; token: string }[];
    waiters: readonly { sessionId: string; mode: string }[];
    inDelay: boolean;
  }[];
  readonly events: readonly RecentEvent[];
  /** True when the lists were cut at MAX_ROWS. */
  readonly truncated: boolean;
}

/** Where the page reads from. */
export interface StatusPageSource {
  nodeStatus(): NodeStatus;
  sm(): LockStateMachine;
}

/** Most sessions and locks listed (the page stays fast on a busy cluster). */
export const MAX_ROWS = 500;

/** Collects recent events and serves the page and its data. */
export class StatusPage {
  private readonly events: RecentEvent[] = [];

  constructor(
    private readonly source: StatusPageSource,
    private readonly maxEvents = 50,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a lock event (called for every applied event). */
  recordLockEvent(e: LockEvent): void {
    const what = e.name !== undefined ? `${e.name} by session ${e.sessionId}${e.token !== undefined ? ` (token ${e.token})` : ''}` : `session ${e.sessionId}`;
    this.push({ at: this.now(), index: e.index, type: e.type, text: what });
  }

  /** Records a node event such as a role change. */
  recordNodeEvent(type: string, text: string): void {
    this.push({ at: this.now(), index: 0, type, text });
  }

  private push(e: RecentEvent): void {
    this.events.push(e);
    if (this.events.length > this.maxEvents) this.events.splice(0, this.events.length - this.maxEvents);
  }

  /** The current overview. */
  overview(): StatusOverview {
    const st = this.source.nodeStatus();
    const sm = this.source.sm();
    const learners = new Set(st.confState.learners);
    const voters = new Set(st.confState.voters);
    const ids = new Set<string>([...st.confState.voters, ...st.confState.learners]);
    const members: MemberOverview[] = [...ids].sort().map((id) => {
      const info = st.members.find((m) => m.id === id);
      const pr = st.progress?.[id];
      const lag = st.role !== 'leader' ? null : id === st.id ? 0 : pr ? Math.max(0, st.lastIndex - pr.match) : null;
      return {
        id,
        peerAddress: info?.peerAddress ?? '',
        clientAddress: info?.clientAddress ?? '',
        role: id === st.leader ? 'leader' : learners.has(id) ? 'learner' : voters.has(id) ? 'voter' : 'learner',
        lag,
        state: id === st.id && st.role === 'leader' ? 'self' : (pr?.state ?? null),
      };
    });
    const allSessions = sm.listSessions();
    const allLocks = sm.listLocks('');
    return {
      node: st.id,
      role: st.role,
      term: st.term,
      leader: st.leader,
      commitIndex: st.commit,
      appliedIndex: st.applied,
      clusterId: st.clusterId,
      members,
      sessions: allSessions.slice(0, MAX_ROWS).map((s) => ({ id: String(s.id), client: s.client, ttlMs: s.ttlMs, holds: [...s.holds] })),
      locks: allLocks.slice(0, MAX_ROWS).map((l) => ({
        name: l.name,
        mode: l.mode,
        holders: l.holders.map((h) => ({ sessionId: String(h.sessionId), token: String(h.token) })),
        waiters: l.waiters.map((w) => ({ sessionId: String(w.sessionId), mode: w.mode })),
        inDelay: l.inDelay,
      })),
      events: [...this.events].reverse(),
      truncated: allSessions.length > MAX_ROWS || allLocks.length > MAX_ROWS,
    };
  }

  /** The HTTP route: `/` (HTML), `/status.js`, `/status.css`, `/api/overview` (JSON). */
  route(): HttpRoute {
    return (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (type: string, body: string): true => {
        res.writeHead(200, {
          'content-type': type,
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        });
        res.end(req.method === 'HEAD' ? undefined : body);
        return true;
      };
      switch (path) {
        case '/':
          return send('text/html; charset=utf-8', STATUS_HTML);
        case '/status.js':
          return send('text/javascript; charset=utf-8', STATUS_JS);
        case '/status.css':
          return send('text/css; charset=utf-8', STATUS_CSS);
        case '/api/overview':
          return send('application/json', `${JSON.stringify(this.overview())}\n`);
        default:
          return false;
      }
    };
  }
}

/** The page shell; everything dynamic is filled in by STATUS_JS. */
export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Latch node status</title>
<link rel="stylesheet" href="/status.css">
<script src="/status.js" defer></script>
</head>
<body>
<header><h1>Latch <span id="node"></span></h1><p id="summary">loading…</p><p id="error" hidden></p></header>
<section><h2>Members</h2>
<table id="members"><thead><tr><th>id</th><th>role</th><th>lag</th><th>replication</th><th>peer</th><th>client</th></tr></thead><tbody></tbody></table>
<p class="note">Lag (entries behind the leader's log) is known only on the leader's page.</p></section>
<section><h2>Locks</h2>
<table id="locks"><thead><tr><th>name</th><th>mode</th><th>holders (session: token)</th><th>waiters</th><th>delay</th></tr></thead><tbody></tbody></table></section>
<section><h2>Sessions</h2>
<table id="sessions"><thead><tr><th>id</th><th>client</th><th>ttl ms</th><th>holds</th></tr></thead><tbody></tbody></table></section>
<section><h2>Recent events</h2>
<table id="events"><thead><tr><th>time</th><th>index</th><th>event</th><th>detail</th></tr></thead><tbody></tbody></table></section>
</body>
</html>
`;

/** The page's script: polls `/api/overview` every second and redraws with textContent only. */
export const STATUS_JS = `'use strict';
(function () {
  function $(id) { return document.getElementById(id); }
  function fill(tableId, rows) {
    var body = $(tableId).tBodies[0];
    var frag = document.createDocumentFragment();
    rows.forEach(function (cells) {
      var tr = document.createElement('tr');
      cells.forEach(function (c) { var td = document.createElement('td'); td.textContent = c == null ? '' : String(c); tr.appendChild(td); });
      frag.appendChild(tr);
    });
    if (rows.length === 0) { var tr = document.createElement('tr'); var td = document.createElement('td'); td.colSpan = 6; td.className = 'empty'; td.textContent = 'none'; tr.appendChild(td); frag.appendChild(tr); }
    body.replaceChildren(frag);
  }
  function render(o) {
    $('node').textContent = o.node;
    $('summary').textContent = 'role ' + o.role + ' · term ' + o.term + ' · leader ' + (o.leader || 'none') + ' · commit ' + o.commitIndex + ' · applied ' + o.appliedIndex + ' · cluster ' + o.clusterId + (o.truncated ? ' · lists truncated' : '');
    $('summary').dataset.leader = o.leader || '';
    fill('members', o.members.map(function (m) { return [m.id, m.role, m.lag == null ? '—' : m.lag, m.state || '—', m.peerAddress, m.clientAddress]; }));
    fill('locks', o.locks.map(function (l) {
      return [l.name, l.mode || '—', l.holders.map(function (h) { return h.sessionId + ': ' + h.token; }).join(', '), l.waiters.map(function (w) { return w.sessionId + ' (' + w.mode + ')'; }).join(', '), l.inDelay ? 'in lock-delay' : ''];
    }));
    fill('sessions', o.sessions.map(function (s) { return [s.id, s.client, s.ttlMs, s.holds.join(', ')]; }));
    fill('events', o.events.map(function (e) { return [new Date(e.at).toISOString().slice(11, 23), e.index || '', e.type, e.text]; }));
  }
  function tick() {
    fetch('/api/overview', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (o) { $('error').hidden = true; render(o); }, function (err) {
      $('error').hidden = false; $('error').textContent = 'cannot reach this node: ' + err.message;
    }).finally(function () { setTimeout(tick, 1000); });
  }
  tick();
})();
`;

/** The page's style sheet. */
export const STATUS_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem;margin:0}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #ddd;font-variant-numeric:tabular-nums}
th{background:#f4f4f4}.note{color:#666;font-size:.85rem}.empty{color:#999}#error{color:#b00}
`;
