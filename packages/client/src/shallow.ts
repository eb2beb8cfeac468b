/**
 * Shallow equality for selector results (React hooks re-render only when the selected value
 * changes): equal primitives (Object.is), arrays of the same length with shallow-equal items, or
 * plain objects with the same keys and shallow-equal values, one level deeper. So
 * `others.map((o) => o.presence.cell)` or `{ name, color }` selections are stable across updates
 * that do not change them.
 */
export function shallow(a: unknown, b: unknown): boolean {
  return eq(a, b, 2);
}

function eq(a: unknown, b: unknown, depth: number): boolean {
  if (Object.is(a, b)) return true;
  if (depth === 0 || typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!eq(a[i], b[i], depth - 1)) return false;
    return true;
  }
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !eq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], depth - 1)) return false;
  }
  return true;
}
