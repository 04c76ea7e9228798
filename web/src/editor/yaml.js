// A YAML writer for spec documents (JSON values): block style, keys in their order, a string
// plain only where YAML reads it back as that same string, a multi-line string as a literal
// block where that is exact, JSON's double quotes otherwise (JSON's escapes are YAML's). What it
// writes parses back to the value it was given (web/e2e/units.test.mjs; the server reads it).

const PLAIN = /^[A-Za-z_/][\w ./-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i;
// Characters YAML wants escaped (C0 controls but tab and newline, DEL, C1, the BOM).
const ESCAPE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufeff]/;

/** A string as a plain or double-quoted scalar (single line). */
export function quote(s) {
  if (PLAIN.test(s) && !s.endsWith(' ') && !RESERVED.test(s)) return s;
  return JSON.stringify(s).replace(/[\u007f-\u009f\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether `s` can be a literal block (`|`) that reads back exactly. */
function literal(s) {
  return s.includes('\n') && !ESCAPE.test(s) && !s.includes('\r') && !/^[ \t\n]/.test(s);
}

function inline(v, n) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number') return JSON.stringify(v);
  if (Array.isArray(v)) return '[]';
  if (typeof v === 'object') return '{}';
  if (!literal(v)) return quote(v);
  const trailing = v.match(/\n*$/)[0].length;
  const chomp = trailing === 0 ? '|-' : trailing === 1 ? '|' : '|+';
  const body = (trailing ? v.slice(0, -1) : v).split('\n');
  return [chomp, ...body.map((l) => (l ? ' '.repeat(n) + l : ''))].join('\n');
}

const nested = (v) => v !== null && typeof v === 'object' && Object.keys(v).length > 0;

function block(v, n) {
  const pad = ' '.repeat(n);
  const lines = [];
  if (Array.isArray(v)) {
    for (const item of v) {
      if (nested(item)) {
        const inner = block(item, n + 2);
        lines.push(`${pad}- ${inner[0].trimStart()}`, ...inner.slice(1));
      } else lines.push(`${pad}- ${inline(item, n + 2)}`);
    }
    return lines;
  }
  for (const [k, val] of Object.entries(v)) {
    if (nested(val)) lines.push(`${pad}${quote(k)}:`, ...block(val, Array.isArray(val) ? n : n + 2));
    else lines.push(`${pad}${quote(k)}: ${inline(val, n + 2)}`);
  }
  return lines;
}

/** The document as YAML text. */
export function toYaml(doc) {
  if (!nested(doc)) return `${inline(doc, 0)}\n`;
  return `${block(doc, 0).join('\n')}\n`;
}
