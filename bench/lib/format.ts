/** Number formatting, text tables and file-name time stamps for the benchmarks' output. */

/** `n` with thousands separators and `digits` decimals; "n/a" for NaN and infinities. */
export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a";

/** Bytes as MiB with one decimal. */
export const mib = (b: number): string => fmt(b / 2 ** 20, 1);

/** A text table: first column left-aligned, the others right-aligned. */
export function table(rows: [string, ...string[]][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

/** ISO 8601 basic-time stamp usable in a file name: 2026-08-25T101112Z. */
export function isoStamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "");
}
