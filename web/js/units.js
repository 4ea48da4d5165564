// The units browser: a Leaflet map of the shipped boundaries (no tile server), a search
// box, a tree list and a detail panel for the administrative units of Hanoi.
import { api, qs, ApiError } from './api.js';
import { h, clear, debounce } from './dom.js';
import { t, has, setText, onLangChange } from '../i18n.js';

const PAGE = 50;
const SEARCH_LIMIT = 20;
const HANOI_CENTER = [21.0285, 105.8542];

const STYLE = {
  base: { color: '#1e5a8a', weight: 1, opacity: 0.9, fillColor: '#8fb8d8', fillOpacity: 0.35 },
  hover: { weight: 2.5, fillOpacity: 0.5 },
  selected: { color: '#9f1d1d', weight: 3, opacity: 1, fillColor: '#e05a47', fillOpacity: 0.55 },
};

function typeNode(type) {
  const key = `type.${type}`;
  return has(key) ? h('span', { i18n: key }) : h('span', {}, type);
}

function levelNode(level) {
  const key = `level.${level}`;
  return has(key) ? h('span', { i18n: key }) : h('span', {}, level);
}

function eraLabelKey(era) {
  return has(`era.${era.name}`) ? [`era.${era.name}`, undefined] : ['era.other', { name: `${era.name} — ${era.description}` }];
}

/** Mounts the units browser into root. Returns { unmount }. */
export function mountUnits(root) {
  const L = window.L;
  const state = {
    era: null,
    eras: [],
    layers: new Map(), // code -> Leaflet layer, for the era on the map
    geo: null, // the L.geoJSON layer on the map
    boundaryCache: new Map(), // era -> GeoJSON object
    selected: null, // code
    highlighted: null, // code of the highlighted polygon
    detailCtl: null,
    searchCtl: null,
    results: [],
    active: -1,
    browse: { crumbs: [], items: [], total: 0, parent: null },
    pointMarker: null,
    alive: true,
  };

  // --- markup -------------------------------------------------------------------------
  const eraSelect = h('select', { id: 'era-select', 'data-testid': 'era-select' });
  const searchInput = h('input', {
    id: 'unit-search',
    'data-testid': 'unit-search',
    type: 'search',
    role: 'combobox',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': 'search-results',
    'aria-describedby': 'search-hint',
    i18nPlaceholder: 'search.placeholder',
  });
  const searchStatus = h('p', { id: 'search-status', class: 'search-status', role: 'status' });
  const resultsList = h('ul', {
    id: 'search-results',
    class: 'search-results',
    role: 'listbox',
    'data-testid': 'search-results',
    i18nAriaLabel: 'search.results',
    hidden: true,
  });
  const mapEl = h('div', { id: 'map', class: 'map', 'data-testid': 'map', role: 'region', i18nAriaLabel: 'map.label' });
  const mapStatus = h('p', { id: 'map-status', class: 'map-status', role: 'status', 'aria-live': 'polite' });
  const myLocation = h('button', { id: 'my-location', type: 'button', class: 'btn btn-small', i18n: 'map.myLocation' });
  const detail = h('section', {
    id: 'unit-detail',
    class: 'panel unit-detail',
    'data-testid': 'unit-detail',
    'aria-labelledby': 'unit-detail-heading',
    tabindex: '-1',
  });
  const crumbs = h('ol', { id: 'unit-list-crumbs', class: 'crumbs' });
  const list = h('ul', { id: 'unit-list', class: 'unit-list', 'data-testid': 'unit-list' });
  const more = h('button', { id: 'unit-list-more', type: 'button', class: 'btn btn-small', hidden: true });

  const view = h(
    'section',
    { id: 'units-view', class: 'units', 'aria-labelledby': 'units-title' },
    h('h1', { id: 'units-title', class: 'visually-hidden', i18n: 'units.title' }),
    h(
      'div',
      { class: 'units-controls' },
      h(
        'div',
        { class: 'field field-era' },
        h('label', { for: 'era-select', i18n: 'units.era' }),
        eraSelect,
      ),
      h(
        'div',
        { class: 'field field-search combobox' },
        h('label', { for: 'unit-search', i18n: 'search.label' }),
        searchInput,
        resultsList,
        h('p', { id: 'search-hint', class: 'hint', i18n: 'search.hint' }),
        searchStatus,
      ),
    ),
    h(
      'div',
      { class: 'units-map' },
      h('h2', { class: 'visually-hidden', i18n: 'map.title' }),
      mapEl,
      h('div', { class: 'map-bar' }, mapStatus, myLocation),
    ),
    h(
      'div',
      { class: 'units-info' },
      detail,
      h(
        'section',
        { id: 'unit-browser', class: 'panel', 'aria-labelledby': 'unit-browser-heading' },
        h('h2', { id: 'unit-browser-heading', i18n: 'list.title' }),
        h('nav', { i18nAriaLabel: 'list.breadcrumb' }, crumbs),
        list,
        more,
      ),
    ),
  );
  root.append(view);

  // --- map ----------------------------------------------------------------------------
  const map = L.map(mapEl, {
    center: HANOI_CENTER,
    zoom: 10,
    minZoom: 8,
    maxZoom: 17,
    zoomSnap: 0.25,
    attributionControl: true,
  });
  map.attributionControl.setPrefix('Leaflet');
  const attribution = h('span', { i18n: 'map.attribution' });
  map.attributionControl.addAttribution(attribution.outerHTML);
  const resizer = new ResizeObserver(() => map.invalidateSize());
  resizer.observe(mapEl);
  // data-moving while the map pans or zooms (tests and tools wait for it to settle).
  map.on('movestart zoomstart', () => { mapEl.dataset.moving = 'true'; });
  map.on('moveend zoomend', () => { delete mapEl.dataset.moving; });

  function status(key, params) {
    setText(mapStatus, key, params);
  }

  function tagPaths() {
    for (const [code, layer] of state.layers) {
      const el = layer.getElement && layer.getElement();
      if (!el) continue;
      el.setAttribute('data-code', code);
      el.setAttribute('data-selected', code === state.highlighted ? 'true' : 'false');
      el.classList.add('unit-shape');
    }
  }

  function highlight(code, fit) {
    if (state.highlighted && state.layers.has(state.highlighted)) {
      const old = state.layers.get(state.highlighted);
      old.setStyle(STYLE.base);
      const el = old.getElement();
      if (el) el.setAttribute('data-selected', 'false');
    }
    state.highlighted = null;
    const layer = code ? state.layers.get(code) : null;
    if (!layer) return false;
    state.highlighted = code;
    layer.setStyle(STYLE.selected);
    layer.bringToFront();
    const el = layer.getElement();
    if (el) el.setAttribute('data-selected', 'true');
    if (fit) map.fitBounds(layer.getBounds(), { padding: [32, 32], maxZoom: 14 });
    return true;
  }

  async function loadBoundaries(era) {
    if (state.geo) {
      state.geo.remove();
      state.geo = null;
    }
    state.layers.clear();
    state.highlighted = null;
    const info = state.eras.find((e) => e.name === era);
    if (info && info.has_boundaries === false) {
      status('map.noBoundary');
      return;
    }
    status('map.loading');
    mapEl.setAttribute('aria-busy', 'true');
    let data = state.boundaryCache.get(era);
    try {
      if (!data) {
        data = await api(`/api/v1/units/boundaries${qs({ era })}`);
        state.boundaryCache.set(era, data);
      }
    } catch (e) {
      if (!state.alive || state.era !== era) return;
      mapEl.removeAttribute('aria-busy');
      if (e instanceof ApiError && e.status === 404) status('map.noBoundary');
      else status(e.code === 'network' ? 'error.network' : 'error.generic', { code: e.code });
      return;
    }
    if (!state.alive || state.era !== era) return;
    state.geo = L.geoJSON(data, {
      style: () => ({ ...STYLE.base }),
      onEachFeature: (feature, layer) => {
        const p = feature.properties || {};
        if (!p.code) return;
        state.layers.set(p.code, layer);
        layer.bindTooltip(p.name || p.code, { sticky: true, direction: 'top', className: 'unit-tooltip' });
        layer.on('click', (ev) => {
          L.DomEvent.stopPropagation(ev);
          select(p.code, { fit: false });
        });
        layer.on('mouseover', () => {
          if (state.highlighted !== p.code) layer.setStyle(STYLE.hover);
        });
        layer.on('mouseout', () => {
          if (state.highlighted !== p.code) layer.setStyle(STYLE.base);
        });
      },
    }).addTo(map);
    tagPaths();
    mapEl.removeAttribute('aria-busy');
    mapEl.dataset.era = era;
    mapEl.dataset.features = String(state.layers.size);
    const b = state.geo.getBounds();
    if (b.isValid()) map.fitBounds(b, { padding: [8, 8] });
    status('map.hint');
    if (state.selected) highlightFor(state.selected, state.lastPath, true);
  }

  // The polygon to light up for a unit: its own, else its nearest ancestor's (2024 wards).
  function highlightFor(code, path, fit) {
    if (highlight(code, fit)) return;
    if (!path) return;
    for (let i = path.length - 1; i >= 0; i--) if (highlight(path[i].code, fit)) return;
  }

  async function locate(latlng) {
    if (state.pointMarker) state.pointMarker.remove();
    state.pointMarker = L.circleMarker(latlng, {
      radius: 6,
      color: '#111',
      weight: 2,
      fillColor: '#ffd43b',
      fillOpacity: 1,
      interactive: false,
    }).addTo(map);
    status('map.locating');
    const era = state.era;
    try {
      const u = await api(`/api/v1/units/locate${qs({ lat: latlng.lat.toFixed(6), lon: latlng.lng.toFixed(6), era })}`);
      if (!state.alive || era !== state.era) return;
      status('map.found', { name: u.name });
      select(u.code, { fit: false, unit: u });
    } catch (e) {
      if (!state.alive) return;
      if (e instanceof ApiError && e.status === 404) status('map.outside');
      else status(e.code === 'network' ? 'error.network' : 'error.generic', { code: e.code });
    }
  }

  map.on('click', (ev) => locate(ev.latlng));

  myLocation.addEventListener('click', () => {
    if (!navigator.geolocation) {
      status('map.geoUnavailable');
      return;
    }
    status('map.locating');
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const ll = L.latLng(pos.coords.latitude, pos.coords.longitude);
        map.setView(ll, Math.max(map.getZoom(), 13));
        locate(ll);
      },
      () => status('map.geoUnavailable'),
      { timeout: 10000, maximumAge: 60000 },
    );
  });

  // --- detail -------------------------------------------------------------------------
  function renderDetailEmpty() {
    clear(detail);
    detail.dataset.code = '';
    detail.append(
      h('h2', { id: 'unit-detail-heading', i18n: 'detail.title' }),
      h('p', { class: 'muted', i18n: 'detail.empty' }),
    );
  }

  function row(labelKey, value, id) {
    return [h('dt', { i18n: labelKey }), h('dd', id ? { id } : {}, value)];
  }

  function unitButton(u, cls) {
    return h(
      'button',
      { type: 'button', class: `linklike ${cls || ''}`, dataset: { code: u.code }, onclick: () => select(u.code) },
      u.name,
    );
  }

  function renderDetail(u, path) {
    clear(detail);
    detail.dataset.code = u.code;
    const childrenValue = h('span', {}, String(u.children_count ?? 0));
    const parts = [
      h('h2', { id: 'unit-detail-heading', class: 'visually-hidden', i18n: 'detail.title' }),
      h('p', { class: 'eyebrow' }, levelNode(u.level)),
      h('h3', { id: 'unit-detail-name', class: 'unit-name' }, u.name),
      h(
        'dl',
        { class: 'facts' },
        row('detail.code', h('code', { id: 'unit-detail-code' }, u.code)),
        row('detail.type', typeNode(u.type)),
        row('detail.level', levelNode(u.level)),
        row('detail.parent', u.parent ? unitButton(u.parent) : h('span', { i18n: 'common.none' })),
        row('detail.children', childrenValue),
        row('detail.boundary', h('span', { i18n: u.has_boundary ? 'detail.boundaryYes' : 'detail.boundaryNo' })),
      ),
    ];
    if (path && path.length) {
      parts.push(
        h('h4', { class: 'subhead', i18n: 'detail.path' }),
        h(
          'ol',
          { id: 'unit-detail-path', class: 'crumbs' },
          path.map((p, i) =>
            h('li', {}, i === path.length - 1 ? h('span', { 'aria-current': 'true' }, p.name) : unitButton(p)),
          ),
        ),
      );
    }
    const actions = h('div', { class: 'actions' });
    if (u.children_count > 0) {
      actions.append(
        h('button', {
          type: 'button',
          class: 'btn btn-small',
          id: 'unit-detail-children',
          i18n: 'detail.showChildren',
          onclick: () => browse(u, path),
        }),
      );
    }
    actions.append(
      h('button', { type: 'button', class: 'btn btn-small btn-quiet', id: 'unit-detail-clear', i18n: 'detail.close', onclick: () => deselect() }),
    );
    parts.push(actions);
    detail.append(...parts);
  }

  function deselect() {
    state.selected = null;
    state.lastPath = null;
    if (state.detailCtl) state.detailCtl.abort();
    highlight(null);
    markListSelection();
    renderDetailEmpty();
  }

  /** Selects a unit: highlights its polygon, fits the map, shows its details and path. */
  async function select(code, opts = {}) {
    const fit = opts.fit !== false;
    if (!opts.unit && state.geo) status('map.hint');
    state.selected = code;
    state.lastPath = null;
    markListSelection();
    const had = highlight(code, fit);
    if (state.detailCtl) state.detailCtl.abort();
    const ctl = new AbortController();
    state.detailCtl = ctl;
    detail.setAttribute('aria-busy', 'true');
    const era = state.era;
    try {
      const [u, p] = await Promise.all([
        opts.unit && opts.unit.parent !== undefined
          ? Promise.resolve(opts.unit)
          : api(`/api/v1/units/${encodeURIComponent(code)}${qs({ era })}`, { signal: ctl.signal }),
        api(`/api/v1/units/${encodeURIComponent(code)}/path${qs({ era })}`, { signal: ctl.signal }),
      ]);
      if (ctl.signal.aborted || !state.alive || state.selected !== code) return;
      const path = (p && p.items) || [];
      state.lastPath = path;
      renderDetail(u, path);
      if (!had) highlightFor(code, path, fit);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      if (!state.alive || state.selected !== code) return;
      clear(detail);
      detail.dataset.code = '';
      detail.append(
        h('h2', { id: 'unit-detail-heading', i18n: 'detail.title' }),
        h('p', { class: 'form-error', role: 'alert', i18n: e.status === 404 ? 'error.not_found' : 'error.generic', i18nArgs: { code: e.code } }),
      );
    } finally {
      if (state.detailCtl === ctl) detail.removeAttribute('aria-busy');
    }
  }

  // --- search -------------------------------------------------------------------------
  function openResults(open) {
    resultsList.hidden = !open;
    searchInput.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (!open) {
      searchInput.removeAttribute('aria-activedescendant');
      state.active = -1;
    }
  }

  function setActive(i) {
    const items = resultsList.querySelectorAll('.search-result');
    if (!items.length) return;
    if (i < 0) i = items.length - 1;
    if (i >= items.length) i = 0;
    state.active = i;
    items.forEach((li, j) => {
      li.setAttribute('aria-selected', j === i ? 'true' : 'false');
      li.classList.toggle('active', j === i);
    });
    searchInput.setAttribute('aria-activedescendant', items[i].id);
    items[i].scrollIntoView({ block: 'nearest' });
  }

  function choose(i) {
    const item = state.results[i];
    if (!item) return;
    searchInput.value = item.name;
    openResults(false);
    setText(searchStatus, null);
    select(item.code);
  }

  function renderResults(data) {
    clear(resultsList);
    state.results = data.items || [];
    state.active = -1;
    state.results.forEach((u, i) => {
      const meta = h('span', { class: 'result-meta' }, typeNode(u.type));
      if (u.parent) meta.append(' · ', u.parent.name);
      resultsList.append(
        h(
          'li',
          {
            id: `search-result-${i}`,
            class: 'search-result',
            role: 'option',
            'aria-selected': 'false',
            dataset: { code: u.code, testid: 'search-result' },
            onmousedown: (ev) => ev.preventDefault(),
            onclick: () => choose(i),
          },
          h('span', { class: 'result-name' }, u.name),
          meta,
        ),
      );
    });
    if (state.results.length) {
      setText(searchStatus, 'search.count', { total: data.total });
      openResults(true);
    } else {
      setText(searchStatus, 'search.none');
      openResults(false);
    }
  }

  async function runSearch() {
    const q = searchInput.value.trim();
    if (state.searchCtl) state.searchCtl.abort();
    if (!q) {
      clear(resultsList);
      state.results = [];
      openResults(false);
      setText(searchStatus, null);
      return;
    }
    const ctl = new AbortController();
    state.searchCtl = ctl;
    setText(searchStatus, 'search.searching');
    try {
      const data = await api(`/api/v1/units${qs({ q, era: state.era, limit: SEARCH_LIMIT })}`, { signal: ctl.signal });
      if (ctl.signal.aborted || !state.alive) return;
      renderResults(data);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      if (!state.alive) return;
      if (e.status === 400 || e.status === 422) renderResults({ items: [], total: 0 });
      else {
        setText(searchStatus, e.code === 'network' ? 'error.network' : 'error.generic', { code: e.code });
        openResults(false);
      }
    }
  }
  const searchSoon = debounce(runSearch, 200);

  searchInput.addEventListener('input', searchSoon);
  searchInput.addEventListener('keydown', (ev) => {
    const open = !resultsList.hidden && state.results.length > 0;
    if (ev.key === 'ArrowDown') {
      ev.preventDefault();
      if (!open && state.results.length) openResults(true);
      setActive(state.active + 1);
    } else if (ev.key === 'ArrowUp') {
      ev.preventDefault();
      if (!open && state.results.length) openResults(true);
      setActive(state.active - 1);
    } else if (ev.key === 'Enter') {
      ev.preventDefault();
      if (open) choose(state.active >= 0 ? state.active : 0);
      else {
        searchSoon.cancel();
        runSearch();
      }
    } else if (ev.key === 'Escape') {
      if (open) {
        ev.preventDefault();
        openResults(false);
      }
    }
  });
  searchInput.addEventListener('focus', () => {
    if (state.results.length) openResults(true);
  });
  searchInput.addEventListener('blur', () => setTimeout(() => openResults(false), 100));

  // --- tree list ----------------------------------------------------------------------
  function markListSelection() {
    for (const b of list.querySelectorAll('.unit-item'))
      b.setAttribute('aria-pressed', b.dataset.code === state.selected ? 'true' : 'false');
  }

  function renderCrumbs() {
    clear(crumbs);
    crumbs.append(
      h(
        'li',
        {},
        state.browse.crumbs.length
          ? h('button', { type: 'button', class: 'linklike', i18n: 'list.all', onclick: () => browse(null) })
          : h('span', { 'aria-current': 'true', i18n: 'list.all' }),
      ),
    );
    state.browse.crumbs.forEach((c, i) => {
      const last = i === state.browse.crumbs.length - 1;
      crumbs.append(
        h(
          'li',
          {},
          last
            ? h('span', { 'aria-current': 'true' }, c.name)
            : h('button', { type: 'button', class: 'linklike', onclick: () => browse(c, state.browse.crumbs.slice(0, i + 1)) }, c.name),
        ),
      );
    });
  }

  function renderListItems(items, append) {
    if (!append) clear(list);
    for (const u of items) {
      const meta = h('span', { class: 'item-meta' }, typeNode(u.type));
      if (u.children_count > 0) meta.append(' · ', h('span', { i18n: 'list.children', i18nArgs: { n: u.children_count } }));
      list.append(
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'unit-item',
              'aria-pressed': u.code === state.selected ? 'true' : 'false',
              dataset: { code: u.code, level: u.level },
              onclick: () => {
                select(u.code);
                if (u.children_count > 0) browse(u, [...state.browse.crumbs, { code: u.code, name: u.name }]);
              },
            },
            h('span', { class: 'item-name' }, u.name),
            meta,
          ),
        ),
      );
    }
    if (!list.children.length) list.append(h('li', { class: 'muted', i18n: 'list.empty' }));
  }

  function renderMore() {
    const shown = state.browse.items.length;
    const total = state.browse.total;
    more.hidden = shown >= total;
    setText(more, 'list.more', { shown, total });
  }

  async function fetchPage(parent, offset) {
    return api(`/api/v1/units${qs({ era: state.era, parent: parent ? parent.code : undefined, limit: PAGE, offset })}`);
  }

  /**
   * Shows the children of unit (or the roots when unit is null). crumbPath: the crumbs down
   * to unit; when absent it is taken from a path (the detail panel's) or the unit alone.
   */
  async function browse(unit, crumbPath) {
    const era = state.era;
    let crumbsNext = [];
    if (unit) {
      if (Array.isArray(crumbPath) && crumbPath.length && crumbPath[crumbPath.length - 1].code === unit.code)
        crumbsNext = crumbPath.map((c) => ({ code: c.code, name: c.name }));
      else crumbsNext = [{ code: unit.code, name: unit.name }];
    }
    list.setAttribute('aria-busy', 'true');
    try {
      let data = await fetchPage(unit, 0);
      if (!state.alive || era !== state.era) return;
      // One root (Hà Nội): open it straight away.
      if (!unit && data.items.length === 1 && data.total === 1 && data.items[0].children_count > 0) {
        const only = data.items[0];
        crumbsNext = [{ code: only.code, name: only.name }];
        unit = only;
        data = await fetchPage(only, 0);
        if (!state.alive || era !== state.era) return;
      }
      state.browse = { parent: unit, crumbs: crumbsNext, items: data.items, total: data.total };
      renderCrumbs();
      renderListItems(data.items, false);
      renderMore();
    } catch (e) {
      if (!state.alive) return;
      clear(list);
      list.append(h('li', { class: 'form-error', i18n: e.code === 'network' ? 'error.network' : 'error.generic', i18nArgs: { code: e.code } }));
    } finally {
      list.removeAttribute('aria-busy');
    }
  }

  more.addEventListener('click', async () => {
    const era = state.era;
    const b = state.browse;
    more.disabled = true;
    try {
      const data = await fetchPage(b.parent, b.items.length);
      if (!state.alive || era !== state.era || b !== state.browse) return;
      b.items = b.items.concat(data.items);
      b.total = data.total;
      renderListItems(data.items, true);
      renderMore();
    } catch {
      /* the button stays for another try */
    } finally {
      more.disabled = false;
    }
  });

  // --- eras ---------------------------------------------------------------------------
  function renderEras() {
    clear(eraSelect);
    for (const e of state.eras) {
      const [key, args] = eraLabelKey(e);
      eraSelect.append(h('option', { value: e.name, i18n: key, i18nArgs: args }));
    }
    if (state.era) eraSelect.value = state.era;
  }

  async function switchEra(era) {
    state.era = era;
    eraSelect.value = era;
    view.dataset.era = era;
    deselect();
    if (state.pointMarker) {
      state.pointMarker.remove();
      state.pointMarker = null;
    }
    browse(null);
    if (searchInput.value.trim()) runSearch();
    await loadBoundaries(era);
  }

  eraSelect.addEventListener('change', () => switchEra(eraSelect.value));

  async function start() {
    renderDetailEmpty();
    let active = '2025';
    try {
      const data = await api('/api/v1/eras');
      state.eras = (data && data.items) || [];
      active = (data && data.active) || active;
    } catch {
      state.eras = [{ name: '2025', description: '', has_boundaries: true }];
    }
    if (!state.alive) return;
    if (!state.eras.some((e) => e.name === active) && state.eras.length) active = state.eras[0].name;
    renderEras();
    await switchEra(active);
  }

  const offLang = onLangChange(() => {
    // Leaflet keeps the attribution as HTML; rebuild it in the new language.
    map.attributionControl.removeAttribution(attribution.outerHTML);
    setText(attribution, 'map.attribution');
    map.attributionControl.addAttribution(attribution.outerHTML);
  });

  start();

  return {
    focus: () => searchInput.focus(),
    unmount() {
      state.alive = false;
      offLang();
      searchSoon.cancel();
      if (state.searchCtl) state.searchCtl.abort();
      if (state.detailCtl) state.detailCtl.abort();
      resizer.disconnect();
      // Stop a running pan/zoom first: removing the map mid-animation makes Leaflet's
      // pending frame touch removed panes (_leaflet_pos errors).
      map.stop();
      map.off();
      map.remove();
      view.remove();
    },
  };
}

/** The view description the shell plugs in. */
export const unitsView = {
  id: 'units',
  titleKey: 'nav.units',
  mount: mountUnits,
};
