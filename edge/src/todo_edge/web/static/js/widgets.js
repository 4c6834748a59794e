// Renders ChatKit widget JSON (the `widget` of a `widget` thread item: Card, Row, Col, Text,
// Title, Caption, Badge, Button, Divider, Spacer, Box, ListView, Markdown…) as plain DOM for the
// fallback chat client. Unknown components render their children, so a newer server degrades
// gracefully. Buttons call `onAction(action, button)` with the component's `onClickAction`.

import { h } from "./dom.js";

const GAP_UNIT_PX = 4;

function spacing(value) {
  if (typeof value === "number") return `${value * GAP_UNIT_PX}px`;
  if (typeof value === "string" && /^\d+(\.\d+)?(px|rem|em|%)$/.test(value)) return value;
  return null;
}

function applyBox(el, node) {
  const gap = spacing(node.gap);
  if (gap) el.style.gap = gap;
  const padding = spacing(node.padding);
  if (padding) el.style.padding = padding;
  if (node.align) el.style.alignItems = { start: "flex-start", end: "flex-end" }[node.align] || node.align;
  if (node.justify) {
    el.style.justifyContent =
      { start: "flex-start", end: "flex-end", between: "space-between", around: "space-around" }[node.justify] ||
      node.justify;
  }
  if (node.wrap) el.style.flexWrap = node.wrap === true ? "wrap" : node.wrap;
  if (typeof node.flex === "number") {
    // Grow like `flex: n`, but start from the content's width, so a narrow row wraps its
    // buttons onto the next line instead of squeezing the text under them.
    el.style.flexGrow = String(node.flex);
    el.style.flexBasis = "auto";
  } else if (typeof node.flex === "string" && /^[\d.]+( [\d.]+)?( \w+)?$/.test(node.flex)) {
    el.style.flex = node.flex;
  }
}

function textClasses(node, base) {
  const classes = [base];
  if (node.size) classes.push(`size-${node.size}`);
  if (node.weight) classes.push(`weight-${node.weight}`);
  if (typeof node.color === "string" && /^[a-z-]+$/.test(node.color)) classes.push(`color-${node.color}`);
  if (node.lineThrough) classes.push("line-through");
  if (node.italic) classes.push("italic");
  return classes.join(" ");
}

/** A component's children as a list (ChatKit allows one child without a list). */
function childList(node) {
  return Array.isArray(node.children) ? node.children : node.children ? [node.children] : [];
}

function children(node, ctx) {
  return childList(node).map((child) => render(child, ctx));
}

/** A layout component: a div of its children, with its gap, padding, alignment and flex. */
function box(node, ctx, className) {
  const el = h("div", { class: className }, children(node, ctx));
  applyBox(el, node);
  return el;
}

/** One component (and its subtree) → a DOM node. */
export function render(node, ctx) {
  if (!node || typeof node !== "object") return null;
  const idAttr = typeof node.id === "string" ? node.id : null;
  let el;
  switch (node.type) {
    case "Card":
      el = box(node, ctx, `w-card${node.size ? ` w-card-${node.size}` : ""}`);
      break;
    case "Row":
    case "ListViewItem":
      el = box(node, ctx, "w-row");
      break;
    case "Col":
    case "Box":
    case "Form":
      el = box(node, ctx, node.type === "Col" ? "w-col" : "w-box");
      break;
    case "ListView":
      el = h("ul", { class: "w-list" }, children(node, ctx).map((child) => h("li", {}, child)));
      break;
    case "Title":
      el = h("div", { class: textClasses(node, "w-title"), role: "heading", "aria-level": "3" }, node.value ?? "");
      break;
    case "Caption":
      el = h("div", { class: textClasses(node, "w-caption") }, node.value ?? "");
      break;
    case "Text":
    case "Label":
      el = h(node.lineThrough ? "s" : "span", { class: textClasses(node, "w-text") }, node.value ?? "");
      break;
    case "Markdown":
      el = h("div", { class: "w-markdown" }, node.value ?? "");
      break;
    case "Badge":
      el = h("span", { class: `badge ${badgeClass(node.color)}` }, node.label ?? "");
      break;
    case "Divider":
      el = h("hr", { class: "w-divider" });
      break;
    case "Spacer":
      el = h("div", { class: "w-spacer", "aria-hidden": "true" });
      break;
    case "Button":
      el = button(node, ctx);
      break;
    case "Icon":
    case "Image":
      // Icons are decoration; images would need other origins (the page's CSP allows none).
      return null;
    default:
      el = h("div", { class: "w-box" }, children(node, ctx));
  }
  if (idAttr && el) el.dataset.componentId = idAttr;
  return el;
}

function badgeClass(color) {
  return (
    {
      danger: "danger",
      warning: "warning",
      success: "success",
      info: "info",
      discovery: "tag",
      secondary: "muted",
    }[color] || "muted"
  );
}

function button(node, ctx) {
  const variant = node.variant || "solid";
  const color = node.color || "primary";
  const label = node.label ?? "";
  // A row's buttons all say "Complete"/"Delete": name the row's title for screen readers.
  const context = ctx.rowTitle ? ` “${ctx.rowTitle}”` : "";
  const el = h(
    "button",
    {
      type: "button",
      class: `button w-button variant-${variant} color-${color}`,
      "aria-label": context ? `${label}${context}` : null,
    },
    label,
  );
  const action = node.onClickAction;
  if (action && typeof action.type === "string" && ctx.onAction) {
    el.addEventListener("click", () => ctx.onAction(action, el));
  } else {
    el.disabled = true;
  }
  return el;
}

/** The title text of a task row (`Row` whose first text names the task), for button labels. */
function rowTitleOf(node) {
  const stack = [node];
  while (stack.length) {
    const current = stack.shift();
    if (!current || typeof current !== "object") continue;
    if ((current.type === "Text" || current.type === "Title") && typeof current.value === "string") {
      return current.value;
    }
    stack.push(...childList(current));
  }
  return null;
}

/** Renders a widget root. Rows get their own context so their buttons name the task. */
export function renderWidget(widget, onAction) {
  const ctx = { onAction, rowTitle: null };
  const renderRow = (node) => {
    if (node && node.type === "Row" && typeof node.key === "string") {
      return render(node, { ...ctx, rowTitle: rowTitleOf(node) });
    }
    return null;
  };
  // Walk the root's direct children specially (task rows), everything else generically.
  if (widget && Array.isArray(widget.children)) {
    const root = render({ ...widget, children: [] }, ctx);
    for (const child of widget.children) {
      root.append(renderRow(child) || render(child, ctx) || document.createTextNode(""));
    }
    return root;
  }
  return render(widget, ctx);
}
