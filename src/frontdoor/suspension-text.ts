// What the front door says of a suspended tenant, and the escaping that makes an operator's reason
// (one line of printable text, src/suspension/reason.ts) safe wherever it goes: inside a
// single-quoted nginx string (where ' \ and $ are special), in HTML, in a JSON string, and in an
// HTTP header (the gateway's X-Tenantctl-Suspended). Everything but a small set of plain characters
// is written as an escape, so no reason can end a string, start a variable or add a tag. Imported
// by the gateway too (apps/gateway/server.ts, bundled): one implementation.

const plain = /[A-Za-z0-9 .,:;!?()/_@#%+=*-]/;

/** The reason as HTML text: every other character as a numeric entity (&#36; for $, &#39; for '). */
export function htmlText(text: string): string {
  return [...text].map((ch) => (plain.test(ch) ? ch : `&#${ch.codePointAt(0)};`)).join('');
}

/** The reason as the inside of a JSON string, in ASCII: every other character as \\uXXXX (surrogate pairs for the rest). */
export function jsonText(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    out += plain.test(ch) ? ch : `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`;
  }
  return out;
}

/**
 * The page every visitor gets (503): the tenant's name and the operator's public message
 * (suspend --public-message), or a generic text; never the internal reason, nothing from its app.
 * No ' and no newline: it goes into a single-quoted nginx string.
 */
export function suspendedPage(id: string, publicMessage: string | null): string {
  const said = publicMessage ? `<p>${htmlText(publicMessage)}</p>` : '<p>Please contact the operator of this service.</p>';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Suspended</title></head>`
    + `<body><h1>This service is suspended</h1><p>${htmlText(id)} is suspended for now; its data is kept.</p>${said}</body></html>`;
}

/** The JSON error an API call gets (401), the reason given as escaped JSON text (jsonText). */
export function suspendedApiError(escapedReason: string): string {
  return `{"error":"suspended","reason":"${escapedReason}","message":"this tenant is suspended: ${escapedReason}; its API answers again once it is resumed"}`;
}
