/*
 * mailslot.js: the browser client. No build step, no dependencies, ES5 syntax, XMLHttpRequest only
 * (no fetch, no Promise), so it runs in old browsers and behind proxies that break streaming.
 *
 *   var c = Mailslot.connect({ token: '...' });        // or getToken: function (cb) { cb(null, t) }
 *   c.onmessage = function (m) { ... };                 // {seq, id, from, group, type, payload, createdAt}
 *   c.onread = function (seq) { ... };                  // the user's read marker moved (another device)
 *   c.onstate = function (s) { ... };                   // {transport, connected, leader, reason}
 *   c.onsignal = function (d) { ... };                  // {type, from, group, payload, at}: QoS 0
 *   c.onpresence = function (d) { ... };                // {user, online}: a member of a presence group
 *   c.signal({ group: 'room' }, 'typing', {}, cb);      // or { to: ['bob'] }; POST /v1/signals
 *   c.presence(['bob', 'carol'], function (err, map) {}); // GET /v1/presence: {bob: {online, lastSeen}}
 *
 * Transports: EventSource first; long polling when EventSource is missing, fails before it ever
 * opens, or is buffered by a proxy. The server opens every stream with `event: ready` and, asked
 * with ?ping=1, sends a `ping` event a second later as a write of its own; a stream that shows no
 * `ready` and then no second event within readyTimeoutMs is held back by something in between, so
 * the client polls instead (and tries the stream again later, less and less often).
 *
 * Tabs: one connection per browser, not per tab. Tabs of one user and device elect a leader with a
 * lease in localStorage; the leader holds the stream or poll and relays to the others over
 * BroadcastChannel (or localStorage events where BroadcastChannel is missing). Every tab drops
 * duplicates by seq and asks the leader to fill a gap, so a hand-over loses nothing.
 *
 * Signals and presence events (QoS 0) have no seq: the leader hands each to its page and relays it
 * once to the other tabs; nothing dedups, stores or replays them, and a tab that was not listening
 * at that moment does not get them.
 *
 * The cursor (highest seq processed) lives in localStorage: a reload resumes after it.
 * States of a tab: FOLLOWER (relay) <-> LEADER (sse | poll), and CLOSED.
 */
(function (root) {
  'use strict';

  var LEASE_MS = 4000;
  var BEAT_MS = 1000;
  var RING = 300;

  function now() { return new Date().getTime(); }
  function jitter(ms) { return Math.round(ms * (0.5 + Math.random() * 0.5)); }
  function backoff(attempt) { return jitter(Math.min(30000, 500 * Math.pow(2, Math.min(attempt, 8)))); }
  function randomId() { return now().toString(36) + '-' + Math.random().toString(36).slice(2, 10); }

  function parseJson(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function storage() {
    try {
      var s = root.localStorage;
      var k = '__mailslot_probe__';
      s.setItem(k, '1');
      s.removeItem(k);
      return s;
    } catch (e) {
      return null; // disabled, full, or private mode of an old Safari
    }
  }

  /** The claims of a JWT, without verifying it (the server does): for storage keys and expiry. */
  function claims(token) {
    try {
      var part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      while (part.length % 4) part += '=';
      return JSON.parse(root.atob(part));
    } catch (e) {
      return null;
    }
  }

  /**
   * One HTTP request. cb(status, body, xhr): status 0 for a network error or timeout; body is the
   * parsed JSON or null.
   */
  function request(opts, cb) {
    var xhr = new XMLHttpRequest();
    var done = false;
    var finish = function (status) {
      if (done) return;
      done = true;
      cb(status, status ? parseJson(xhr.responseText) : null, xhr);
    };
    xhr.open(opts.method || 'GET', opts.url, true);
    if (opts.token) xhr.setRequestHeader('Authorization', 'Bearer ' + opts.token);
    if (opts.body !== undefined) xhr.setRequestHeader('Content-Type', 'application/json');
    if (opts.timeoutMs) xhr.timeout = opts.timeoutMs;
    xhr.onreadystatechange = function () {
      if (xhr.readyState === 4) finish(xhr.status);
    };
    xhr.ontimeout = function () { finish(0); };
    xhr.onerror = function () { finish(0); };
    xhr.send(opts.body === undefined ? null : JSON.stringify(opts.body));
    return { abort: function () { done = true; try { xhr.abort(); } catch (e) { /* already finished */ } } };
  }

  /** A message bus between tabs of one origin: BroadcastChannel, else localStorage events. */
  function Bus(name, store, onmsg) {
    var self = this;
    this.closed = false;
    if (typeof root.BroadcastChannel === 'function') {
      this.kind = 'broadcastchannel';
      this.ch = new root.BroadcastChannel(name);
      this.ch.onmessage = function (e) { if (!self.closed) onmsg(e.data); };
    } else if (store && root.addEventListener) {
      this.kind = 'storage';
      this.key = name + ':bus';
      this.store = store;
      this.listener = function (e) {
        if (self.closed || e.key !== self.key || !e.newValue) return;
        var v = parseJson(e.newValue);
        if (v) onmsg(v.m);
      };
      root.addEventListener('storage', this.listener, false);
    } else {
      this.kind = 'none';
    }
  }
  Bus.prototype.post = function (m) {
    if (this.closed) return;
    if (this.kind === 'broadcastchannel') {
      this.ch.postMessage(m);
    } else if (this.kind === 'storage') {
      // A unique value per post: the storage event fires only when the value changes.
      try { this.store.setItem(this.key, JSON.stringify({ m: m, n: randomId() })); } catch (e) { /* quota: drop the hint */ }
    }
  };
  Bus.prototype.close = function () {
    this.closed = true;
    if (this.kind === 'broadcastchannel') this.ch.close();
    if (this.kind === 'storage') root.removeEventListener('storage', this.listener, false);
  };

  function Client(o) {
    this.url = (o.url || '').replace(/\/+$/, '');
    this.token = o.token || null;
    this.getToken = o.getToken || null;
    this.mode = o.transport || 'auto'; // 'auto' | 'sse' | 'poll'
    this.readyTimeoutMs = o.readyTimeoutMs || 4000;
    this.staleMs = o.staleMs || 40000; // the server pings every 15 s by default
    this.pollTimeoutS = o.pollTimeoutS || 25;
    this.sseRetryMs = o.sseRetryMs || 300000;
    this.padding = !!o.padding;
    this.shareTabs = o.shareTabs !== false;
    this.onmessage = o.onmessage || null;
    this.onread = o.onread || null;
    this.onstate = o.onstate || null;
    this.onsignal = o.onsignal || null;
    this.onpresence = o.onpresence || null;
    this.onerror = o.onerror || null;

    this.id = randomId();
    this.store = storage();
    this.closed = false;
    this.leader = false;
    this.last = null;      // highest seq delivered to this tab
    this.readSeq = 0;
    this.ring = [];        // recent messages, to fill a follower's gap after a hand-over
    this.state = { transport: 'none', connected: false, leader: false, reason: 'starting' };
    this.attempt = 0;
    this.timers = {};
    this.es = null;
    this.xhr = null;
    this.sseFailures = 0;
    this.pollingSince = 0;
    this.sseProbeMs = this.sseRetryMs;
    this.leaderState = null;
    this.resume = null;    // a lower cursor to reconnect from once (a follower missed a relay)

    var c = this.token ? claims(this.token) : null;
    // Storage is keyed by tenant, user and device (from the token's claims; by the token itself
    // where they cannot be read), so two users of one browser never share a cursor.
    this.scope = 'mailslot:' + (o.scope || (c ? c.tid + '/' + c.sub + '/' + (c.did || 'default') : 'token/' + String(this.token).slice(-32)));
    var stored = this.read('cursor');
    if (stored !== null && /^\d+$/.test(stored)) this.last = parseInt(stored, 10);
  }

  // ---- storage helpers ---------------------------------------------------------------------

  Client.prototype.read = function (k) {
    if (!this.store) return null;
    try { return this.store.getItem(this.scope + ':' + k); } catch (e) { return null; }
  };
  Client.prototype.write = function (k, v) {
    if (!this.store) return;
    try {
      if (v === null) this.store.removeItem(this.scope + ':' + k);
      else this.store.setItem(this.scope + ':' + k, v);
    } catch (e) { /* storage full: the cursor stays in memory */ }
  };
  Client.prototype.lease = function () {
    return parseJson(this.read('leader') || 'null');
  };

  // ---- public ------------------------------------------------------------------------------

  Client.prototype.start = function () {
    var self = this;
    if (this.shareTabs && this.store) {
      this.bus = new Bus(this.scope, this.store, function (m) { self.onBus(m); });
    }
    if (!this.bus || this.bus.kind === 'none') {
      this.becomeLeader();
      return this;
    }
    this.onUnload = function () { self.close(); };
    if (root.addEventListener) {
      root.addEventListener('pagehide', this.onUnload, false);
      root.addEventListener('beforeunload', this.onUnload, false);
    }
    this.setState({ transport: 'relay', connected: false, leader: false, reason: 'electing' });
    this.bus.post({ t: 'hello', id: this.id });
    this.tick();
    return this;
  };

  /** The highest seq this tab has processed (null before the first contact). */
  Client.prototype.cursor = function () { return this.last; };

  /** Publishes as the token's user (scope "subscribe publish"); retried with the same dedupId. */
  Client.prototype.publish = function (body, cb) {
    var self = this;
    var msg = {};
    for (var k in body) if (Object.prototype.hasOwnProperty.call(body, k)) msg[k] = body[k];
    if (!msg.dedupId) msg.dedupId = randomId();
    var tries = 0;
    var attempt = function () {
      request({ method: 'POST', url: self.url + '/v1/messages', token: self.token, body: msg, timeoutMs: 15000 }, function (status, res) {
        if ((status === 0 || status >= 500 || status === 429) && ++tries < 5) {
          self.later('publish' + msg.dedupId, backoff(tries), attempt);
          return;
        }
        if (status === 401 && self.getToken && tries++ < 1) {
          self.refreshToken(function (ok) { if (ok) attempt(); else cb && cb({ status: 401, error: 'unauthorized' }); });
          return;
        }
        if (cb) {
          if (status >= 200 && status < 300) cb(null, res);
          else cb(res && res.error ? { status: status, error: res.error, message: res.message } : { status: status, error: 'network' });
        }
      });
    };
    attempt();
  };

  /** Moves the user's read marker (POST /v1/read); other devices get `read`. */
  Client.prototype.markRead = function (seq, cb) {
    var self = this;
    if (seq <= this.readSeq || this.noReadRoute) return;
    this.readSeq = seq;
    request({ method: 'POST', url: this.url + '/v1/read', token: this.token, body: { seq: seq }, timeoutMs: 15000 }, function (status, res) {
      // A server without read markers: stop asking.
      if (status === 404 && res && /no route/.test(res.message || '')) self.noReadRoute = true;
      if (cb) cb(status >= 200 && status < 300 ? null : { status: status, error: res && res.error }, res);
    });
    if (this.bus) this.bus.post({ t: 'read', id: this.id, seq: seq });
  };

  /**
   * Sends an ephemeral signal (QoS 0, scope "subscribe publish"): target {to: [...]} or {group}, an
   * array of users, or one user ('bob') or group ('#room') as a string. Not retried: a signal late
   * is a signal wrong ("typing" after the message).
   */
  Client.prototype.signal = function (target, type, payload, cb) {
    var body = { type: type, payload: payload || {} };
    if (typeof target === 'string') {
      if (target.charAt(0) === '#') body.group = target.slice(1);
      else body.to = [target];
    } else if (target instanceof Array) body.to = target;
    else if (target && typeof target.group === 'string') body.group = target.group;
    else body.to = target && target.to;
    this.call({ method: 'POST', url: this.url + '/v1/signals', body: body }, cb);
  };

  /** Who of `users` is online (GET /v1/presence); users sharing no group with this one are absent. */
  Client.prototype.presence = function (users, cb) {
    var q = [];
    for (var i = 0; i < users.length; i++) q.push(encodeURIComponent(users[i]));
    this.call({ url: this.url + '/v1/presence?users=' + q.join(',') }, cb);
  };

  /** One request with the token; a 401 gets a fresh token (getToken) and one more try. */
  Client.prototype.call = function (opts, cb) {
    var self = this;
    var refreshed = false;
    var attempt = function () {
      request({ method: opts.method, url: opts.url, token: self.token, body: opts.body, timeoutMs: 15000 }, function (status, res) {
        if (status === 401 && self.getToken && !refreshed) {
          refreshed = true;
          self.refreshToken(function (ok) { if (ok) attempt(); else if (cb) cb({ status: 401, error: 'unauthorized' }); });
          return;
        }
        if (!cb) return;
        if (status >= 200 && status < 300) cb(null, res);
        else cb(res && res.error ? { status: status, error: res.error, message: res.message } : { status: status, error: 'network' });
      });
    };
    attempt();
  };

  Client.prototype.close = function () {
    if (this.closed) return;
    if (this.leader) {
      this.flushAck();
      var l = this.lease();
      if (l && l.id === this.id) this.write('leader', null);
      if (this.bus) this.bus.post({ t: 'bye', id: this.id });
    }
    this.closed = true;
    this.stopTransport();
    for (var k in this.timers) if (Object.prototype.hasOwnProperty.call(this.timers, k)) clearTimeout(this.timers[k]);
    this.timers = {};
    if (this.bus) this.bus.close();
    if (this.onUnload && root.removeEventListener) {
      root.removeEventListener('pagehide', this.onUnload, false);
      root.removeEventListener('beforeunload', this.onUnload, false);
    }
    this.setState({ transport: 'none', connected: false, leader: false, reason: 'closed' });
  };

  // ---- timers and state --------------------------------------------------------------------

  Client.prototype.later = function (name, ms, fn) {
    var self = this;
    if (this.timers[name]) clearTimeout(this.timers[name]);
    this.timers[name] = setTimeout(function () {
      delete self.timers[name];
      if (!self.closed) fn();
    }, ms);
  };
  Client.prototype.cancel = function (name) {
    if (this.timers[name]) { clearTimeout(this.timers[name]); delete this.timers[name]; }
  };

  Client.prototype.setState = function (s) {
    var prev = this.state;
    this.state = s;
    if (this.leader && this.bus) this.bus.post({ t: 'state', id: this.id, s: s });
    if (this.onstate && (prev.transport !== s.transport || prev.connected !== s.connected || prev.leader !== s.leader || prev.reason !== s.reason)) {
      this.onstate(s);
    }
  };

  // ---- election ----------------------------------------------------------------------------

  Client.prototype.tick = function () {
    var self = this;
    var l = this.lease();
    var t = now();
    if (this.leader) {
      if (l && l.id !== this.id && l.until > t) {
        this.stepDown();
      } else {
        this.write('leader', JSON.stringify({ id: this.id, until: t + LEASE_MS }));
        this.bus.post({ t: 'beat', id: this.id, s: this.state, last: this.last });
      }
    } else if (!l || l.until < t) {
      this.claim();
    }
    this.later('tick', BEAT_MS, function () { self.tick(); });
  };

  /** Writes the lease, then checks it is still ours a moment later: the last writer wins. */
  Client.prototype.claim = function () {
    var self = this;
    if (this.timers.claim) return;
    this.write('leader', JSON.stringify({ id: this.id, until: now() + LEASE_MS }));
    this.later('claim', 120 + Math.floor(Math.random() * 80), function () {
      var l = self.lease();
      if (l && l.id === self.id && !self.leader) self.becomeLeader();
    });
  };

  Client.prototype.becomeLeader = function () {
    this.leader = true;
    this.attempt = 0;
    this.sseFailures = 0;
    // Resume from this tab's own cursor, not the stored one: what this tab missed comes again,
    // and the other tabs drop what they already have.
    this.startTransport(this.mode === 'poll' || typeof root.EventSource !== 'function' ? 'poll' : 'sse');
  };

  Client.prototype.stepDown = function () {
    this.leader = false;
    this.flushAck();
    this.stopTransport();
    this.setState({ transport: 'relay', connected: this.leaderState ? this.leaderState.connected : false, leader: false, reason: 'follower' });
  };

  Client.prototype.onBus = function (m) {
    var self = this;
    if (!m || m.id === this.id) return;
    if (m.t === 'beat' || m.t === 'state') {
      if (this.leader && m.t === 'beat') {
        var l = this.lease();
        if (l && l.id === m.id) this.stepDown(); // two leaders for a moment: the lease decides
      }
      if (!this.leader) {
        this.leaderState = m.s;
        this.setState({ transport: 'relay', via: m.s.transport, connected: !!m.s.connected, leader: false, reason: 'follower' });
        // Behind the leader while nothing was relayed (joined mid-delivery): ask for the rest.
        if (m.t === 'beat' && m.last !== null && this.last !== null && m.last > this.last) this.askSync();
      }
    } else if (m.t === 'msg') {
      if (!this.leader) this.receiveRelay(m.list);
    } else if (m.t === 'reset') {
      if (!this.leader) this.resetTo(m.oldest);
    } else if (m.t === 'read') {
      this.gotRead(m.seq);
    } else if (m.t === 'signal' || m.t === 'presence') {
      if (!this.leader) this.notice(m.t, m.d);
    } else if (m.t === 'sync') {
      if (this.leader) this.serveSync(m.since);
    } else if (m.t === 'bye') {
      if (!this.leader) this.later('takeover', Math.floor(Math.random() * 60), function () { self.claim(); });
    } else if (m.t === 'hello') {
      if (this.leader) this.bus.post({ t: 'beat', id: this.id, s: this.state, last: this.last });
    }
  };

  Client.prototype.askSync = function () {
    if (this.timers.sync) return;
    this.bus.post({ t: 'sync', id: this.id, since: this.last });
    this.later('sync', 1000, function () { /* one request per second at most */ });
  };

  /** A follower is behind: resend from the ring, or restart the transport from its cursor. */
  Client.prototype.serveSync = function (since) {
    if (since === null || this.last === null || since >= this.last) return;
    if (this.ring.length && this.ring[0].seq <= since + 1) {
      var out = [];
      for (var i = 0; i < this.ring.length; i++) if (this.ring[i].seq > since) out.push(this.ring[i]);
      this.bus.post({ t: 'msg', id: this.id, list: out });
    } else {
      this.resume = since;
      this.restartTransport();
    }
  };

  Client.prototype.receiveRelay = function (list) {
    for (var i = 0; i < list.length; i++) {
      var m = list[i];
      if (this.last !== null && m.seq > this.last + 1) {
        this.askSync(); // a gap: the leader fills it; order is kept by not skipping ahead
        return;
      }
      this.deliver(m);
    }
  };

  // ---- delivery ----------------------------------------------------------------------------

  /** Hands one message to the page unless it was seen; returns true when it was new. */
  Client.prototype.deliver = function (m) {
    if (this.last !== null && m.seq <= this.last) return false;
    this.last = m.seq;
    this.ring.push(m);
    if (this.ring.length > RING) this.ring.shift();
    if (this.onmessage) {
      try { this.onmessage(m); } catch (e) { if (root.console) root.console.error(e); }
    }
    return true;
  };

  /**
   * Messages from the transport (leader only): deliver, remember, relay. All of them are relayed,
   * seen or not: after a resume for a lagging follower, the others drop what they have.
   */
  Client.prototype.deliverAll = function (list) {
    if (!list.length) return;
    for (var i = 0; i < list.length; i++) this.deliver(list[i]);
    this.saveCursor();
    if (this.bus) this.bus.post({ t: 'msg', id: this.id, list: list });
  };

  /** The cursor for the next connection: a pending resume point wins once. */
  Client.prototype.since = function () {
    var s = this.resume !== null && (this.last === null || this.resume < this.last) ? this.resume : this.last;
    this.resume = null;
    return s;
  };

  Client.prototype.saveCursor = function () {
    if (this.last === null) return;
    var stored = parseInt(this.read('cursor') || '0', 10);
    if (this.last > stored) this.write('cursor', String(this.last));
  };

  Client.prototype.resetTo = function (oldest) {
    // Entries before `oldest` expired: continue from there. A leader passes every reset on, even
    // one behind its own cursor: it may answer a lagging follower's resync.
    if (this.leader && this.bus) this.bus.post({ t: 'reset', id: this.id, oldest: oldest });
    if (this.last === null || this.last < oldest - 1) {
      this.last = oldest - 1;
      if (this.leader) this.write('cursor', String(this.last));
    }
  };

  Client.prototype.gotRead = function (seq) {
    if (typeof seq !== 'number' || seq <= this.readSeq) return;
    this.readSeq = seq;
    if (this.leader && this.bus) this.bus.post({ t: 'read', id: this.id, seq: seq });
    if (this.onread) this.onread(seq);
  };

  /**
   * A signal or presence event: to the page, and from the leader once to the other tabs. No seq, so
   * no dedup: a leader that changes mid-way may lose one or pass one twice (QoS 0).
   */
  Client.prototype.notice = function (kind, d) {
    if (!d || typeof d !== 'object') return;
    if (this.leader && this.bus) this.bus.post({ t: kind, id: this.id, d: d });
    var fn = kind === 'signal' ? this.onsignal : this.onpresence;
    if (fn) {
      try { fn.call(this, d); } catch (e) { if (root.console) root.console.error(e); }
    }
  };
  Client.prototype.notices = function (kind, list) {
    if (!(list instanceof Array)) return;
    for (var i = 0; i < list.length; i++) this.notice(kind, list[i]);
  };

  Client.prototype.scheduleAck = function () {
    var self = this;
    if (this.timers.ack) return;
    this.later('ack', 300, function () { self.flushAck(); });
  };
  Client.prototype.flushAck = function () {
    this.cancel('ack');
    if (this.last === null || this.last <= (this.acked || 0) || this.state.transport !== 'sse') return;
    this.acked = this.last;
    request({ method: 'POST', url: this.url + '/v1/ack', token: this.token, body: { seq: this.last }, timeoutMs: 15000 }, function () {
      // A lost ack only means the server re-sends on a connection without `since`; we always send one.
    });
  };

  // ---- tokens ------------------------------------------------------------------------------

  Client.prototype.refreshToken = function (cb) {
    var self = this;
    if (!this.getToken) { cb(false); return; }
    this.getToken(function (err, token) {
      if (err || !token) { cb(false); return; }
      self.token = token;
      cb(true);
    });
  };

  /** Before connecting: a token that is about to expire is replaced first. */
  Client.prototype.withFreshToken = function (fn) {
    var self = this;
    var c = this.token ? claims(this.token) : null;
    if (this.token && (!c || !c.exp || c.exp * 1000 > now() + 30000)) { fn(); return; }
    this.refreshToken(function (ok) {
      if (ok) fn();
      else self.stopWith('unauthorized');
    });
  };

  Client.prototype.stopWith = function (reason) {
    this.stopTransport();
    this.setState({ transport: 'none', connected: false, leader: this.leader, reason: reason });
    if (this.onerror) this.onerror({ error: reason });
  };

  // ---- transports --------------------------------------------------------------------------

  Client.prototype.startTransport = function (kind) {
    var self = this;
    this.stopTransport();
    this.kind = kind;
    if (kind === 'poll') {
      this.pollingSince = now();
      this.pollFresh = true;
      this.setState({ transport: 'poll', connected: false, leader: true, reason: 'connecting' });
    }
    this.withFreshToken(function () {
      if (!self.leader || self.closed) return;
      if (kind === 'sse') self.openStream();
      else self.poll();
    });
  };

  Client.prototype.restartTransport = function () {
    if (this.leader) this.startTransport(this.kind || 'sse');
  };

  Client.prototype.stopTransport = function () {
    this.cancel('ready');
    this.cancel('stale');
    this.cancel('retry');
    if (this.es) { this.es.close(); this.es = null; }
    if (this.xhr) { this.xhr.abort(); this.xhr = null; }
  };

  Client.prototype.retry = function (fn, ms) {
    this.later('retry', ms, fn);
  };

  Client.prototype.fallBackToPoll = function (reason) {
    this.stopTransport();
    this.kind = 'poll';
    this.pollingSince = now();
    this.pollFresh = true;
    this.setState({ transport: 'poll', connected: false, leader: true, reason: reason });
    this.poll();
  };

  /**
   * A stream counts as working once `ready` and then one more event (the server's first ping, a
   * second after `ready`, or a message) have arrived: a proxy that passes the first bytes of a
   * response and holds the rest is caught too. Later, a stream silent for longer than staleMs
   * (several heartbeats) is dead or held back: reconnect.
   */
  Client.prototype.openStream = function () {
    var self = this;
    var q = '/v1/stream?ping=1&access_token=' + encodeURIComponent(this.token);
    var since = this.since();
    if (since !== null) q += '&since=' + since;
    if (this.padding) q += '&padding=1';
    var es = new root.EventSource(this.url + q);
    var ready = false;
    var healthy = false;
    this.es = es;
    this.setState({ transport: 'sse', connected: false, leader: true, reason: 'connecting' });
    var parse = function (e) { return parseJson(e.data); };
    var mine = function () { return self.es === es; };
    var drop = function () {
      es.close();
      self.es = null;
      self.cancel('ready');
      self.cancel('stale');
    };
    var alive = function () {
      if (!healthy) {
        healthy = true;
        self.cancel('ready');
        self.attempt = 0;
        self.sseFailures = 0;
        self.sseProbeMs = self.sseRetryMs;
        self.setState({ transport: 'sse', connected: true, leader: true, reason: 'streaming' });
      }
      self.later('stale', self.staleMs, function () {
        if (!mine()) return;
        drop();
        self.setState({ transport: 'sse', connected: false, leader: true, reason: 'stream went silent' });
        self.retry(function () { self.startTransport('sse'); }, jitter(1000));
      });
    };

    this.later('ready', this.readyTimeoutMs, function () {
      if (healthy || !mine()) return;
      drop();
      // Nothing (or only the first bytes) came through: something in between holds the stream.
      if (self.mode === 'sse') { self.retry(function () { self.startTransport('sse'); }, backoff(self.attempt++)); return; }
      self.fallBackToPoll(ready ? 'stream held back by a proxy' : 'stream blocked or buffered');
    });
    es.addEventListener('ready', function (e) {
      if (!mine()) return;
      ready = true;
      var d = parse(e);
      if (self.last === null && d && typeof d.since === 'number') self.last = d.since;
    }, false);
    es.addEventListener('ping', function () {
      if (mine() && ready) alive();
    }, false);
    es.addEventListener('message', function (e) {
      if (!mine()) return;
      var m = parse(e);
      if (!m || typeof m.seq !== 'number') return;
      if (ready) alive();
      self.deliverAll([m]);
      self.scheduleAck();
    }, false);
    es.addEventListener('reset', function (e) {
      var d = parse(e);
      if (mine() && d && typeof d.oldest === 'number') self.resetTo(d.oldest);
    }, false);
    es.addEventListener('read', function (e) {
      var d = parse(e);
      if (mine() && d) self.gotRead(d.seq);
    }, false);
    es.addEventListener('signal', function (e) {
      if (!mine()) return;
      if (ready) alive();
      self.notice('signal', parse(e));
    }, false);
    es.addEventListener('presence', function (e) {
      if (!mine()) return;
      if (ready) alive();
      self.notice('presence', parse(e));
    }, false);
    es.onerror = function () {
      if (!mine()) return;
      // Our own reconnect (not the browser's): jittered, from our cursor, with a fresh token.
      drop();
      self.setState({ transport: 'sse', connected: false, leader: true, reason: 'reconnecting' });
      if (!healthy && ++self.sseFailures >= 2 && self.mode !== 'sse') {
        self.fallBackToPoll('stream failed to open');
        return;
      }
      // A stream closed at its lifetime reconnects at once (with jitter); failures back off.
      var wait = healthy ? jitter(1000) : backoff(self.attempt++);
      self.retry(function () { self.startTransport('sse'); }, wait);
    };
  };

  Client.prototype.poll = function () {
    var self = this;
    // The first poll after (re)connecting returns at once: it shows that the path works and
    // catches up; the ones after it are held.
    var timeoutS = this.pollFresh ? 0 : this.pollTimeoutS;
    var q = '/v1/poll?timeout=' + timeoutS;
    var since = this.since();
    if (since !== null) q += '&since=' + since;
    var started = now();
    this.xhr = request({ url: this.url + q, token: this.token, timeoutMs: (timeoutS + 20) * 1000 }, function (status, body, xhr) {
      self.xhr = null;
      if (!self.leader || self.closed) return;
      var elapsed = now() - started;
      if (status === 200 && body) {
        self.attempt = 0;
        self.pollFresh = false;
        self.setState({ transport: 'poll', connected: true, leader: true, reason: 'polling' });
        var list = body.messages || [];
        if (self.last === null && typeof body.next === 'number' && !list.length) self.last = body.next;
        self.deliverAll(list);
        if (typeof body.read === 'number') self.gotRead(body.read);
        self.notices('signal', body.signals);
        self.notices('presence', body.presence);
        if (body.superseded) {
          // Another poller of this device (a second leader for a moment, or another browser).
          self.retry(function () { self.poll(); }, jitter(2000));
        } else if (self.mode === 'auto' && typeof root.EventSource === 'function' && now() - self.pollingSince > self.sseProbeMs) {
          self.sseProbeMs = Math.min(self.sseProbeMs * 2, 3600000); // a proxy that buffered once likely still does
          self.startTransport('sse');
        } else {
          self.poll();
        }
        return;
      }
      self.pollFresh = true;
      self.setState({ transport: 'poll', connected: false, leader: true, reason: 'error ' + status });
      if (status === 410 && body && typeof body.oldest === 'number') {
        self.resetTo(body.oldest);
        self.poll();
      } else if (status === 400 && body && body.error === 'cursor_ahead' && typeof body.head === 'number') {
        self.last = body.head; // the server knows less than we do (restored backup): start at its head
        self.write('cursor', String(self.last));
        self.poll();
      } else if (status === 401) {
        self.refreshToken(function (ok) { if (ok) self.poll(); else self.stopWith('unauthorized'); });
      } else if (status === 403 || status === 400) {
        self.stopWith(body && body.error ? body.error : 'forbidden');
      } else {
        // A proxy that cuts idle requests (a gateway error after a while) before our timeout:
        // hold polls a little shorter than that from now on.
        if ((status === 502 || status === 504) && elapsed > 2000 && elapsed < timeoutS * 1000 - 1000) {
          self.pollTimeoutS = Math.max(1, Math.floor(elapsed * 0.8 / 1000));
          self.retry(function () { self.poll(); }, jitter(200));
          return;
        }
        var ra = xhr && xhr.getResponseHeader ? parseInt(xhr.getResponseHeader('Retry-After') || '', 10) : NaN;
        self.retry(function () { self.poll(); }, ra > 0 ? ra * 1000 : backoff(self.attempt++));
      }
    });
  };

  root.Mailslot = {
    /** Creates and starts a client; see the top of this file for the options. */
    connect: function (o) { return new Client(o || {}).start(); },
    Client: Client,
    request: request,
    claims: claims
  };
})(this);
