/*
 * The demo chat, on public/mailslot.js. ES5 and no inline script (the CSP allows only 'self').
 *
 * Credentials: the demo tenant's admin key arrives once (the link `npm start` prints carries it in
 * the URL fragment, which never reaches a server or a log) and stays in sessionStorage, for this tab
 * only. With it the page mints a client token for the chosen user and keeps that token (not the key)
 * in localStorage, so the user's other tabs connect without asking. A real application mints tokens
 * in its backend; a browser never sees an API key.
 *
 * Signals and presence: typing in the message box sends a `typing` signal to the recipient (at most
 * every 2 s); the page shows "X is typing…" for 3 s after the last one, and who of the people it
 * knows (the room's members, the recipients typed in, whoever a presence event names) is online.
 *
 * URL parameters: ?user=alice picks the user; ?transport=auto|sse|poll forces a transport;
 * ?room=team starts with #team as the recipient (else the group last created on this browser).
 */
(function () {
  'use strict';

  var KEY = 'mailslot.demo.key';
  var SESSION = 'mailslot.demo.session';
  var DEVICE = 'mailslot.demo.device';
  var ROOM = 'mailslot.demo.room';
  var ROSTER = 'mailslot.demo.roster.';
  var TOKEN_TTL_S = 86400;

  var $ = function (id) { return document.getElementById(id); };
  var params = {};
  location.search.replace(/^\?/, '').split('&').forEach(function (kv) {
    if (!kv) return;
    var i = kv.indexOf('=');
    params[decodeURIComponent(i < 0 ? kv : kv.slice(0, i))] = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' '));
  });

  function local(k, v) {
    try {
      if (v === undefined) return localStorage.getItem(k);
      if (v === null) localStorage.removeItem(k); else localStorage.setItem(k, v);
    } catch (e) { /* storage disabled: the page still works for this tab */ }
    return null;
  }
  function session(k, v) {
    try {
      if (v === undefined) return sessionStorage.getItem(k);
      if (v === null) sessionStorage.removeItem(k); else sessionStorage.setItem(k, v);
    } catch (e) { /* as above */ }
    return null;
  }
  function show(el, text) { el.textContent = text; el.hidden = !text; }
  function trim(s) { return s.replace(/^\s+|\s+$/g, ''); }
  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }

  // The admin key from the link `npm start` printed; drop it from the address bar at once.
  var m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (m) {
    session(KEY, decodeURIComponent(m[1]));
    if (history.replaceState) history.replaceState(null, '', location.pathname + location.search);
  }

  // One device per browser: all tabs share it, and with it one cursor and one connection.
  var device = local(DEVICE);
  if (!device) {
    device = 'web-' + Math.random().toString(36).slice(2, 10);
    local(DEVICE, device);
  }

  var client = null;
  var me = null;
  var shown = {};       // seq -> <li>, for ticks and read marks
  var sent = {};        // message id -> {li, recipients}
  var receiptsOff = false;
  var roster = {};      // users whose presence the page asks for
  var people = {};      // user -> {online, lastSeen, evt}: what the page shows as online
  var presenceEvents = 0;
  var typingTimers = {}; // user -> the timer that ends their "typing…"
  var typingSentAt = 0;
  var noTyping = {};    // recipients the server refused a signal to (no shared group): not asked again

  function mint(user, cb) {
    var key = session(KEY);
    if (!key) { cb({ error: 'no_key', message: 'the admin key is needed to mint a token' }); return; }
    Mailslot.request({
      method: 'POST', url: '/v1/tokens', token: key, timeoutMs: 15000,
      body: { user: user, device: device, scope: 'subscribe publish', ttlSeconds: TOKEN_TTL_S }
    }, function (status, body) {
      if (status === 201 && body && body.token) {
        local(SESSION, JSON.stringify({ user: user, token: body.token, expiresAt: body.expiresAt }));
        cb(null, body.token);
      } else {
        cb(body || { error: 'network', message: 'the server did not answer' });
      }
    });
  }

  function storedSession() {
    var s = null;
    try { s = JSON.parse(local(SESSION) || 'null'); } catch (e) { s = null; }
    if (!s || !s.token || Date.parse(s.expiresAt) < new Date().getTime() + 60000) return null;
    if (params.user && params.user !== s.user) return null;
    return s;
  }

  function start() {
    var s = storedSession();
    if (s) { connect(s.user, s.token); return; }
    var user = params.user;
    if (user && session(KEY)) {
      mint(user, function (err, token) {
        if (err) { showLogin(err.message || err.error); return; }
        connect(user, token);
      });
      return;
    }
    showLogin('');
  }

  function showLogin(error) {
    $('chat').hidden = true;
    $('login').hidden = false;
    if (session(KEY)) $('key').value = session(KEY);
    if (params.user) $('user').value = params.user;
    show($('login-error'), error || '');
  }

  $('login-form').onsubmit = function (e) {
    e.preventDefault();
    var user = $('user').value.replace(/^\s+|\s+$/g, '');
    session(KEY, $('key').value.replace(/^\s+|\s+$/g, ''));
    mint(user, function (err, token) {
      if (err) { show($('login-error'), (err.error || 'error') + ': ' + (err.message || '')); return; }
      connect(user, token);
    });
  };

  $('switch').onclick = function () {
    if (client) client.close();
    client = null;
    local(SESSION, null);
    params.user = '';
    showLogin('');
  };

  function stateText(s) {
    if (s.reason === 'unauthorized') return 'token refused: switch user to sign in again';
    if (s.transport === 'relay') {
      return (s.via ? s.via.toUpperCase() : '…') + (s.connected ? ' · connected' : ' · connecting') + ' · via another tab';
    }
    if (s.transport === 'none') return 'not connected';
    return s.transport.toUpperCase() + (s.connected ? ' · connected' : ' · ' + s.reason) + ' · this tab holds the connection';
  }

  function connect(user, token) {
    me = user;
    $('login').hidden = true;
    $('chat').hidden = false;
    $('me').textContent = user;
    $('messages').innerHTML = '';
    shown = {};
    startPresence(user);
    var cursorAtStart = null;
    client = Mailslot.connect({
      token: token,
      transport: params.transport || 'auto',
      getToken: function (cb) { mint(user, cb); }
    });
    cursorAtStart = client.cursor();
    client.onmessage = function (msg) { typingDone(msg.from); render(msg, 'live'); markRead(); };
    client.onread = function (seq) { readUpTo(seq); };
    client.onsignal = typingFrom;
    client.onpresence = presenceEvent;
    var connects = 0;
    var wasConnected = false;
    client.onstate = function (s) {
      var el = $('state');
      // Presence events missed while disconnected are not replayed: a snapshot at every connect.
      if (s.connected && !wasConnected) { connects++; refreshPresence(); }
      wasConnected = s.connected;
      el.setAttribute('data-connects', String(connects)); // how often the connection came (back) up
      el.title = 'connected ' + connects + ' time(s)' + (s.reason ? ' · ' + s.reason : '');
      el.textContent = stateText(s);
      el.className = 'state ' + (s.connected ? (s.transport === 'relay' ? 'on relay' : 'on') : 'off');
      el.setAttribute('data-transport', s.transport === 'relay' ? 'relay' : s.transport);
      el.setAttribute('data-via', s.via || s.transport);
      el.setAttribute('data-connected', s.connected ? 'true' : 'false');
    };
    client.onstate(client.state);
    // What came before this page's cursor is history: shown, but not delivered again.
    if (cursorAtStart !== null && cursorAtStart > 0) loadHistory(token, cursorAtStart);
  }

  // ---- who is online ------------------------------------------------------------------------

  function startPresence(user) {
    roster = {};
    people = {};
    for (var u in typingTimers) if (has(typingTimers, u)) clearTimeout(typingTimers[u]);
    typingTimers = {};
    renderTyping();
    var saved = null;
    try { saved = JSON.parse(local(ROSTER + user) || 'null'); } catch (e) { saved = null; }
    if (saved instanceof Array) addUsers(saved);
    var room = params.room || local(ROOM);
    if (room && !trim($('to').value)) $('to').value = '#' + room;
    renderPeople();
  }

  // The roster is kept per user in localStorage: a tab without the admin key cannot read groups.
  function addUsers(list) {
    var added = false;
    for (var i = 0; i < list.length; i++) {
      var u = trim(String(list[i]));
      if (u && u !== me && !has(roster, u)) { roster[u] = true; added = true; }
    }
    if (added) local(ROSTER + me, JSON.stringify(Object.keys(roster)));
  }

  /**
   * A snapshot (GET /v1/presence) of the roster, with the members of the group in the "to" box
   * (read with the admin key where this tab has it) and the users typed there. An event that came
   * while the snapshot was on its way is newer than it and wins.
   */
  function refreshPresence() {
    var c = client;
    var to = trim($('to').value);
    if (!c) return;
    var ask = function () {
      var users = Object.keys(roster);
      if (!users.length || client !== c) return;
      var mark = presenceEvents;
      c.presence(users, function (err, map) {
        if (err || !map || client !== c) return;
        for (var i = 0; i < users.length; i++) {
          var u = users[i];
          var p = people[u];
          if (p && p.evt > mark) continue;
          if (map[u]) people[u] = { online: !!map[u].online, lastSeen: map[u].lastSeen, evt: 0 };
          else delete people[u]; // shares no group with me: the server does not say
        }
        renderPeople();
      });
    };
    var key = session(KEY);
    if (to.charAt(0) !== '#') {
      addUsers(to.split(/\s*,\s*/));
      ask();
    } else if (key && to.length > 1) {
      Mailslot.request({ url: '/v1/groups/' + encodeURIComponent(to.slice(1)), token: key, timeoutMs: 15000 }, function (status, body) {
        if (status === 200 && body && body.members instanceof Array) addUsers(body.members);
        ask();
      });
    } else {
      ask();
    }
  }

  function presenceEvent(d) {
    if (!d || !d.user || d.user === me) return;
    addUsers([d.user]);
    var p = people[d.user];
    people[d.user] = { online: !!d.online, lastSeen: p ? p.lastSeen : null, evt: ++presenceEvents };
    renderPeople();
  }

  function renderPeople() {
    var ul = $('online');
    var names = Object.keys(people).sort();
    var on = 0;
    ul.innerHTML = '';
    for (var i = 0; i < names.length; i++) {
      var p = people[names[i]];
      var li = document.createElement('li');
      li.className = p.online ? 'on' : 'off';
      li.setAttribute('data-user', names[i]);
      li.setAttribute('data-online', p.online ? 'true' : 'false');
      li.textContent = names[i];
      li.title = p.online ? 'online' : (p.lastSeen ? 'offline · last seen ' + new Date(p.lastSeen).toLocaleString() : 'offline');
      ul.appendChild(li);
      if (p.online) on++;
    }
    $('online-count').textContent = on + ' online';
    $('people').hidden = !names.length;
  }

  // ---- typing… ------------------------------------------------------------------------------

  function typingFrom(d) {
    if (!d || d.type !== 'typing' || !d.from || d.from === me) return;
    var from = d.from;
    if (typingTimers[from]) clearTimeout(typingTimers[from]);
    typingTimers[from] = setTimeout(function () { typingDone(from); }, 3000);
    renderTyping();
  }

  function typingDone(user) {
    if (!has(typingTimers, user)) return;
    clearTimeout(typingTimers[user]);
    delete typingTimers[user];
    renderTyping();
  }

  function renderTyping() {
    var names = Object.keys(typingTimers).sort();
    show($('typing'), names.length ? names.join(', ') + (names.length === 1 ? ' is' : ' are') + ' typing…' : '');
  }

  // A keystroke tells the recipient, at most every 2 s (a signal spends a publish rate token).
  $('text').addEventListener('input', function () {
    var to = trim($('to').value);
    var t = new Date().getTime();
    if (!client || !to || !$('text').value || has(noTyping, to) || t - typingSentAt < 2000) return;
    var target = to.charAt(0) === '#' ? to : to.split(/\s*,\s*/).filter(function (u) { return u && u !== me; });
    if (target.length < (to.charAt(0) === '#' ? 2 : 1)) return;
    typingSentAt = t;
    client.signal(target, 'typing', {}, function (err) {
      if (err && (err.status === 403 || err.status === 404)) noTyping[to] = true;
    });
  }, false);

  function loadHistory(token, upTo) {
    Mailslot.request({ url: '/v1/messages?limit=50&before=' + (upTo + 1), token: token, timeoutMs: 15000 }, function (status, body) {
      if (status !== 200 || !body || !body.messages) return;
      for (var i = 0; i < body.messages.length; i++) render(body.messages[i], 'history');
    });
  }

  function textOf(msg) {
    var p = msg.payload || {};
    return typeof p.text === 'string' ? p.text : JSON.stringify(p);
  }

  function render(msg, source) {
    var list = $('messages');
    if (source === 'history' && shown[msg.seq]) return;
    var li = document.createElement('li');
    var mine = msg.from === me;
    li.className = 'msg' + (mine ? ' mine' : ' unread') + (source === 'history' ? ' history' : '');
    li.setAttribute('data-seq', String(msg.seq));
    li.setAttribute('data-id', msg.id);
    li.setAttribute('data-source', source);
    var from = document.createElement('span');
    from.className = 'from';
    from.textContent = mine ? 'you' : msg.from;
    var text = document.createElement('span');
    text.className = 'text';
    text.textContent = textOf(msg);
    var meta = document.createElement('span');
    meta.className = 'meta';
    var to = msg.payload && msg.payload.to ? ' → ' + msg.payload.to : '';
    meta.textContent = '#' + msg.seq + ' · ' + new Date(msg.createdAt).toLocaleTimeString() + (msg.group ? ' · in #' + msg.group : to);
    li.appendChild(from);
    li.appendChild(text);
    if (mine) {
      var ticks = document.createElement('span');
      ticks.className = 'ticks';
      ticks.textContent = '✓';
      ticks.title = 'stored';
      li.appendChild(ticks);
      if (!sent[msg.id]) sent[msg.id] = { tries: 0 };
      sent[msg.id].ticks = ticks;
      watchReceipts();
    }
    li.appendChild(meta);
    // Live messages are appended as delivered (a client bug would show here as disorder or a
    // double); history goes in front of them in seq order.
    if (source === 'history') {
      var before = null;
      for (var n = list.firstChild; n; n = n.nextSibling) {
        if (parseInt(n.getAttribute('data-seq'), 10) > msg.seq) { before = n; break; }
      }
      list.insertBefore(li, before);
    } else {
      list.appendChild(li);
      list.scrollTop = list.scrollHeight;
    }
    shown[msg.seq] = li;
  }

  function readUpTo(seq) {
    for (var k in shown) {
      if (Object.prototype.hasOwnProperty.call(shown, k) && parseInt(k, 10) <= seq) shown[k].className = shown[k].className.replace(/ unread\b/, '');
    }
  }

  // The newest message shown is read once the page is visible.
  function markRead() {
    if (!client || (document.visibilityState && document.visibilityState !== 'visible')) return;
    var c = client.cursor();
    if (c !== null && c > 0) {
      readUpTo(c);
      client.markRead(c);
    }
  }
  document.addEventListener('visibilitychange', markRead, false);
  // The client closes on pagehide (the tab hands its connection over); a page restored from the
  // back-forward cache starts afresh.
  window.addEventListener('pageshow', function (e) { if (e.persisted) location.reload(); }, false);

  // Delivered/read ticks of what I sent: GET /v1/messages/:id (receipts), a few times, backing off.
  function watchReceipts() {
    if (receiptsOff || watchReceipts.timer) return;
    watchReceipts.timer = setTimeout(function () {
      watchReceipts.timer = null;
      var pending = 0;
      for (var id in sent) {
        if (!Object.prototype.hasOwnProperty.call(sent, id)) continue;
        var s = sent[id];
        if (s.done || s.tries > 8 || !s.ticks) continue;
        pending++;
        checkReceipt(id, s);
      }
      if (pending) watchReceipts();
    }, 2000);
  }

  function checkReceipt(id, s) {
    s.tries++;
    Mailslot.request({ url: '/v1/messages/' + encodeURIComponent(id), token: client && client.token, timeoutMs: 15000 }, function (status, body) {
      if (status === 404 && body && /no route/.test(body.message || '')) { receiptsOff = true; return; } // a server without receipts
      if (status !== 200 || !body || !body.receipts) return;
      var r = body.receipts;
      var list = r instanceof Array ? r : Object.keys(r).map(function (u) { var x = r[u]; x.user = x.user || u; return x; });
      var others = list.filter(function (x) { return x.user !== me; });
      if (!others.length) return;
      var all = function (f) { return others.every(function (x) { return !!x[f]; }); };
      if (all('read')) { s.ticks.textContent = '✓✓'; s.ticks.className = 'ticks read'; s.ticks.title = 'read'; s.done = true; }
      else if (all('delivered')) { s.ticks.textContent = '✓✓'; s.ticks.title = 'delivered'; }
    });
  }

  $('to').addEventListener('change', refreshPresence, false);

  $('send-form').onsubmit = function (e) {
    e.preventDefault();
    var to = $('to').value.replace(/^\s+|\s+$/g, '');
    var text = $('text').value;
    if (!client || !to || !text) return;
    var body = { type: 'chat', payload: { text: text, to: to } };
    if (to.charAt(0) === '#') body.group = to.slice(1);
    else body.to = to.split(/\s*,\s*/);
    show($('send-error'), '');
    $('text').value = '';
    typingSentAt = 0; // the next message's first keystroke shows at once
    client.publish(body, function (err) {
      if (err) {
        show($('send-error'), (err.error || 'error') + ': ' + (err.message || 'not sent'));
        $('text').value = text;
      }
    });
  };

  $('group-form').onsubmit = function (e) {
    e.preventDefault();
    var name = $('group-name').value.replace(/^\s+|\s+$/g, '');
    var members = $('group-members').value.split(/[\s,]+/).filter(function (x) { return !!x; });
    var key = session(KEY);
    if (!key) { show($('group-result'), 'the admin key is needed (switch user and enter it)'); return; }
    Mailslot.request({ method: 'PUT', url: '/v1/groups/' + encodeURIComponent(name), token: key, body: { members: members, presence: true }, timeoutMs: 15000 }, function (status, body) {
      // The group announces who of it is online; it becomes the page's room.
      if (status >= 200 && status < 300) {
        local(ROOM, name);
        addUsers(members);
        noTyping = {}; // who shares a group with whom just changed
        if (!trim($('to').value)) $('to').value = '#' + name;
        refreshPresence();
      }
      show($('group-result'), status >= 200 && status < 300
        ? 'group #' + name + ': ' + members.join(', ')
        : (body && body.error ? body.error + ': ' + body.message : 'error ' + status));
    });
  };

  start();
})();
