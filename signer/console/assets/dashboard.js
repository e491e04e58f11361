// The console dashboard's live part: draws the plots (uPlot) from the snapshot the server
// embedded in the page, then polls /api/v1/admin/dashboard and updates plots, figures and
// tables in place, without reloading the page. Values go into the DOM as text, never as HTML.
(() => {
  // biome-ignore lint/suspicious/noRedundantUseStrict: a classic script (served to the browser), not a module
  'use strict';
  // One colour means one thing on the whole page: chain (escrowed) is blue and direct is orange
  // wherever a source is plotted, all tasks grey, and each model, token or node keeps the colour it
  // was first given, never one of those three nor another's.
  const SOURCE_COLORS = { chain: '#2563eb', direct: '#ea580c', tasks: '#4b5563' };
  const PALETTE = [
    '#16a34a',
    '#9333ea',
    '#dc2626',
    '#0891b2',
    '#ca8a04',
    '#db2777',
    '#65a30d',
    '#4338ca',
    '#0d9488',
    '#a16207',
    '#be123c',
    '#7c3aed',
  ];
  const given = new Map();
  function colorOf(kind, name) {
    const key = `${kind}:${name}`;
    if (!given.has(key)) given.set(key, PALETTE[given.size % PALETTE.length]);
    return given.get(key);
  }
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

  /**
   * Each plot's series, from a snapshot: label -> {values, color, dash}. Counts are per bucket
   * (zero when nothing happened) and drawn as steps; latencies are null where nothing finished
   * and drawn with gaps there, each value a point so that a lone one shows.
   */
  function plotSeries(s) {
    const usage = {};
    const models = [
      ...new Set([...Object.keys(s.usage.direct_by_model), ...Object.keys(s.usage.chain_by_model)]),
    ].sort();
    for (const m of models) {
      const color = colorOf('model', m);
      if (s.usage.chain_by_model[m]) usage[`${m} (chain)`] = { values: s.usage.chain_by_model[m], color };
      if (s.usage.direct_by_model[m])
        usage[`${m} (direct)`] = { values: s.usage.direct_by_model[m], color, dash: [6, 4] };
    }
    const keyed = (series, kind) =>
      Object.fromEntries(
        Object.keys(series)
          .sort()
          .map((k) => [k, { values: series[k], color: SOURCE_COLORS[k] ?? colorOf(kind, k) }]),
      );
    const t = s.latency.tasks;
    const d = s.latency.direct;
    const dotted = [2, 4];
    return {
      'plot-usage-model': { series: usage, unit: 'calls' },
      'plot-usage-token': { series: keyed(s.usage.direct_by_token, 'token'), unit: 'calls' },
      'plot-throughput': { series: keyed(s.throughput, 'source'), unit: 'results' },
      'plot-latency': {
        series: {
          'tasks p50': { values: t.p50, color: SOURCE_COLORS.tasks },
          'tasks p95': { values: t.p95, color: SOURCE_COLORS.tasks, dash: dotted },
          'direct p50': { values: d.p50, color: SOURCE_COLORS.direct },
          'direct p95': { values: d.p95, color: SOURCE_COLORS.direct, dash: dotted },
        },
        unit: 'ms',
        latency: true,
      },
      'plot-earnings': { series: keyed(s.earnings.over_time, 'node'), unit: 'µSTX' },
    };
  }

  /** Axis numbers short enough to leave room for the unit: 1,500 -> 1.5k, 2,000,000 -> 2M. */
  function compact(v) {
    if (v === null || v === undefined) return '';
    const a = Math.abs(v);
    if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
    if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
    if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
    return String(+v.toFixed(2));
  }

  /** Width of the y axis: its widest tick label plus the ticks, so the unit label never overlaps them. */
  function axisSize(u, values, axisIdx, cycleNum) {
    const axis = u.axes[axisIdx];
    if (cycleNum > 1) return axis._size;
    const widest = (values ?? []).reduce((w, v) => (String(v).length > w.length ? String(v) : w), '');
    u.ctx.font = axis.font[0];
    return Math.ceil(axis.ticks.size + axis.gap + u.ctx.measureText(widest).width / devicePixelRatio) + 4;
  }

  /**
   * What a legend shows away from the cursor: the window's total for counts, the latest value
   * for latencies (uPlot's own legend shows "--" until one hovers a plot).
   */
  function summary(values, latency) {
    if (latency) {
      for (let i = values.length - 1; i >= 0; i--)
        if (values[i] !== null && values[i] !== undefined) return `last ${values[i]} ms`;
      return 'none';
    }
    return `total ${sumOf(values).toLocaleString('en')}`;
  }

  const steps = uPlot.paths.stepped({ align: 1 });

  function options(frame, labels, spec) {
    const nonEmpty = (u, i) =>
      u.data[i].flatMap((v, j) => (v !== null && v !== undefined && (spec.latency || v !== 0) ? [j] : []));
    return {
      width: frame.clientWidth,
      height: 220,
      scales: { x: { time: true } },
      axes: [{}, { label: spec.unit, labelSize: 20, size: axisSize, values: (_u, splits) => splits.map(compact) }],
      series: [
        {
          value: (u, v, _si, i) =>
            i === null
              ? `last ${(u.data[0].length * (u.data[0][1] - u.data[0][0])) / 60} min`
              : new Date(v * 1000).toLocaleTimeString(),
        },
        ...labels.map((label) => {
          const { color, dash } = spec.series[label];
          return {
            label,
            stroke: color,
            dash,
            width: 2,
            spanGaps: false,
            paths: spec.latency ? undefined : steps,
            // Points where something happened: a single busy bucket, or a lone latency, still shows.
            points: { show: false, filter: nonEmpty, size: 7, fill: color, stroke: color },
            value: (u, v, si, i) =>
              i === null
                ? summary(u.data[si], spec.latency)
                : v === null || v === undefined
                  ? '—'
                  : spec.latency
                    ? `${v} ms`
                    : v.toLocaleString('en'),
          };
        }),
      ],
    };
  }

  function drawPlots(s) {
    const xs = s.buckets.map((b) => b / 1000);
    for (const [id, spec] of Object.entries(plotSeries(s))) {
      const frame = document.getElementById(id);
      const labels = Object.keys(spec.series);
      const data = [xs, ...labels.map((l) => spec.series[l].values)];
      const key = labels.join('|');
      const chart = charts[id];
      if (chart && chart.key === key) {
        chart.plot.setData(data);
        // Legends away from the cursor show the new totals.
        chart.plot.setLegend({ idx: chart.plot.cursor.idx ?? null });
      } else {
        if (chart) chart.plot.destroy();
        charts[id] = { key, plot: new uPlot(options(frame, labels, spec), data, frame) };
      }
      // What a reader (or a test) can check without reading pixels.
      frame.dataset.series = key;
      frame.dataset.total = spec.latency ? '' : String(labels.reduce((a, l) => a + sumOf(spec.series[l].values), 0));
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
    for (const el of document.querySelectorAll('[data-time-field]'))
      el.textContent = new Date(valueAt(s, el.dataset.timeField)).toISOString();
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
      s.models.map((m) => [
        cell(m.name),
        cell(m.version ?? 'not live'),
        cell(fmtStx(m.price)),
        cell(m.owner ?? '—', 'mono'),
        cell(ownerShare),
        cell(m.tasks),
        cell(m.calls_in_window),
      ]),
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
        cell(
          a.last_settlement
            ? {
                href: `/api/v1/periods/${a.last_settlement.period}`,
                text: `period ${a.last_settlement.period} at ${new Date(a.last_settlement.at ?? 0).toISOString()}`,
              }
            : '—',
        ),
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
    const res = await fetch('/api/v1/admin/dashboard', {
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
    });
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
    for (const [id, c] of Object.entries(charts))
      c.plot.setSize({ width: document.getElementById(id).clientWidth, height: 220 });
  });
  setTimeout(loop, snap.refresh_ms);
})();
