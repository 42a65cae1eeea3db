/**
 * The first member name that appears twice in one object of `json`, or undefined. `JSON.parse`
 * keeps the last of two equal names, other parsers keep the first or refuse: a body with both
 * could read as one order here and as another in a proxy or a service downstream. So the API
 * refuses it. `json` must already be valid JSON (this scan trusts its syntax); names are compared
 * after their escapes are decoded, so `"sku"` and `"\u0073ku"` are the same name.
 */
export const duplicateMemberName = (json: string): string | undefined => {
  // One entry per open object (its names so far) or array (null).
  const open: (Set<string> | null)[] = [];
  for (let i = 0; i < json.length; i++) {
    const char = json[i];
    if (char === '{') open.push(new Set());
    else if (char === '[') open.push(null);
    else if (char === '}' || char === ']') open.pop();
    else if (char === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const names = open.at(-1);
      let next = end + 1;
      while (/\s/.test(json[next] ?? '')) next++;
      if (names && json[next] === ':') {
        const name = JSON.parse(json.slice(i, end + 1)) as string;
        if (names.has(name)) return name;
        names.add(name);
      }
      i = end;
    }
  }
  return undefined;
};
