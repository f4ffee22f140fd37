/** The element with `data-testid="<id>"`; throws when the page lacks it. */
export function byTestId<T extends HTMLElement = HTMLElement>(
  id: string,
  root: ParentNode = document,
): T {
  const element = root.querySelector<T>(`[data-testid="${id}"]`);
  if (element === null) throw new Error(`Missing element [data-testid="${id}"]`);
  return element;
}

/** Creates an element with attributes and children in one call. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

/** Sets text only when it changed, so unchanged cells do not repaint. */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/** Shows `element` with `text`, or hides it when `text` is undefined. */
export function banner(element: HTMLElement, text: string | undefined): void {
  if (text === undefined) {
    element.hidden = true;
    return;
  }
  setText(element, text);
  element.hidden = false;
}
