/**
 * The live status page at `/` on a node's HTTP port: members with their roles and lag, the leader,
 * sessions, locks with holders, tokens and waiters, and recent events. A static HTML shell plus a
 * small script that polls `/api/overview` (this node's local, possibly slightly stale view) once a
 * second. No framework; data is inserted with `textContent` only, under a strict CSP.
 *
 * With a token file the shell (`/`, `/status.js`, `/status.css`: no cluster data) stays public and
 * `/api/overview` needs a bearer token with read on every name (src/server/auth.ts): on 401/403 the
 * script asks for a token, keeps it in the tab's sessionStorage and sends it on every poll.
 */
import type { LockEvent, LockStateMachine, SessionInfo } from '../lock/index.js';
import type { NodeStatus } from '../node/raft-node.js';
import type { HttpRoute } from './http-server.js';

/** One member row of the overview. */
export interface MemberOverview {
  readonly id: string;
  readonly peerAddress: string;
  readonly clientAddress: string;
  /**
   * The member's Raft role as this node knows it: `leader`, `follower` or `learner`. This node's own
   * row may also say `candidate` or `pre-candidate`; another voter is `unknown` while no leader is known.
   */
  readonly role: MemberRole;
  /** True for a voting member of this node's configuration, false for a learner (separate from the role). */
  readonly voter: boolean;
  /** Entries behind the leader's last index; null when this node is not the leader (it cannot know). */
  readonly lag: number | null;
  /** Replication state as the leader sees it (`probe`, `replicate`, `snapshot`), null elsewhere. */
  readonly state: string | null;
}

/** A member's role on the page. */
export type MemberRole = 'leader' | 'follower' | 'learner' | 'candidate' | 'pre-candidate' | 'unknown';

/**
 * A session's lease state on the page:
 * - `ok`: the log holds no checkpoint for it (its keepalives renewed it) and, on the leader, its
 *   deadline is ahead;
 * - `lapsed`: the log holds a checkpointed remaining lease for it (just opened, or not heard from for
 *   half its TTL); its next keepalive must commit a renew before it is acknowledged;
 * - `expiring`: on the leader, its deadline has passed: an expire-session is due or in flight.
 */
export type SessionState = 'ok' | 'lapsed' | 'expiring';

/** One session row of the overview. */
export interface SessionOverview {
  readonly id: string;
  readonly client: string;
  readonly ttlMs: number;
  readonly holds: readonly string[];
  readonly state: SessionState;
  /**
   * Milliseconds left: from the leader's deadline (`timeLeftFrom: 'leader'`, only on the leader's
   * page), or the remaining lease the last checkpoint recorded for a lapsed session (`'checkpoint'`,
   * as of entry `checkpointIndex`); null when this node does not know.
   */
  readonly timeLeftMs: number | null;
  readonly timeLeftFrom: 'leader' | 'checkpoint' | null;
  /** Index of the entry that recorded a lapsed session's remaining lease, else null. */
  readonly checkpointIndex: number | null;
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
  readonly sessions: readonly SessionOverview[];
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
  /**
   * Milliseconds until the leader expires a session (≤ 0 once due), or undefined when this node is
   * not a leader with duties running or does not track it. Optional: without it the page shows
   * only what the log records (the `lapsed` flag and checkpointed remaining lease).
   */
  sessionTimeLeft?(sessionId: number): number | undefined;
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
        role: memberRole(id, st, learners),
        voter: voters.has(id) && !learners.has(id),
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
      sessions: allSessions.slice(0, MAX_ROWS).map((s) => this.sessionRow(s)),
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

  private sessionRow(s: SessionInfo): SessionOverview {
    const base = { id: String(s.id), client: s.client, ttlMs: s.ttlMs, holds: [...s.holds], checkpointIndex: s.lapsed ? s.checkpointIndex : null };
    const left = this.source.sessionTimeLeft?.(s.id);
    if (left !== undefined && Number.isFinite(left)) {
      return { ...base, state: left <= 0 ? 'expiring' : s.lapsed ? 'lapsed' : 'ok', timeLeftMs: Math.max(0, Math.round(left)), timeLeftFrom: 'leader' };
    }
    if (s.lapsed && s.remainingMs !== null) return { ...base, state: 'lapsed', timeLeftMs: s.remainingMs, timeLeftFrom: 'checkpoint' };
    return { ...base, state: s.lapsed ? 'lapsed' : 'ok', timeLeftMs: null, timeLeftFrom: null };
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
          'content-security-policy': STATUS_CSP,
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

/** A member's role from this node's status (see MemberOverview.role). */
function memberRole(id: string, st: NodeStatus, learners: ReadonlySet<string>): MemberRole {
  if (learners.has(id)) return 'learner';
  if (id === st.leader) return 'leader';
  if (id === st.id) return st.role;
  return st.leader !== null ? 'follower' : 'unknown';
}

/** The page's content security policy: nothing but this node's own script, style and API; no forms posted anywhere. */
export const STATUS_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The page shell; everything dynamic is filled in by STATUS_JS. The token form has no `name`d field, so it never submits the token anywhere. */
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
<header><h1>Latch <span id="node"></span></h1><p id="summary">loading…</p><p id="error" hidden></p>
<button id="forget" type="button" hidden>Forget token</button></header>
<form id="auth" hidden>
<h2>Token required</h2>
<p id="auth-message" role="alert"></p>
<label for="token">Bearer token</label> <input id="token" type="password" autocomplete="off" spellcheck="false" required> <button type="submit">Use token</button>
<p class="note">It needs read on every name. It is kept in this tab's session storage only and sent to this node as <code>Authorization: Bearer</code>.</p>
</form>
<main id="data">
<section><h2>Members</h2>
<table id="members"><thead><tr><th>id</th><th>role</th><th>lag</th><th>replication</th><th>voting</th><th>peer</th><th>client</th></tr></thead><tbody></tbody></table>
<p class="note">Role as this node sees it; voting says whether the member counts towards a quorum. Lag (entries behind the leader's log) is known only on the leader's page.</p></section>
<section><h2>Locks</h2>
<table id="locks"><thead><tr><th>name</th><th>mode</th><th>holders (session: token)</th><th>waiters</th><th>delay</th></tr></thead><tbody></tbody></table></section>
<section><h2>Sessions</h2>
<table id="sessions"><thead><tr><th>id</th><th>client</th><th>state</th><th>time left</th><th>ttl ms</th><th>holds</th></tr></thead><tbody></tbody></table>
<p class="note">ok: renewed by keepalives; lapsed: the log holds only a checkpointed remaining lease (just opened, or silent for half its TTL); expiring: the leader's deadline passed. Time left comes from the leader's deadline on the leader's page; elsewhere a lapsed session shows what its checkpoint recorded, as of that entry.</p></section>
<section><h2>Recent events</h2>
<table id="events"><thead><tr><th>time</th><th>index</th><th>event</th><th>detail</th></tr></thead><tbody></tbody></table></section>
</main>
</body>
</html>
`;

/**
 * The page's script: polls `/api/overview` every second (fetch, so it can send a bearer header:
 * EventSource cannot) and redraws with textContent only. On 401/403 it stops polling, forgets a
 * refused token and asks for one; the token lives in this tab's sessionStorage only.
 */
export const STATUS_JS = `'use strict';
(function () {
  var KEY = 'latch-token';
  var timer = null;
  var generation = 0;
  function $(id) { return document.getElementById(id); }
  function storedToken() { try { return sessionStorage.getItem(KEY) || ''; } catch (e) { return ''; } }
  function storeToken(t) { try { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY); } catch (e) { /* storage off: ask every time */ } }
  function fill(tableId, rows) {
    var table = $(tableId);
    var body = table.tBodies[0];
    var frag = document.createDocumentFragment();
    rows.forEach(function (cells) {
      var tr = document.createElement('tr');
      cells.forEach(function (c) { var td = document.createElement('td'); td.textContent = c == null ? '' : String(c); tr.appendChild(td); });
      frag.appendChild(tr);
    });
    if (rows.length === 0) { var tr = document.createElement('tr'); var td = document.createElement('td'); td.colSpan = table.tHead.rows[0].cells.length; td.className = 'empty'; td.textContent = 'none'; tr.appendChild(td); frag.appendChild(tr); }
    body.replaceChildren(frag);
  }
  function seconds(ms) { return (ms / 1000).toFixed(1) + ' s'; }
  function timeLeft(s) {
    if (s.timeLeftMs == null) return '—';
    return s.timeLeftFrom === 'checkpoint' ? seconds(s.timeLeftMs) + ' at index ' + s.checkpointIndex : seconds(s.timeLeftMs);
  }
  function render(o) {
    $('node').textContent = o.node;
    $('summary').textContent = 'role ' + o.role + ' · term ' + o.term + ' · leader ' + (o.leader || 'none') + ' · commit ' + o.commitIndex + ' · applied ' + o.appliedIndex + ' · cluster ' + o.clusterId + (o.truncated ? ' · lists truncated' : '');
    $('summary').dataset.leader = o.leader || '';
    fill('members', o.members.map(function (m) { return [m.id, m.role, m.lag == null ? '—' : m.lag, m.state || '—', m.voter ? 'voter' : 'non-voter', m.peerAddress, m.clientAddress]; }));
    fill('locks', o.locks.map(function (l) {
      return [l.name, l.mode || '—', l.holders.map(function (h) { return h.sessionId + ': ' + h.token; }).join(', '), l.waiters.map(function (w) { return w.sessionId + ' (' + w.mode + ')'; }).join(', '), l.inDelay ? 'in lock-delay' : ''];
    }));
    fill('sessions', o.sessions.map(function (s) { return [s.id, s.client, s.state, timeLeft(s), s.ttlMs, s.holds.join(', ')]; }));
    fill('events', o.events.map(function (e) { return [new Date(e.at).toISOString().slice(11, 23), e.index || '', e.type, e.text]; }));
  }
  function schedule(ms) { clearTimeout(timer); timer = setTimeout(tick, ms); }
  function ask(message) {
    clearTimeout(timer);
    $('data').hidden = true;
    $('error').hidden = true;
    $('forget').hidden = true;
    $('summary').textContent = 'this node needs a bearer token';
    delete $('summary').dataset.leader;
    $('auth-message').textContent = message;
    $('auth').hidden = false;
    $('token').value = '';
    $('token').focus();
  }
  function refused(status, sent, why) {
    // A refused token is forgotten at once, so a reload asks again instead of re-sending it.
    storeToken('');
    if (status === 403) return ask('That token is valid but may not read this page: ' + why + '. Enter a token with read on every name.');
    if (sent) return ask('That token was refused: ' + why + '. Enter a valid token.');
    return ask('This node requires a bearer token with read on every name.');
  }
  function tick() {
    var mine = ++generation;
    var token = storedToken();
    var headers = token ? { authorization: 'Bearer ' + token } : {};
    fetch('/api/overview', { cache: 'no-store', headers: headers }).then(function (r) {
      if (mine !== generation) return;
      if (r.status === 401 || r.status === 403) {
        return r.text().then(function (body) { if (mine === generation) refused(r.status, token !== '', body.trim() || ('HTTP ' + r.status)); });
      }
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json().then(function (o) {
        if (mine !== generation) return;
        $('error').hidden = true;
        $('auth').hidden = true;
        $('data').hidden = false;
        $('forget').hidden = token === '';
        render(o);
        schedule(1000);
      });
    }).catch(function (err) {
      if (mine !== generation) return;
      $('error').hidden = false; $('error').textContent = 'cannot reach this node: ' + err.message;
      schedule(1000);
    });
  }
  $('auth').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var t = $('token').value.trim();
    if (!t) return;
    storeToken(t);
    $('token').value = '';
    $('auth').hidden = true;
    $('summary').textContent = 'loading…';
    tick();
  });
  $('forget').addEventListener('click', function () { storeToken(''); tick(); });
  tick();
})();
`;

/** The page's style sheet. */
export const STATUS_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem;margin:0}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #ddd;font-variant-numeric:tabular-nums}
th{background:#f4f4f4}.note{color:#666;font-size:.85rem}.empty{color:#999}#error{color:#b00}
#auth{max-width:40rem;padding:.8rem 1rem;border:1px solid #ccc;border-radius:4px;background:#fafafa}
#auth-message{color:#b00}#token{width:22rem;max-width:100%}[hidden]{display:none!important}
`;
