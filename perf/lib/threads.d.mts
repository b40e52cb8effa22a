/** Types of threads.mjs, for the tests (the harness itself is plain JavaScript). */
export interface ThreadReading {
  /** CPU seconds of the whole process, threads that ended included. */
  total: number;
  threads: Map<number, { name: string; cpuSeconds: number }>;
}

export declare function threadGroup(tid: number, name: string, pid: number): string;
export declare function readThreads(pid: number): ThreadReading | null;

export declare class ThreadCpu {
  constructor(pid: number, read?: (pid: number) => ThreadReading | null);
  sample(): Record<string, number> | null;
}

export declare function describeThreadCores(cores: Record<string, number>): string;
export declare const CLK_TCK: number;
export declare function statCpuSeconds(line: string): number;
export declare function threadGroupLabel(group: string): string;
export declare function orderThreadGroups(groups: Iterable<string>): string[];
