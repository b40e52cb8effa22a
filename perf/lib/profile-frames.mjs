// Names for the call frames of V8 profiles (CPU and sampling heap), shared by
// perf/profile-summary.mjs and perf/hot-path-cost.mjs --alloc.

/** Where a frame's code lives: a package, a Shoal source file, or a V8 pseudo-frame. */
export function sourceOf(callFrame) {
  const url = callFrame.url;
  if (url === '') return callFrame.functionName.startsWith('(') ? callFrame.functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const own = /\/dist\/(.+)\.js$/.exec(url);
  if (own) return own[1];
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
}

/** `function source:line`, the name a frame gets in the summaries. */
export function frameName(callFrame) {
  return `${callFrame.functionName || '(anonymous)'} ${sourceOf(callFrame)}:${callFrame.lineNumber + 1}`;
}
