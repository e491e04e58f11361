// The console dashboard's live part: draws the plots (uPlot) from the snapshot the server
// embedded in the page, then polls /api/v1/admin/dashboard and updates plots, figures and
// tables in place, without reloading the page. Values go into the DOM as text, never as HTML.
(() => {
  'use strict';
  const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
  const charts = {};
  let snap = JSON.parse(document.getElementById('dashboard-data').textContent);
  let updates = 0;

  const sumOf = (arr) => arr.reduce((a, v) => a + (v ?? 0), 0);
  const fmtMs = (v) => (v === null || v === undefined ? '—' : `${v} ms`);
  const fmtStx = (micro) => {
    if (micro === null || micro === undefined) return '—';
    const v = BigInt(micro);
    const frac = (v % 1000000n).toString().padStart(6, '0').replace(/0+$/, '');
    return `${v / 1000000n}${frac ? `.${frac}` : ''} STX`;
  };
  const bps = (v) => `${v / 100}%`;

  /** label -> values, for each plot, from a snapshot. */
  function plotSeries(s) {
    const usage = {};
    const models = [...new Set([...Object.keys(s.usage.direct_by_model), ...Object.keys(s.usage.chain_by_model)])].sort();
    for (const m of models) {
      if (s.usage.direct_by_model[m]) usage[`${m} (direct)`] = s.usage.direct_by_model[m];
      if (s.usage.chain_by_model[m]) usage[`${m} (chain)`] = s.usage.chain_by_model[m];
    }
    const t = s.latency.tasks;
    const d = s.latency.direct;
    return {
      'plot-usage-model': { series: usage, unit: 'calls' },
      'plot-usage-token': { series: s.usage.direct_by_token, unit: 'calls' },
      'plot-throughput': { series: s.throughput, unit: 'results' },
      'plot-latency': { series: { 'tasks p50': t.p50, 'tasks p95': t.p95, 'direct p50': d.p50, 'direct p95': d.p95 }, unit: 'ms', latency: true },
      'plot-earnings': { series: s.earnings.over_time, unit: 'µSTX' },
    };
  }

  function options(frame, labels, spec) {
    return {
      width: Math.max(280, frame.clientWidth),
      height: 220,
      scales: { x: { time: true } },
      axes: [{}, { label: spec.unit, size: 60 }],
      series: [{}, ...labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: !!spec.latency, points: { show: true, size: 4 } }))],
    };
  }

  function drawPlots(s) {
    const xs = s.buckets.map((b) => b / 1000);
    for (const [id, spec] of Object.entries(plotSeries(s))) {
      const frame = document.getElementById(id);
      const labels = Object.keys(spec.series);
      const data = [xs, ...labels.map((l) => spec.series[l])];
      const key = labels.join('|');
      const chart = charts[id];
      if (chart && chart.key === key) chart.plot.setData(data);
      else {
        if (chart) chart.plot.destroy();
        charts[id] = { key, plot: new uPlot(options(frame, labels, spec), data, frame) };
      }
      // What a reader (or a test) can check without reading pixels.
      frame.dataset.series = key;
      frame.dataset.total = spec.latency ? '' : String(labels.reduce((a, l) => a + sumOf(spec.series[l]), 0));
      frame.dataset.empty = String(labels.length === 0);
    }
  }

  function valueAt(s, path) {
    return path.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), s);
  }

  function updateFigures(s) {
    for (const el of document.querySelectorAll('[data-field]')) {
      const v = valueAt(s, el.dataset.field);
      el.textContent = el.dataset.field.startsWith('latency.') ? fmtMs(v) : String(v ?? '—');
    }
    const peak = Math.max(1, ...Object.values(s.tasks.total));
    for (const m of document.querySelectorAll('#plot-tasks meter')) {
      m.max = peak;
      m.value = s.tasks.total[m.dataset.status] ?? 0;
    }
    for (const el of document.querySelectorAll('[data-time-field]')) el.textContent = new Date(valueAt(s, el.dataset.timeField)).toISOString();
  }

  /** A table cell: text, or a link when given {href, text}, or several links when given an array. */
  function cell(content, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    const items = Array.isArray(content) ? content : [content];
    for (const c of items) {
      if (c !== null && typeof c === 'object') {
        const a = document.createElement('a');
        a.href = c.href;
        a.textContent = c.text;
        if (c.cls) a.className = c.cls;
        td.append(a);
      } else td.append(String(c));
    }
    return td;
  }

  function fillTable(id, rows) {
    const body = document.querySelector(`#${id} tbody`);
    body.replaceChildren(
      ...rows.map((cells) => {
        const tr = document.createElement('tr');
        tr.append(...cells);
        return tr;
      }),
    );
  }

  function updateTables(s) {
    const ownerShare = s.shares ? bps(s.shares.owner_bps) : '—';
    fillTable(
      'models-table',
      s.models.map((m) => [cell(m.name), cell(m.version ?? 'not live'), cell(fmtStx(m.price)), cell(m.owner ?? '—', 'mono'), cell(ownerShare), cell(m.tasks), cell(m.calls_in_window)]),
    );
    fillTable(
      'earnings-table',
      s.earnings.by_node.map((e) => [cell(e.node_id), cell(e.settled_tasks), cell(fmtStx(e.payout))]),
    );
    fillTable(
      'settlements-table',
      s.settlements.map((t) => [
        cell({ href: t.tx_url, text: `${t.txid.slice(0, 12)}…` }, 'mono'),
        cell(t.kind),
        cell(t.status),
        cell(t.items),
        cell(t.block_height ?? '—'),
        cell(t.task_urls.map((u) => ({ href: u.url, text: u.task_id, cls: 'task-link' }))),
      ]),
    );
    if (!s.accounts) return;
    fillTable(
      'accounts-table',
      s.accounts.accounts.map((a) => [
        cell(a.account, 'mono'),
        cell(fmtStx(a.balance)),
        cell(fmtStx(a.unsettled)),
        cell(fmtStx(a.reserved)),
        cell(a.withdraw_at ?? '—'),
        cell(a.last_settlement ? { href: `/api/v1/periods/${a.last_settlement.period}`, text: `period ${a.last_settlement.period} at ${new Date(a.last_settlement.at ?? 0).toISOString()}` } : '—'),
      ]),
    );
    fillTable(
      'periods-table',
      s.accounts.periods.map((p) => [
        cell({ href: `/api/v1/periods/${p.id}`, text: String(p.id) }),
        cell(p.status),
        cell(p.chain_period ?? '—'),
        cell(p.tasks),
        cell(fmtStx(p.charged)),
        cell(`${p.root.slice(0, 12)}…`, 'mono'),
        cell(p.txid ? `${p.txid.slice(0, 12)}…` : '—', 'mono'),
      ]),
    );
  }

  function showError(message) {
    let el = document.getElementById('refresh-error');
    if (!el) {
      el = document.createElement('p');
      el.id = 'refresh-error';
      el.className = 'flash error';
      el.setAttribute('role', 'alert');
      document.getElementById('figures').before(el);
    }
    el.hidden = !message;
    el.textContent = message || '';
  }

  async function refresh() {
    if (document.hidden) return;
    const res = await fetch('/api/v1/admin/dashboard', { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (res.status === 401) {
      location.assign('/console/login');
      return;
    }
    const body = await res.json();
    if (!body.success) throw new Error(body.error);
    snap = body.data;
    drawPlots(snap);
    updateFigures(snap);
    updateTables(snap);
    showError('');
    document.body.dataset.updates = String(++updates);
  }

  function loop() {
    refresh()
      .catch((err) => showError(`Could not refresh the dashboard: ${err.message}. Retrying.`))
      .finally(() => setTimeout(loop, snap.refresh_ms));
  }

  drawPlots(snap);
  window.addEventListener('resize', () => {
    for (const [id, c] of Object.entries(charts)) c.plot.setSize({ width: Math.max(280, document.getElementById(id).clientWidth), height: 220 });
  });
  setTimeout(loop, snap.refresh_ms);
})();
