/**
 * /proc readers shared by the benchmarks (Linux only): RSS, CPU time of a process or one of its
 * threads, the machine's busy time, and kernel socket memory (sockstat `TCP: mem`, meminfo `Slab`).
 * CPU figures are tick-sampled (USER_HZ), so windows of a few seconds are accurate to ~1%.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const getconf = (name: string, fallback: number): number => {
  try {
    return Number(execFileSync("getconf", [name]).toString().trim()) || fallback;
  } catch {
    return fallback;
  }
};

/** Page size in bytes. */
export const PAGE = getconf("PAGESIZE", 4096);
/** Clock ticks per second of /proc CPU counters. */
export const HZ = getconf("CLK_TCK", 100);

/** Resident set size (VmRSS) of a process in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** CPU seconds (user + system) of a process (all threads) or, with `tid`, of one thread. */
export function cpuSeconds(pid: number, tid?: number): number {
  const text = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / HZ;
}

/** Busy CPU seconds of the whole machine, and of them the time in interrupts (irq + softirq: loopback TCP delivery is largely softirq work). */
export function machineBusyS(): { busy: number; irq: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as number[];
  return { busy: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / HZ, irq: ((irq ?? 0) + (softirq ?? 0)) / HZ };
}

/** Kernel socket memory, machine-wide. */
export interface KernelMem {
  tcpInuse: number;
  tcpTimeWait: number;
  /** `TCP: mem` (pages) × page size: memory charged to TCP socket buffers, whole machine. */
  tcpMemBytes: number;
  /** Slab (kernel object caches, incl. sock structs, inodes, epoll items), whole machine. */
  slabBytes: number;
  /**
   * Active objects × object size of the slab caches every TCP socket uses (TCP, TCPv6,
   * sock_inode_cache, filp, eventpoll_epi, eventpoll_pwq), from /proc/slabinfo; NaN when it is not
   * readable. Much less noisy than `slabBytes` on a shared box (dentries, kmalloc of other jobs).
   */
  socketSlabBytes: number;
}

const SOCKET_CACHES = new Set(["TCP", "TCPv6", "sock_inode_cache", "filp", "eventpoll_epi", "eventpoll_pwq"]);

function socketSlab(): number {
  try {
    let sum = 0;
    for (const line of readFileSync("/proc/slabinfo", "utf8").split("\n")) {
      const f = line.split(/\s+/);
      if (SOCKET_CACHES.has(f[0]!)) sum += Number(f[1]) * Number(f[3]);
    }
    return sum;
  } catch {
    return NaN;
  }
}

export function kernelMem(): KernelMem {
  const ss = readFileSync("/proc/net/sockstat", "utf8");
  const tcp = /TCP: inuse (\d+) orphan \d+ tw (\d+) alloc \d+ mem (\d+)/.exec(ss);
  const mi = readFileSync("/proc/meminfo", "utf8");
  const slab = /Slab:\s+(\d+) kB/.exec(mi);
  return {
    tcpInuse: Number(tcp?.[1] ?? NaN),
    tcpTimeWait: Number(tcp?.[2] ?? NaN),
    tcpMemBytes: Number(tcp?.[3] ?? NaN) * PAGE,
    slabBytes: Number(slab?.[1] ?? NaN) * 1024,
    socketSlabBytes: socketSlab(),
  };
}
