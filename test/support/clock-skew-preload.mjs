// The F-T1/F-T2 injector (test/support/clock-skew.ts): a preload for a server node
// (`NODE_OPTIONS=--import <this file>`) that shifts the process's wall clock, like libfaketime does
// for a whole process, with no hook in the product. `Date.now()` and `new Date()` read the real
// clock plus an offset; monotonic time (timers, performance.now, process.hrtime) is untouched, as
// it is on a machine whose wall clock is off or stepped by NTP.
//
// FAULT_CLOCK_OFFSET_MS: the offset at start (ms, may be negative).
// FAULT_CLOCK_FILE: on SIGUSR2 the offset is read again from this file (a step of the clock at run
// time); the new offset is printed on stderr as "fault clock offset <ms>".
import { readFileSync } from "node:fs";

const RealDate = Date;
let offset = Number(process.env.FAULT_CLOCK_OFFSET_MS ?? 0);

class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...args);
  }
  static now() {
    return RealDate.now() + offset;
  }
}
globalThis.Date = SkewedDate;

const file = process.env.FAULT_CLOCK_FILE;
if (file) {
  process.on("SIGUSR2", () => {
    offset = Number(readFileSync(file, "utf8").trim());
    process.stderr.write(`fault clock offset ${offset}\n`);
  });
}
process.stderr.write(`fault clock offset ${offset}\n`);
