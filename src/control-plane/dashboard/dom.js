// @ts-check
/* global document, Node */
// Small DOM helpers for the dashboard. Everything from the server is put in the page as text (textContent,
// attributes), never parsed as HTML: these helpers are the only way the page makes elements.

const SVG = 'http://www.w3.org/2000/svg';

/** @typedef {string | number | boolean | null | undefined} Attribute */
/** @typedef {Record<string, string | number | undefined>} Dataset */
/**
 * An element's attributes by name, with three that are not attributes: `text` (its text content), `dataset` (its
 * `data-*` attributes) and `class`. A value of undefined, null or false leaves the attribute out; true sets it empty.
 * @typedef {{ [name: string]: Attribute | Dataset }} Props
 */
/**
 * What an element may contain: nodes, and text for anything else; undefined, null and false are left out.
 * @typedef {Node | string | number | false | null | undefined} Child
 */

/**
 * An HTML element with `props` and `children`.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  append(node, children);
  return node;
}

/**
 * An SVG element with `props` and `children`.
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {SVGElementTagNameMap[K]}
 */
export function s(tag, props, ...children) {
  const node = document.createElementNS(SVG, tag);
  applyProps(node, props);
  append(node, children);
  return node;
}

/**
 * The page's element with this id.
 * @param {string} id
 * @returns {HTMLElement}
 * @throws Error when the page has none (index.html and the scripts disagree).
 */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no element #${id}`);
  return node;
}

/**
 * @param {HTMLElement | SVGElement} node
 * @param {Props | undefined} props
 */
function applyProps(node, props) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'object') {
      if (key !== 'dataset') throw new TypeError(`only dataset takes an object, not ${key}`);
      for (const [name, data] of Object.entries(value))
        if (data !== undefined) node.dataset[name] = String(data);
    } else if (key === 'class') node.setAttribute('class', String(value));
    else if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
}

/**
 * @param {Element} node
 * @param {(Child | Child[])[]} children
 */
function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}
