/*! Custodian consent banner. Dependency-free; served at /v1/public/banner.js.
 * Include: <script src="https://custodian.example/v1/public/banner.js" data-lang="en" async></script>
 * Optional attributes: data-lang, data-jurisdiction (e.g. "EU", "US-CA"), and label overrides
 * data-label-accept, -refuse, -customize, -save, -error, -gpc, -title, -notice.
 * API: CustodianConsent.open() reopens the settings; CustodianConsent.get() returns
 * {purpose: state}; a "custodian:consent" event on document carries
 * {choices, visitor_id, reason: "load" | "save"} once the choices are known and after each save.
 * Only the visitor id is kept locally (localStorage "custodian.visitor"); the server is the
 * source of truth. Server text is only ever inserted with textContent. */
(() => {
  'use strict';
  const me = document.currentScript;
  if (!me || !me.src || window.CustodianConsent) return;
  // Resolved against the script's own address, so a path prefix (a reverse proxy) works too.
  const API = new URL('consent', me.src).href;
  const KEY = 'custodian.visitor';
  const VISITOR = /^vis_[0-9a-f]{32}$/;
  const MAX = 64;
  const attr = (n) => me.getAttribute('data-' + n);
  const lang = attr('lang') || navigator.language || 'en';
  const jurisdiction = attr('jurisdiction');
  const gpc = navigator.globalPrivacyControl === true;
  const LABELS = {
    accept: 'Accept all',
    refuse: 'Refuse all',
    customize: 'Customize',
    save: 'Save choices',
    error: 'Your choices could not be saved. Please try again.',
    gpc: 'Turned off by the Global Privacy Control signal of your browser.',
    title: 'Your privacy choices',
    notice: 'Read the full notice',
  };
  const label = (k) => attr('label-' + k) || LABELS[k];

  let cfg = null; // the last answer of GET /v1/public/consent
  let root = null; // the banner element, while shown
  let busy = false;
  let before = null; // what had the focus before the banner opened

  const readVisitor = () => {
    try {
      const v = localStorage.getItem(KEY);
      return v && VISITOR.test(v) ? v : null;
    } catch (e) {
      return null;
    }
  };
  let visitor = readVisitor();
  const keepVisitor = (v) => {
    if (!v || !VISITOR.test(v)) return;
    visitor = v;
    try {
      localStorage.setItem(KEY, v);
    } catch (e) {
      /* storage blocked: the id lives for this page only */
    }
  };

  const call = async (method, url, body) => {
    const init = { method, mode: 'cors', credentials: 'omit', cache: 'no-store' };
    if (body) {
      init.headers = { 'content-type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    const r = await fetch(url, init);
    let json = null;
    try {
      json = await r.json();
    } catch (e) {
      /* not JSON */
    }
    if (!r.ok || !json) {
      const code = json && json.error && json.error.code;
      throw new Error('custodian: ' + r.status + (code ? ' ' + code : ''));
    }
    return json;
  };

  const fetchConfig = async () => {
    const u = new URL(API);
    if (visitor) u.searchParams.set('visitor_id', visitor);
    u.searchParams.set('lang', lang);
    const c = await call('GET', u.href);
    keepVisitor(c.visitor_id);
    cfg = c;
    return c;
  };

  const post = async (body) => {
    if (visitor) body.visitor_id = visitor;
    if (gpc) body.gpc = true;
    if (jurisdiction) body.jurisdiction = jurisdiction;
    const r = await call('POST', API, body);
    keepVisitor(r.subject_id);
    return r;
  };

  const noticeMap = () => {
    const m = {};
    for (const n of cfg.notices || []) m[n.key] = n;
    return m;
  };
  // A purpose the GPC signal decides: it is refused, whatever the banner says.
  const gpcOn = (p) => gpc && p.honours_gpc;
  const settledByGpc = (p) => gpcOn(p) && (p.state === 'refused' || p.state === 'withdrawn');
  const stale = (p, notices) => {
    const n = p.notice && notices[p.notice];
    return !!n && (p.notice_version || 0) < n.version;
  };
  const mustAsk = () => {
    const notices = noticeMap();
    return cfg.purposes.some(
      (p) => !settledByGpc(p) && (!p.state || p.state === 'expired' || stale(p, notices)),
    );
  };

  const choicesMap = () => {
    const m = {};
    if (cfg) for (const p of cfg.purposes) m[p.key] = p.state || null;
    return m;
  };
  const emit = (reason) => {
    document.dispatchEvent(
      new CustomEvent('custodian:consent', {
        detail: { choices: choicesMap(), visitor_id: visitor, reason },
      }),
    );
  };

  // Records {purpose: state}: one POST per notice (purposes naming the same current notice
  // together, at most 64 a request), then one for purposes without a notice.
  const save = async (states) => {
    const notices = noticeMap();
    const groups = new Map();
    for (const p of cfg.purposes) {
      if (!states[p.key]) continue;
      const k = p.notice && notices[p.notice] ? p.notice : '';
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(p);
    }
    for (const [k, list] of groups) {
      const n = k ? notices[k] : null;
      for (let i = 0; i < list.length; i += MAX) {
        const part = list.slice(i, i + MAX);
        const body = { choices: part.map((p) => ({ purpose: p.key, state: states[p.key] })) };
        if (n) {
          body.notice = { key: n.key, version: n.version };
          body.language = n.language;
        }
        const r = await post(body);
        for (const rec of r.recorded || []) {
          const p = part.find((q) => q.key === rec.purpose);
          if (p) {
            p.state = rec.state;
            p.notice_version = n ? n.version : null;
          }
        }
      }
    }
  };

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };

  const CSS =
    '.cstdn{position:fixed;left:0;right:0;bottom:0;z-index:2147483647;box-sizing:border-box;' +
    'max-height:85vh;overflow:auto;margin:0;padding:16px;background:#fff;color:#1a1a1a;' +
    'border-top:1px solid #6b6b6b;box-shadow:0 -2px 10px rgba(0,0,0,.25);text-align:left;' +
    'font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}' +
    '.cstdn *{box-sizing:border-box}' +
    '.cstdn [hidden]{display:none!important}' +
    '.cstdn .cstdn-in{max-width:960px;margin:0 auto}' +
    '.cstdn .cstdn-t{margin:0 0 6px;font-size:17px;font-weight:700;color:inherit}' +
    '.cstdn .cstdn-x{margin:0 0 8px;white-space:pre-line}' +
    '.cstdn .cstdn-a{color:#0b4fbd;text-decoration:underline}' +
    '.cstdn .cstdn-r{display:grid;grid-template-columns:repeat(3,1fr);gap:8px;margin-top:12px}' +
    '.cstdn .cstdn-b{display:block;width:100%;margin:0;padding:10px 14px;min-height:44px;' +
    'border:2px solid #1a1a1a;border-radius:6px;background:#1a1a1a;color:#fff;font:inherit;' +
    'font-weight:600;line-height:1.2;text-align:center;cursor:pointer}' +
    '.cstdn .cstdn-b:hover{background:#3a3a3a}' +
    '.cstdn :focus{outline:3px solid #0b4fbd;outline-offset:2px}' +
    '.cstdn :focus:not(:focus-visible){outline:none}' +
    '.cstdn .cstdn-p{margin-top:12px}' +
    '.cstdn .cstdn-i{display:flex;gap:10px;align-items:flex-start;padding:8px 0;' +
    'border-top:1px solid #d0d0d0}' +
    '.cstdn .cstdn-i input{width:20px;height:20px;margin:2px 0 0;flex:none}' +
    '.cstdn .cstdn-l{font-weight:600}' +
    '.cstdn .cstdn-d{display:block;color:#444;font-size:14px}' +
    '.cstdn .cstdn-p .cstdn-b{margin-top:8px}' +
    '.cstdn .cstdn-e{margin:8px 0 0;color:#b00020;font-weight:600}' +
    '.cstdn .cstdn-e:empty{margin:0}' +
    '@media (max-width:30em){.cstdn .cstdn-r{grid-template-columns:1fr}}' +
    '@media (prefers-reduced-motion:reduce){.cstdn,.cstdn *{transition:none!important;' +
    'animation:none!important}}';

  const injectStyle = () => {
    if (document.getElementById('cstdn-style')) return;
    const s = el('style', null, CSS);
    s.id = 'cstdn-style';
    (document.head || document.documentElement).appendChild(s);
  };

  const hide = () => {
    if (root) root.remove();
    root = null;
    if (before && before.isConnected && typeof before.focus === 'function') before.focus();
    before = null;
  };

  const show = (expand) => {
    if (!cfg || !cfg.purposes.length) return;
    if (root) root.remove();
    else before = document.activeElement;
    injectStyle();
    const notices = cfg.notices || [];
    const first = notices[0];

    root = el('div', 'cstdn');
    root.setAttribute('role', 'dialog');
    root.setAttribute('aria-modal', 'false');
    root.setAttribute('aria-labelledby', 'cstdn-title');
    root.setAttribute('aria-describedby', 'cstdn-desc');
    const inner = el('div', 'cstdn-in');
    root.appendChild(inner);

    const title = el('h2', 'cstdn-t', first ? first.title : label('title'));
    title.id = 'cstdn-title';
    inner.appendChild(title);
    const desc = el('div');
    desc.id = 'cstdn-desc';
    notices.forEach((n, i) => {
      if (i > 0) desc.appendChild(el('p', 'cstdn-x cstdn-l', n.title));
      desc.appendChild(el('p', 'cstdn-x', n.body));
    });
    inner.appendChild(desc);
    notices.forEach((n) => {
      // Only web addresses: a javascript: URL from the server must never become a link.
      if (!n.url || !/^https?:\/\//i.test(n.url)) return;
      const a = el('a', 'cstdn-a', notices.length > 1 ? n.title : label('notice'));
      a.href = n.url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      const p = el('p', 'cstdn-x');
      p.appendChild(a);
      inner.appendChild(p);
    });

    const row = el('div', 'cstdn-r');
    const btn = (name, text) => {
      const b = el('button', 'cstdn-b', text);
      b.type = 'button';
      b.setAttribute('data-cstdn', name);
      return b;
    };
    const accept = btn('accept', label('accept'));
    const refuse = btn('refuse', label('refuse'));
    const custom = btn('customize', label('customize'));
    row.append(accept, refuse, custom);
    inner.appendChild(row);

    const panel = el('div', 'cstdn-p');
    panel.id = 'cstdn-panel';
    panel.hidden = !expand;
    custom.setAttribute('aria-controls', panel.id);
    custom.setAttribute('aria-expanded', String(!!expand));
    const boxes = [];
    for (const p of cfg.purposes) {
      const id = 'cstdn-p-' + p.key;
      const item = el('div', 'cstdn-i');
      const box = el('input');
      box.type = 'checkbox';
      box.id = id;
      box.value = p.key;
      const locked = gpcOn(p);
      const off = p.state === 'refused' || p.state === 'withdrawn';
      box.checked = locked ? false : p.consent === 'opt_out' ? !off : p.state === 'given';
      box.disabled = locked;
      const text = el('div');
      const lab = el('label', 'cstdn-l', p.name || p.key);
      lab.htmlFor = id;
      text.appendChild(lab);
      const described = [];
      if (p.description) {
        const d = el('span', 'cstdn-d', p.description);
        d.id = id + '-d';
        described.push(d.id);
        text.appendChild(d);
      }
      if (locked) {
        const g = el('span', 'cstdn-d', label('gpc'));
        g.id = id + '-g';
        described.push(g.id);
        text.appendChild(g);
      }
      if (described.length) box.setAttribute('aria-describedby', described.join(' '));
      item.append(box, text);
      panel.appendChild(item);
      boxes.push([p, box]);
    }
    const saveBtn = btn('save', label('save'));
    panel.appendChild(saveBtn);
    inner.appendChild(panel);

    const err = el('p', 'cstdn-e');
    err.setAttribute('aria-live', 'polite');
    err.setAttribute('role', 'status');
    inner.appendChild(err);

    // refused, or withdrawn when the visitor had given consent before.
    const no = (p) => (p.state === 'given' ? 'withdrawn' : 'refused');
    const decide = async (pick) => {
      if (busy) return;
      busy = true;
      err.textContent = '';
      try {
        const states = {};
        for (const p of cfg.purposes) states[p.key] = gpcOn(p) ? no(p) : pick(p);
        await save(states);
        hide();
        emit('save');
      } catch (e) {
        err.textContent = label('error');
      } finally {
        busy = false;
      }
    };
    accept.addEventListener('click', () => decide(() => 'given'));
    refuse.addEventListener('click', () => decide(no));
    custom.addEventListener('click', () => {
      panel.hidden = !panel.hidden;
      custom.setAttribute('aria-expanded', String(!panel.hidden));
    });
    saveBtn.addEventListener('click', () => {
      const checked = {};
      for (const [p, box] of boxes) checked[p.key] = box.checked;
      decide((p) => (checked[p.key] ? 'given' : no(p)));
    });
    // Escape is not a choice: it only folds the settings away; the banner stays.
    root.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' || panel.hidden) return;
      panel.hidden = true;
      custom.setAttribute('aria-expanded', 'false');
      custom.focus();
    });

    document.body.appendChild(root);
    (expand ? custom : accept).focus({ preventScroll: true });
  };

  const domReady = () =>
    new Promise((r) => {
      if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', () => r(), { once: true });
      } else r();
    });

  const start = async () => {
    await fetchConfig();
    // The page saw GPC: record the opt-outs it means before anything is shown.
    if (gpc && cfg.purposes.some((p) => p.honours_gpc && !settledByGpc(p))) {
      try {
        await post({ choices: [] });
        await fetchConfig();
      } catch (e) {
        /* shown below as still undecided */
      }
    }
    await domReady();
    if (mustAsk()) show(false);
    else emit('load');
  };
  const ready = start().catch(() => {
    /* Custodian unreachable: no banner, nothing recorded */
  });

  window.CustodianConsent = Object.freeze({
    /** Shows the banner with the settings open. */
    open: () =>
      ready.then(async () => {
        if (!cfg) await fetchConfig().catch(() => null);
        await domReady();
        show(true);
      }),
    /** The visitor's current choices, purpose key to state (null when none). */
    get: choicesMap,
  });
})();
