// Types of bench/bare-proxy.mjs, for test/unit/bench-bare-proxy.test.ts.
export declare const keptDirectives: string[];
export declare function bareProxyConf(input: { doorConf: string; serverConf: string; tenant: string; port: number }): { conf: string; appAddress: string };
