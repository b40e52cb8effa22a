// Number formats of the perf report: 'n/a' for a figure that was not measured.
export const n0 = (x) => (x == null || !Number.isFinite(x) ? 'n/a' : Math.round(x).toLocaleString('en-US'));
export const n1 = (x) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(1));
export const n2 = (x) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(2));
