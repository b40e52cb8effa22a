// Copies the non-TypeScript assets the runtime loads at run time (Lua scripts, SQL, the
// dashboard's static files) from src/ into dist/ after tsc has compiled the rest.
import { cpSync, existsSync } from 'node:fs';

for (const dir of ['runtime/lua', 'sinks/sql', 'ops/static', 'contracts/schemas']) {
  const from = new URL(`../src/${dir}`, import.meta.url);
  if (existsSync(from)) cpSync(from, new URL(`../dist/${dir}`, import.meta.url), { recursive: true });
}
