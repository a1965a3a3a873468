// A strict reader of Linphone's remote-provisioning XML (lpconfig.xsd): no XML parser is among the
// project's packages, so this one accepts exactly the document shape Linphone's loader reads — an
// XML declaration, one <config> in the lpconfig namespace, <section name> elements holding
// <entry name> elements with text — and throws on anything else (an unclosed or misnested tag, an
// unknown element, a stray character, a bad entity).

export type LpConfig = Map<string, Map<string, string>>;

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function unescape(text: string): string {
  return text.replace(/&([a-z]+);|&/g, (whole, name: string | undefined) => {
    const v = name === undefined ? undefined : ENTITIES[name];
    if (v === undefined) throw new Error(`bad entity near "${whole}"`);
    return v;
  });
}

function attributes(text: string): Map<string, string> {
  const attrs = new Map<string, string>();
  const re = /\s+([A-Za-z_:][\w:.-]*)="([^"<]*)"/gy;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (attrs.has(m[1] ?? "")) throw new Error(`attribute ${m[1]} twice`);
    attrs.set(m[1] ?? "", unescape(m[2] ?? ""));
    at = re.lastIndex;
  }
  if (text.slice(at).trim() !== "") throw new Error(`bad attributes: "${text}"`);
  return attrs;
}

export function parseLpConfig(xml: string): LpConfig {
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*/.exec(xml);
  if (!decl) throw new Error("no XML declaration");
  const body = xml.slice(decl[0].length);
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*(\/?)>/g;
  const stack: string[] = [];
  const config: LpConfig = new Map();
  let section: Map<string, string> | undefined;
  let entry: string | undefined;
  let last = 0;
  let sawConfig = false;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const between = body.slice(last, m.index);
    if (entry !== undefined && stack.at(-1) === "entry") section?.set(entry, unescape(between));
    else if (between.trim() !== "") throw new Error(`text outside an entry: "${between.trim()}"`);
    last = tag.lastIndex;
    const [, closing, name = "", attrText = "", selfClosing] = m;
    if (closing) {
      if (stack.pop() !== name) throw new Error(`</${name}> closes nothing open`);
      if (name === "entry") entry = undefined;
      continue;
    }
    const attrs = attributes(attrText);
    const parent = stack.at(-1);
    if (name === "config") {
      if (parent !== undefined || sawConfig) throw new Error("<config> must be the one root");
      if (attrs.get("xmlns") !== "http://www.linphone.org/xsds/lpconfig.xsd") throw new Error("not lpconfig");
      sawConfig = true;
    } else if (name === "section") {
      if (parent !== "config") throw new Error("<section> outside <config>");
      const sName = attrs.get("name");
      if (!sName || config.has(sName)) throw new Error(`section name missing or repeated: ${sName}`);
      section = new Map();
      config.set(sName, section);
    } else if (name === "entry") {
      if (parent !== "section") throw new Error("<entry> outside <section>");
      entry = attrs.get("name");
      if (!entry || section?.has(entry)) throw new Error(`entry name missing or repeated: ${entry}`);
      if (selfClosing) section?.set(entry, "");
    } else throw new Error(`unknown element <${name}>`);
    if (!selfClosing) stack.push(name);
  }
  if (body.slice(last).trim() !== "") throw new Error("text after </config>");
  if (stack.length > 0 || !sawConfig) throw new Error(`unclosed: ${stack.join(" > ")}`);
  return config;
}
