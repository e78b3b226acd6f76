// tenantctl validates with zod's "mini" build, not the classic one: the same library and rules,
// but it loads in ~10 ms instead of ~80 ms, and every command pays that on start-up. Modules
// import it as `import * as z from 'zod/mini'` (members used by name, so the bundler keeps only
// those) next to `import './zod.js'`, which switches on English messages ("Too big: expected
// number to be <=65535") instead of the mini build's bare "Invalid input".
import { config } from 'zod/mini';
// Only the English locale: z.locales would pull in every language zod ships.
import en from 'zod/v4/locales/en.js';

config(en());
