// Ships the web console inside this package: packages/console/dist → dist/console (served at
// /console/ by the management listener). The console builds first (root workspaces order).
import { cpSync, existsSync } from 'node:fs';

const from = new URL('../../console/dist/', import.meta.url);
const to = new URL('../dist/console/', import.meta.url);
if (existsSync(from)) cpSync(from, to, { recursive: true });
else console.warn('modelgate: packages/console/dist is missing; /console/ will say the console is not built');
