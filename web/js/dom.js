// Small DOM helpers: no framework, no innerHTML with data.
import { t } from '../i18n.js';

/**
 * h('button', {class: 'x', onclick: fn, dataset: {code: '1'}, i18n: 'key', i18nArgs: {...}}, child...)
 * Attributes: class, dataset, on* handlers, i18n (text key), i18nArgs, hidden and other
 * boolean properties; anything else becomes an attribute. Children: nodes or strings.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'i18n') el.dataset.i18n = v;
    else if (k === 'i18nArgs') el.dataset.i18nArgs = JSON.stringify(v);
    else if (k === 'i18nPlaceholder') el.dataset.i18nPlaceholder = v;
    else if (k === 'i18nAriaLabel') el.dataset.i18nAriaLabel = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  if (el.dataset.i18n && children.length === 0) {
    el.textContent = t(el.dataset.i18n, attrs.i18nArgs);
  }
  if (el.dataset.i18nPlaceholder) el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
  if (el.dataset.i18nAriaLabel) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel, attrs.i18nArgs));
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Removes every child of el. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** Returns a function that calls fn(...args) once no call came for ms milliseconds. */
export function debounce(fn, ms) {
  let timer = 0;
  const d = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  d.cancel = () => clearTimeout(timer);
  return d;
}
